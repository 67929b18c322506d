"""The web app: FastAPI + Jinja2 pages (a small script rates in place through the JSON
API), a JSON API under /api, accounts and sessions. `papersift serve` hosts it beside the
scheduler."""
