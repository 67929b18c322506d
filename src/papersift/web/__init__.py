"""The web app: FastAPI + Jinja2 pages (htmx for in-place rating), a JSON API under /api,
accounts and sessions. `papersift serve` hosts it beside the scheduler."""
