"""The FastAPI app: server-rendered pages, the /feedback endpoint of digest links, and the
JSON API under /api (OpenAPI docs at /docs).

Single-user mode (bound to loopback): everyone who reaches the app is `profile.user`, with a
session created on the first request so CSRF tokens work the same way. Accounts mode: every
page but /login and /feedback needs a signed-in session."""


import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from papersift.calendar import parse_day
from papersift.config import Settings, xdg_data_home
from papersift.deliver.render import short_authors
from papersift.errors import PapersiftError
from papersift.profile.feedback import rate, rate_token
from papersift.profile.sources import (
    ZOTERO_EXCLUDE,
    ZOTERO_INCLUDE,
    add_ids,
    add_source,
    parse_source,
    save_user_zotero_key,
    user_zotero_key_file,
)
from papersift.rank.embed import Embedder
from papersift.rank.reasons import render as render_reason
from papersift.store import Store
from papersift.store.web import Filters
from papersift.tokens import load_key
from papersift.web import auth, svg
from papersift.web.i18n import LANGS, pick_lang, translator
from papersift.web.views import DigestView, Trend, Views, rating_text

STATIC = Path(__file__).parent / "static"
TERM_KINDS = ("author", "keyword", "mute")
UPLOAD_SUFFIXES = (".bib", ".bibtex", ".ris", ".txt")
MAX_UPLOAD = 50 << 20  # a 5,000-entry BibTeX library is about 5 MiB
RENDERED_MAX = 1024  # pages kept (a few users × days × languages each)
T = TypeVar("T")


class LoginRequired(Exception):
    pass


class Refused(Exception):
    """A state-changing request without the session's CSRF token."""


class SessionMiddleware:
    """Finds the request's session (creating one in single-user mode) before any route runs,
    and sends the cookie of a new one. Plain ASGI: cheaper than an http middleware."""

    def __init__(self, app: ASGIApp, resolve: Callable[[Request], Awaitable[auth.Session | None]],
                 cookie: Callable[[str], bytes]) -> None:
        self.app, self.resolve, self.cookie = app, resolve, cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        session = await self.resolve(Request(scope))
        if session is None or session.token is None:
            await self.app(scope, receive, send)
            return
        cookie = self.cookie(session.token)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class LoopbackHostOnly:
    """Single-user mode trusts whoever reaches it, so it must only be reached as itself: a
    page on attacker.example whose DNS later points at 127.0.0.1 (DNS rebinding) would
    otherwise read and change the user's data from their own browser. Requests naming any
    other Host (or Origin) are refused before a session exists."""

    def __init__(self, app: ASGIApp, allowed: set[str]) -> None:
        self.app, self.allowed = app, allowed

    def _ours(self, netloc: str) -> bool:
        host = urlsplit(f"//{netloc}").hostname or ""
        return host in self.allowed or auth.is_loopback(host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if not self._ours(headers.get("host", "")) or (
                    origin and origin != "null" and not self._ours(urlsplit(origin).netloc)):
                await PlainTextResponse(
                    "papersift serves this address only as localhost or web.base_url: open it "
                    "by that address (DNS rebinding guard)", 400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RateIn(BaseModel):
    paper: str
    action: str


class Rated(BaseModel):
    """A stored rating, with what the page's card says of it."""

    user: str
    paper_id: str
    action: str
    label: int | None  # what it teaches the profile: 1 liked, -1 disliked, None nothing
    in_store: bool  # False: the paper's text is looked up before the next ranking
    said: str  # "Your rating: liked", in the user's language


class Me(BaseModel):
    user: str
    lang: str
    csrf: str  # the token POSTs must send as X-CSRF-Token
    accounts: bool  # False: single-user mode (no sign-in)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: `next` must never send a user to another site (browsers drop
    tabs and newlines, so "/\t/evil.example" would become "//evil.example")."""
    if target and re.fullmatch(r"/(?![/\\])[^\s\\]*", target):
        return target
    return "/"


def _names(field: str) -> list[str]:
    """Comma-separated names of a form field, in order, each once."""
    return list(dict.fromkeys(n.strip() for n in field.split(",") if n.strip()))


def _day(raw: str) -> str:
    return parse_day(raw)


def create_app(settings: Settings, *, accounts: bool, store: Store | None = None,
               embedder: Embedder | None = None) -> FastAPI:
    """The web app over `settings`' store. `accounts`: sign-in required (any bind address
    but loopback); otherwise everyone is profile.user."""
    store = store or Store(settings.store_url)
    views = Views(settings, store, embedder)
    key = load_key(settings.secret_file)
    limiter = auth.LoginLimiter(settings["web.login_attempts"])
    single_user = None if accounts else settings["profile.user"]
    secure = settings["web.base_url"].startswith("https://")
    days = settings["web.session_days"]
    jinja = Environment(loader=PackageLoader("papersift.web", "templates"),
                        autoescape=select_autoescape(["html"]),
                        auto_reload=False)  # package files: no stat of each on every page
    jinja.filters["authors"] = short_authors
    jinja.globals["rating_text"] = rating_text
    store.end_sessions(expired_before=datetime.now(UTC).isoformat(timespec="seconds"))

    # FastAPIOffline: the /docs and /redoc pages serve their scripts from the package, not
    # from a CDN (papersift runs without internet)
    app = FastAPIOffline(title="papersift", version="1", summary="Your daily arXiv digest: pages "
                  "and a JSON API (sign in first in accounts mode; POSTs need X-CSRF-Token).")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.store, app.state.views = store, views

    # --- sessions, language, errors ---------------------------------------------------------

    # On SQLite the session lookup, the digest pages and /api/days run on the event loop: one
    # indexed local read each (WAL: readers never wait for writers), cheaper than a hop to a
    # worker thread and the GIL hand-offs that come with it, which dominated the latency tail
    # under load. On PostgreSQL each read is a round trip, which would stall every other
    # request on the loop: there they go to the thread pool, like the heavier views
    # (search, pictures, "show more") everywhere.
    local_reads = store.engine.dialect.name == "sqlite"

    async def read(fn: Callable[..., T], *args: Any) -> T:
        return fn(*args) if local_reads else await run_in_threadpool(fn, *args)

    async def resolve(request: Request) -> auth.Session | None:
        token = request.cookies.get(auth.SESSION_COOKIE)
        session = await read(auth.find_session, store, token)
        if session is None and single_user:  # a write may wait for the daily job's lock
            session = await run_in_threadpool(auth.open_session, store, single_user, days)
        request.state.session = session
        request.state.lang = pick_lang(session.lang if session else None,
                                       request.headers.get("accept-language"))
        return session

    def _set_session_cookie(response: Response, token: str) -> None:
        response.set_cookie(auth.SESSION_COOKIE, token, max_age=days * 86400, httponly=True,
                            samesite="lax", secure=secure, path="/")

    def _cookie_header(token: str) -> bytes:
        response = Response()
        _set_session_cookie(response, token)
        return response.headers["set-cookie"].encode("latin-1")

    app.add_middleware(SessionMiddleware, resolve=resolve, cookie=_cookie_header)
    if single_user:  # added last, so it runs first: no session for a foreign Host
        app.add_middleware(LoopbackHostOnly,
                           allowed={urlsplit(settings["web.base_url"]).hostname or "localhost"})

    async def viewer(request: Request) -> auth.Session:
        session: auth.Session | None = request.state.session
        if session is None:
            raise LoginRequired()
        return session

    async def checked(request: Request) -> auth.Session:
        """The session, for a state-changing request carrying its CSRF token."""
        session = await viewer(request)
        given = request.headers.get("x-csrf-token")
        if given is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            given = (await request.form()).get("csrf")  # type: ignore[assignment]
        if not auth.same_token(given, session.csrf):
            raise Refused()
        return session

    Viewer = Annotated[auth.Session, Depends(viewer)]
    Checked = Annotated[auth.Session, Depends(checked)]

    # Rendered pages by everything they show: the digest page is the one every reader
    # reloads, and its template took most of its time (benchmarks/web.py).
    rendered: dict[tuple, str] = {}

    def page(request: Request, name: str, status: int = 200, reuse: tuple | None = None,
             **ctx: Any) -> HTMLResponse:
        """`name` rendered; with `reuse` (a fingerprint of `ctx`), a page rendered before
        from the same fingerprint, session, language and address is sent again."""
        session: auth.Session | None = request.state.session
        lang = request.state.lang
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        key = reuse and (name, status, lang, path, session and (session.user, session.csrf),
                         reuse)
        html = rendered.get(key) if key else None
        if html is None:
            html = jinja.get_template(name).render(
                _=translator(lang), lang=lang, langs=LANGS, session=session,
                csrf=session.csrf if session else "", accounts=accounts, request=request,
                path=path, **ctx)
            if key:
                if len(rendered) >= RENDERED_MAX:
                    rendered.clear()
                rendered[key] = html
        return HTMLResponse(html, status_code=status)

    def _api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _: LoginRequired) -> Response:
        if _api(request):
            return JSONResponse({"detail": "sign in first (POST /login)"}, status_code=401)
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, _: Refused) -> Response:
        msg = "missing or wrong CSRF token: reload the page (API: send X-CSRF-Token)"
        if _api(request):
            return JSONResponse({"detail": msg}, status_code=403)
        return page(request, "message.html", 403, title="Request refused",
                    message=translator(request.state.lang)(
                        "The form expired: reload the page and try again."))

    @app.exception_handler(PapersiftError)
    async def _bad_input(request: Request, e: PapersiftError) -> Response:
        if _api(request):
            return JSONResponse({"detail": str(e)}, status_code=400)
        return page(request, "message.html", 400, title="Request refused", message=str(e))

    def _not_found(request: Request) -> Response:
        if _api(request):
            return JSONResponse({"detail": "not found"}, status_code=404)
        return page(request, "message.html", 404, title="Page not found", message="")

    # --- sign-in ----------------------------------------------------------------------------

    def _address(request: Request) -> str:
        return request.client.host if request.client else "?"

    def _too_many(request: Request, wait: float, name: str, **ctx: Any) -> Response:
        """A password check the limiter refuses: `name` again, saying how long to wait."""
        _ = translator(request.state.lang)
        msg = _("Too many failed sign-ins: try again in {minutes} minutes.",
                minutes=int(wait // 60) + 1)
        refused = page(request, name, 429, error=msg, **ctx)
        refused.headers["Retry-After"] = str(int(wait) + 1)  # for scripts and clients
        return refused

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> Response:
        if single_user:
            return RedirectResponse(_safe_next(next), status_code=303)
        form_token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        response = page(request, "login.html", next=_safe_next(next), form_token=form_token)
        response.set_cookie(auth.LOGIN_CSRF_COOKIE, form_token, httponly=True,
                            samesite="strict", secure=secure, path="/login")
        return response

    @app.post("/login", include_in_schema=False)
    def login(request: Request, user: Annotated[str, Form()], password: Annotated[str, Form()],
              csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
        if not auth.same_token(csrf, request.cookies.get(auth.LOGIN_CSRF_COOKIE) or ""):
            raise Refused()
        _ = translator(request.state.lang)
        ip = _address(request)
        if (wait := limiter.wait(ip, user)) > 0:
            return _too_many(request, wait, "login.html", next=_safe_next(next), form_token=csrf)
        if not auth.check_password(store, user, password):
            limiter.failed(ip, user)
            return page(request, "login.html", 401, next=_safe_next(next),
                        error=_("Wrong user name or password."), form_token=csrf)
        limiter.succeeded(ip, user)
        session = auth.open_session(store, user, days)
        response = RedirectResponse(_safe_next(next), status_code=303)
        _set_session_cookie(response, session.token or "")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, session: Checked) -> Response:
        store.end_sessions(token_hash=auth.token_hash(
            request.cookies.get(auth.SESSION_COOKIE, "")))
        response = RedirectResponse("/login" if accounts else "/", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    @app.get("/account", response_class=HTMLResponse, include_in_schema=False)
    def account(request: Request, session: Viewer, done: int = 0) -> Response:
        return page(request, "account.html", done=done)

    @app.post("/account/password", include_in_schema=False)
    def change_password(request: Request, session: Checked, current: Annotated[str, Form()],
                        new: Annotated[str, Form()]) -> Response:
        if not accounts:
            raise PapersiftError("single-user mode has no password: run `papersift serve` "
                                 "on a non-loopback address or set web.accounts = true")
        # the current password is a password guess like a sign-in: a stolen session must not
        # test passwords at full speed, so both share one limiter
        ip = _address(request)
        if (wait := limiter.wait(ip, session.user)) > 0:
            return _too_many(request, wait, "account.html")
        if not auth.check_password(store, session.user, current):
            limiter.failed(ip, session.user)
            _ = translator(request.state.lang)
            return page(request, "account.html", 400, error=_("The current password is wrong."))
        limiter.succeeded(ip, session.user)
        auth.set_password(store, session.user, new)  # ends every session, this one too
        fresh = auth.open_session(store, session.user, days)
        response = RedirectResponse("/account?done=1", status_code=303)
        _set_session_cookie(response, fresh.token or "")
        return response

    @app.post("/lang", include_in_schema=False)
    def set_lang(session: Checked, lang: Annotated[str, Form()],
                 next: Annotated[str, Form()] = "/") -> Response:
        if lang not in LANGS:
            raise PapersiftError(f"unknown language {lang!r}: use one of {', '.join(LANGS)}")
        store.save_web_user(session.user, lang=lang)
        return RedirectResponse(_safe_next(next), status_code=303)

    # --- digest, paper, rating --------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home(request: Request, session: Viewer) -> Response:
        days_ = store.digest_days(session.user)
        if not days_:
            return page(request, "empty.html")
        return RedirectResponse(f"/digest/{days_[0]}", status_code=303)

    async def _digest(user: str, day: str, more: bool) -> DigestView | None:
        if more:  # the day's whole listing and its embeddings: off the event loop
            return await run_in_threadpool(views.digest, user, day, True)
        return await read(views.digest, user, day)

    @app.get("/digest/{day}", response_class=HTMLResponse, include_in_schema=False)
    async def digest_page(request: Request, session: Viewer, day: str, more: bool = False
                          ) -> Response:
        view = await _digest(session.user, _day(day), more)
        if view is None:
            return _not_found(request)
        return page(request, "digest.html", reuse=view.fingerprint(), v=view)

    @app.get("/paper/{paper_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def paper_page(request: Request, session: Viewer, paper_id: str) -> Response:
        view = views.paper(session.user, paper_id)
        if view is None:
            return _not_found(request)
        return page(request, "paper.html", v=view)

    @app.post("/rate", include_in_schema=False)
    def rate_form(session: Checked, paper: Annotated[str, Form()],
                  action: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
                  ) -> Response:
        """The rating buttons without JavaScript (with it, static/rate.js posts to /api/rate
        and updates the card in place)."""
        rate(store, session.user, paper, action, via="web")
        return RedirectResponse(_safe_next(next), status_code=303)

    @app.get("/feedback", response_class=HTMLResponse, include_in_schema=False)
    def feedback_link(request: Request, t: str = "") -> Response:
        """A 👍/👎 link of a delivered digest: the signed token is the authority."""
        rated = rate_token(store, key, t)
        paper = store.get_papers([rated.paper_id]).get(rated.paper_id)
        return page(request, "feedback.html", rated=rated, paper=paper)

    # --- search, profile, pictures ----------------------------------------------------------

    def _filters(category: str, since: str, until: str, author: str) -> Filters:
        return Filters(category.strip(), _day(since) if since else "",
                       _day(until) if until else "", author.strip())

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request, session: Viewer, q: str = "", mode: str = "keyword",
                    category: str = "", since: str = "", until: str = "",
                    author: str = "") -> Response:
        f = _filters(category, since, until, author)
        results = views.search(session.user, q, mode, f) if q.strip() else None
        return page(request, "search.html", q=q, mode=mode, f=f, results=results)

    @app.get("/profile", response_class=HTMLResponse, include_in_schema=False)
    def profile_page(request: Request, session: Viewer, note: str = "") -> Response:
        return page(request, "profile.html", p=views.profile(session.user), note=note)

    def _back(note: str) -> Response:
        return RedirectResponse(f"/profile?note={quote(note)}", status_code=303)

    @app.post("/profile/terms", include_in_schema=False)
    def profile_terms(session: Checked, kind: Annotated[str, Form()],
                      value: Annotated[str, Form()], remove: Annotated[str, Form()] = ""
                      ) -> Response:
        if kind not in TERM_KINDS:
            raise PapersiftError(f"unknown term kind {kind!r}: use {', '.join(TERM_KINDS)}")
        value = value.strip()
        if not value:
            raise PapersiftError("empty value: type an author, keyword or topic")
        if remove:
            store.remove_terms(session.user, kind, [value])
            return _back(f"removed {value}")
        store.add_terms(session.user, kind, [value])
        return _back(f"added {value}")

    @app.post("/profile/remove", include_in_schema=False)
    def profile_remove(session: Checked, source: Annotated[str, Form()]) -> Response:
        mine = {s.source: s for s in store.sources(session.user)}
        if source not in mine:
            raise PapersiftError(f"you have no source {source!r}: reload the profile page")
        n = store.remove_source(session.user, source)
        return _back(f"removed {mine[source].location} ({n} papers)")

    @app.post("/profile/upload", include_in_schema=False)
    async def profile_upload(session: Checked, file: Annotated[UploadFile, File()]
                             ) -> Response:
        name = re.sub(r"[^\w.\-]+", "_", Path(file.filename or "").name).lstrip(".")
        if not name.lower().endswith(UPLOAD_SUFFIXES):
            raise PapersiftError(f"cannot import {file.filename!r}: upload a .bib, .ris or "
                                 ".txt (arXiv ids) file")
        folder = xdg_data_home() / "papersift" / "uploads" / session.user
        folder.mkdir(parents=True, exist_ok=True)
        data = await file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise PapersiftError(f"{file.filename} is larger than {MAX_UPLOAD >> 20} MiB: "
                                 "split it, or import it with `papersift profile add`")
        path = folder / name
        # kept: the uploaded file is the source, re-read by `profile sync` like any other
        path.write_bytes(data)
        report = await run_in_threadpool(add_source, settings, store, session.user,
                                         parse_source(str(path)), search=False)
        return _back(report.summary())

    @app.post("/profile/ids", include_in_schema=False)
    def profile_ids(session: Checked, ids: Annotated[str, Form()] = "") -> Response:
        """arXiv ids or abs/pdf URLs typed in, added to the ones added before (as
        `papersift profile add ID…`); one that is not an id stops the form, naming it."""
        raw = [x for x in re.split(r"[\s,]+", ids) if x]
        if not raw:
            raise PapersiftError("no arXiv id given: type ids like 2401.04088 or their "
                                 "abs/pdf URLs")
        return _back(add_ids(settings, store, session.user, raw).summary())

    @app.post("/profile/zotero", include_in_schema=False)
    def profile_zotero(session: Checked, library: Annotated[str, Form()],
                       key: Annotated[str, Form()] = "", collections: Annotated[str, Form()] = "",
                       exclude: Annotated[str, Form()] = "") -> Response:
        """Add (or re-sync) a Zotero library with the user's own key and collection
        filters; when it cannot be read, the key and filters they had are kept."""
        spec = library.strip()
        if not re.fullmatch(r"zotero://(user|group)/\d+", spec):
            raise PapersiftError(f"{spec!r} is not a Zotero library: use zotero://user/<id> "
                                 "or zotero://group/<id>")
        user = session.user
        keyfile = user_zotero_key_file(user)
        key_before = keyfile.read_text() if keyfile.exists() else None
        terms_before = {k: store.terms(user, k) for k in (ZOTERO_INCLUDE, ZOTERO_EXCLUDE)}

        def set_terms(values: dict[str, list[str]]) -> None:
            for kind, names in values.items():
                store.remove_terms(user, kind, store.terms(user, kind))
                store.add_terms(user, kind, names)

        if key.strip():
            save_user_zotero_key(user, key)
        set_terms({ZOTERO_INCLUDE: _names(collections), ZOTERO_EXCLUDE: _names(exclude)})
        try:
            report = add_source(settings, store, user, parse_source(spec), search=False)
        except PapersiftError:
            if key_before is not None:
                save_user_zotero_key(user, key_before)
            elif key.strip():
                keyfile.unlink()
            set_terms(terms_before)
            raise
        return _back(report.summary())

    @app.get("/pictures", response_class=HTMLResponse, include_in_schema=False)
    def pictures(request: Request, session: Viewer) -> Response:
        days_ = store.digest_days(session.user)
        today = days_[0] if days_ else None
        trend = views.trend(session.user, today)
        return page(request, "pictures.html", map=views.interest_map(session.user, today),
                    trend=svg.trend(trend.days, trend.topics) if trend.topics else None)

    # --- JSON API ---------------------------------------------------------------------------

    @app.get("/api/me", tags=["api"])
    def api_me(request: Request, session: Viewer) -> Me:
        """Who is signed in, their UI language, and the CSRF token POSTs must send."""
        return Me(user=session.user, lang=request.state.lang, csrf=session.csrf,
                  accounts=accounts)

    @app.get("/api/days", tags=["api"])
    async def api_days(session: Viewer) -> list[str]:
        """Days with a stored digest, newest first."""
        return await read(store.digest_days, session.user)

    @app.get("/api/digest/{day}", tags=["api"])
    async def api_digest(request: Request, session: Viewer, day: str, more: bool = False
                         ) -> Response:
        """One day's digest: ranked papers with score, reason and your rating; `more` adds
        the papers below the threshold closest to your library."""
        view = await _digest(session.user, _day(day), more)
        if view is None:
            return _not_found(request)
        return JSONResponse({"day": view.day, "listed": view.listed,
                             "entries": [c.as_dict() for c in view.cards],
                             "more": [c.as_dict() for c in view.more] if view.more is not None
                             else None})

    @app.get("/api/papers/{paper_id:path}", tags=["api"])
    def api_paper(request: Request, session: Viewer, paper_id: str) -> Response:
        """A paper: metadata, your rating, its picks in your digests (or, in `why_not`, why
        it is in none: each cause's code, its values and its text in your language), similar
        papers and the closest papers of your library."""
        view = views.paper(session.user, paper_id)
        if view is None:
            return _not_found(request)
        _ = translator(request.state.lang)
        return JSONResponse({
            **view.card.as_dict(),
            "picks": [{**vars(p), "reason": render_reason(p.reason)} for p in view.picks],
            "why_not": None if view.picks else [m.as_dict(_) for m in view.why_not],
            "similar": [c.as_dict() for c in view.similar],
            "library_near": [c.as_dict() for c in view.library_near]})

    @app.get("/api/search", tags=["api"])
    def api_search(session: Viewer, q: str, mode: str = Query("keyword",
                   pattern="^(keyword|semantic)$"), category: str = "", since: str = "",
                   until: str = "", author: str = "",
                   limit: int = Query(50, ge=1, le=200)) -> list[dict]:
        """Keyword (full-text) or semantic (embedding) search, with filters."""
        return [c.as_dict() for c in views.search(
            session.user, q, mode, _filters(category, since, until, author), limit)]

    @app.get("/api/profile", tags=["api"])
    def api_profile(session: Viewer) -> dict:
        """Library by source, followed authors, keywords, muted topics, interest clusters and
        feedback history."""
        return views.profile(session.user)

    @app.get("/api/trends", tags=["api"])
    def api_trends(session: Viewer) -> Trend:
        """The pictures page's trends: for each of your interest clusters and each listing
        day of the 60 before your latest digest, the papers listed close to it and the
        mean and top score of your digest papers nearest to it."""
        return views.trend(session.user)

    @app.post("/api/rate", tags=["api"])
    def api_rate(request: Request, session: Checked, body: RateIn) -> Rated:
        """Rate a paper (up, down, save, dismiss) as the signed-in user; the digest page's
        buttons call it and show `said` on the card."""
        rated = rate(store, session.user, body.paper, body.action, via="web")
        return Rated(user=rated.user, paper_id=rated.paper_id, action=rated.action,
                     label=rated.label, in_store=rated.in_store,
                     said=rating_text(translator(request.state.lang), rated.action))

    return app
