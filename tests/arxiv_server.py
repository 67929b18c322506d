"""A real local HTTP server that speaks arXiv's formats, built from real records.

It serves the daily RSS feed (/rss/<cats>), OAI-PMH ListRecords (/oai, arXiv and arXivRaw
formats, paged by resumptionToken) and the query API (/api/query?id_list=...), records every
request, and misbehaves on demand (status codes, Retry-After, truncated bodies, cut XML,
connection resets, slow answers), one after another or at random from a seeded
FaultSchedule, so tests can watch the client cope.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape, quoteattr

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv-cs-2024-2026.jsonl.gz"
DAY1, DAY2 = "2024-12-18", "2024-12-19"  # the first two listing days in the shared file
_GROUPS = {"cs", "econ", "eess", "math", "q-bio", "q-fin", "stat"}
_VALID_ID = re.compile(r"^(\d{4}\.\d{4,5}|(cs|math|hep-th|hep-ph|astro-ph|cond-mat|quant-ph|"
                       r"gr-qc|physics|nucl-th|math-ph)(\.[A-Z]{2})?/\d{7})(v\d+)?$")


@lru_cache(maxsize=1)
def load_days(days: tuple[str, ...] = (DAY1, DAY2)) -> dict[str, list[dict]]:
    """The records announced on `days`, read from the top of the shared file (days in order)."""
    out: dict[str, list[dict]] = {d: [] for d in days}
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            day = r.get("announced")
            if day in out:
                out[day].append(r)
            elif day and day > max(days):
                break
    return out


def revised(record: dict, day: str) -> dict:
    """The record as a v2 announced on `day` (the shared records all stop at v1)."""
    when = format_datetime(datetime.fromisoformat(f"{day}T10:00:00+00:00"), usegmt=True)
    versions = [*record["versions"], {"version": f"v{len(record['versions']) + 1}",
                                      "created": when}]
    return {**record, "versions": versions, "update_date": day}


def group(category: str) -> str:
    archive = category.split(".")[0]
    return archive if archive in _GROUPS else "physics"


def _rfc(day: str, tz: str = "-0500") -> str:
    return datetime.fromisoformat(day).strftime(f"%a, %d %b %Y 00:00:00 {tz}")


def _iso(stamp: str) -> str:
    return parsedate_to_datetime(stamp).strftime("%Y-%m-%dT%H:%M:%SZ")


def _el(tag: str, value: str | None, attrs: str = "") -> str:
    return f"<{tag}{attrs}>{escape(value)}</{tag}>" if value else ""


def _version(r: dict) -> str:
    return r["versions"][-1]["version"]


def _names(r: dict) -> list[str]:
    return [" ".join(x for x in (a[1], a[0], *a[2:]) if x) for a in r.get("authors_parsed") or []]


# --- documents ---------------------------------------------------------------------------


def rss_feed(cats: list[str], day: str | None, items: list[tuple[dict, str]]) -> bytes:
    """An rss.arxiv.org feed; `items` are (record, announce type)."""
    name = "+".join(cats)
    dated = f"<lastBuildDate>{_rfc(day, '+0000')}</lastBuildDate><pubDate>{_rfc(day)}</pubDate>" \
        if day else ""
    body = "".join(_rss_item(r, kind, day or "") for r, kind in items)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss xmlns:arxiv="http://arxiv.org/schemas/atom"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0"><channel>'
        f"<title>{escape(name)} updates on arXiv.org</title>"
        f"<link>http://rss.arxiv.org/rss/{escape(name)}</link>"
        f"<description>{escape(name)} updates on the arXiv.org e-print archive.</description>"
        "<docs>http://www.rssboard.org/rss-specification</docs><language>en-us</language>"
        f"{dated}<managingEditor>rss-help@arxiv.org</managingEditor>"
        "<skipDays><day>Saturday</day><day>Sunday</day></skipDays>"
        f"{body}</channel></rss>\n").encode()


def _rss_item(r: dict, kind: str, day: str) -> str:
    vid = f"{r['id']}{_version(r)}"
    return (
        f"<item><title>{escape(r['title'])}</title>"
        f"<link>https://arxiv.org/abs/{r['id']}</link>"
        f"<description>arXiv:{vid} Announce Type: {kind} \nAbstract: "
        f"{escape(r['abstract'])}</description>"
        f'<guid isPermaLink="false">oai:arXiv.org:{vid}</guid>'
        + "".join(_el("category", c) for c in r["categories"].split())
        + f"<pubDate>{_rfc(day)}</pubDate>"
        f"<arxiv:announce_type>{kind}</arxiv:announce_type>"
        + _el("dc:rights", r.get("license")) + _el("arxiv:journal_reference", r.get("journal-ref"))
        + _el("arxiv:DOI", r.get("doi")) + _el("dc:creator", r.get("authors"))
        + "</item>")


def oai_response(query: dict[str, str], inner: str) -> bytes:
    attrs = "".join(f" {k}={quoteattr(v)}" for k, v in query.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/'
        'OAI/2.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<responseDate>2024-12-20T12:00:00Z</responseDate>"
        f"<request{attrs}>http://oaipmh.arxiv.org/oai</request>{inner}</OAI-PMH>\n").encode()


def oai_error(query: dict[str, str], code: str, message: str) -> bytes:
    return oai_response(query, f"<error code={quoteattr(code)}>{escape(message)}</error>")


def _oai_record(r: dict, prefix: str, deleted: bool) -> str:
    sets = "".join(f"<setSpec>{group(c)}:{c.replace('.', ':')}</setSpec>"
                   for c in r["categories"].split())
    status = ' status="deleted"' if deleted else ""
    header = (f"<header{status}><identifier>oai:arXiv.org:{r['id']}</identifier>"
              f"<datestamp>{r['update_date']}</datestamp>{sets}</header>")
    if deleted:
        return f"<record>{header}</record>"
    meta = _arxiv_raw(r) if prefix == "arXivRaw" else _arxiv_format(r)
    return f"<record>{header}<metadata>{meta}</metadata></record>"


def _common_fields(r: dict) -> str:
    return (_el("title", r["title"]) + _el("categories", r["categories"])
            + _el("comments", r.get("comments")) + _el("journal-ref", r.get("journal-ref"))
            + _el("doi", r.get("doi")) + _el("license", r.get("license"))
            + _el("abstract", r["abstract"]))


def _arxiv_raw(r: dict) -> str:
    versions = "".join(f"<version version={quoteattr(v['version'])}><date>{v['created']}</date>"
                       "</version>" for v in r["versions"])
    return ('<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">'
            f"<id>{r['id']}</id>{_el('submitter', r.get('submitter'))}{versions}"
            f"{_el('authors', r.get('authors'))}{_common_fields(r)}</arXivRaw>")


def _arxiv_format(r: dict) -> str:
    authors = "".join(
        "<author>" + _el("keyname", a[0]) + _el("forenames", a[1] if len(a) > 1 else None)
        + _el("suffix", a[2] if len(a) > 2 else None) + "</author>"
        for a in r.get("authors_parsed") or [])
    created = _iso(r["versions"][0]["created"])[:10]
    updated = _el("updated", r["update_date"]) if len(r["versions"]) > 1 else ""
    return ('<arXiv xmlns="http://arxiv.org/OAI/arXiv/">'
            f"<id>{r['id']}</id><created>{created}</created>{updated}"
            f"<authors>{authors}</authors>{_common_fields(r)}</arXiv>")


def atom_feed(entries: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom">'
        '<link href="http://arxiv.org/api/query" rel="self" type="application/atom+xml"/>'
        "<title>ArXiv Query</title><id>http://arxiv.org/api/test</id>"
        "<updated>2024-12-20T00:00:00-05:00</updated>"
        f"<opensearch:totalResults>{len(entries)}</opensearch:totalResults>"
        "<opensearch:startIndex>0</opensearch:startIndex>"
        f"<opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>"
        f"{''.join(entries)}</feed>\n").encode()


def atom_error(bad_id: str) -> bytes:
    """What arXiv answers when one id of id_list is malformed: a single "Error" entry."""
    url = f"http://arxiv.org/api/errors#incorrect_id_format_for_{bad_id}"
    return atom_feed([
        f"<entry><id>{escape(url)}</id><title>Error</title>"
        f"<summary>incorrect id format for {escape(bad_id)}</summary>"
        "<updated>2024-12-20T00:00:00-05:00</updated>"
        f'<link href={quoteattr(url)} rel="alternate" type="text/html"/>'
        "<author><name>arXiv api core</name></author></entry>"])


def atom_entry(r: dict) -> str:
    vid = f"{r['id']}{_version(r)}"
    cats = r["categories"].split()
    return (
        f"<entry><id>http://arxiv.org/abs/{vid}</id>"
        f"<updated>{_iso(r['versions'][-1]['created'])}</updated>"
        f"<published>{_iso(r['versions'][0]['created'])}</published>"
        f"<title>{escape(r['title'])}</title><summary>{escape(r['abstract'])}</summary>"
        + "".join(f"<author><name>{escape(n)}</name></author>" for n in _names(r))
        + _el("arxiv:doi", r.get("doi")) + _el("arxiv:comment", r.get("comments"))
        + _el("arxiv:journal_ref", r.get("journal-ref"))
        + f'<link href="http://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>'
        f'<link title="pdf" href="http://arxiv.org/pdf/{vid}" rel="related"/>'
        + (f"<arxiv:primary_category term={quoteattr(cats[0])}/>" if cats else "")
        + "".join(f"<category term={quoteattr(c)}/>" for c in cats)
        + "</entry>")


# --- the server --------------------------------------------------------------------------


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    time: float  # time.monotonic() on arrival


@dataclass
class Fault:
    """One way to misbehave. Exactly one of status/truncate/cut_xml/reset/delay is usual."""

    status: int = 0  # answer this status instead of the document
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False  # announce the whole Content-Length, send half, close
    cut_xml: bool = False  # a complete HTTP response whose XML stops mid-element
    reset: bool = False  # read the request, then reset the connection without answering
    delay: float = 0.0  # wait this long before answering


@dataclass
class FaultSchedule:
    """Seeded random misbehaviour: each request to `path` draws a fault with probability `p`,
    one of `kinds` (name -> Fault) chosen by `weights`; `injected` counts them by name."""

    rng: random.Random
    p: float
    kinds: dict[str, Fault]
    weights: dict[str, float] = field(default_factory=dict)  # default: equal
    path: str = "/"
    injected: Counter[str] = field(default_factory=Counter)

    def draw(self) -> Fault | None:
        if self.rng.random() >= self.p:
            return None
        names = list(self.kinds)
        name = self.rng.choices(names, [self.weights.get(n, 1.0) for n in names])[0]
        self.injected[name] += 1
        return self.kinds[name]


@dataclass
class _Storm:
    path: str
    fault: Fault
    after: int  # requests to let through first


class ArxivServer:
    """Start with `with ArxivServer(days) as s:`; point the client at s.url + /rss etc."""

    def __init__(self, days: dict[str, list[dict]], *, page_size: int = 50) -> None:
        self.days = days
        self.feed_day: str | None = DAY1  # None: the empty feed of a day without announcements
        self.replacements: list[dict] = []  # revised records announced on feed_day
        self.oai_records: list[dict] = [r for rs in days.values() for r in rs]
        self.oai_deleted: set[str] = set()
        self.page_size = page_size
        self._token_epoch = 0  # tokens from an older epoch are answered badResumptionToken
        self.requests: list[Request] = []
        self._faults: list[tuple[str, Fault]] = []
        self._storm: _Storm | None = None
        self._schedule: FaultSchedule | None = None
        # called with each request as it arrives (server thread): tests kill clients from it
        self.on_request: Callable[[Request], None] | None = None
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.app = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # a short poll interval keeps shutdown (once per test) fast
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        daemon=True)

    def __enter__(self) -> ArxivServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- what tests control and inspect ---

    def fail(self, path: str, *faults: Fault) -> None:
        """The next requests to `path` (a prefix) misbehave, one fault each, in order."""
        with self._lock:
            self._faults.extend((path, f) for f in faults)

    def storm(self, path: str, fault: Fault, *, after: int = 0) -> None:
        """Every request to `path` misbehaves, once `after` requests have gone through."""
        with self._lock:
            self._storm = _Storm(path, fault, after)

    def schedule(self, schedule: FaultSchedule | None) -> None:
        """Random faults from now on (after any queued by fail() or storm()); None: stop."""
        with self._lock:
            self._schedule = schedule

    def calm(self) -> None:
        with self._lock:
            self._faults.clear()
            self._storm = None
            self._schedule = None

    def expire_tokens(self) -> None:
        """Every resumption token handed out so far becomes invalid, as after a restart."""
        self._token_epoch += 1

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path.startswith(path)]

    def feed_items(self, cats: list[str]) -> list[tuple[dict, str]]:
        """The (record, announce type) pairs of feed_day's feed for `cats`."""
        if self.feed_day is None:
            return []
        out = []
        for records, kinds in ((self.days.get(self.feed_day, []), ("new", "cross")),
                               (self.replacements, ("replace", "replace-cross"))):
            for r in records:
                rcats = r["categories"].split()
                if set(rcats) & set(cats):
                    out.append((r, kinds[0] if rcats[0] in cats else kinds[1]))
        return out

    def oai_selection(self, set_spec: str | None, from_: str | None,
                      until: str | None) -> list[dict]:
        """The records a ListRecords request selects, in the order they are served."""
        return [r for r in self.oai_records
                if (not set_spec or set_spec in {group(c) for c in r["categories"].split()})
                and (not from_ or r["update_date"] >= from_)
                and (not until or r["update_date"] <= until)]

    # --- request handling (server threads) ---

    def _record(self, handler: BaseHTTPRequestHandler) -> Request:
        parts = urlsplit(handler.path)
        req = Request(unquote(parts.path), dict(parse_qsl(parts.query)),
                      {k.lower(): v for k, v in handler.headers.items()}, time.monotonic())
        with self._lock:
            self.requests.append(req)
        return req

    def _fault_for(self, path: str) -> Fault | None:
        with self._lock:
            for i, (prefix, fault) in enumerate(self._faults):
                if path.startswith(prefix):
                    del self._faults[i]
                    return fault
            storm = self._storm
            if storm is None or not path.startswith(storm.path):
                schedule = self._schedule
                return schedule.draw() if schedule and path.startswith(schedule.path) else None
            if storm.after > 0:
                storm.after -= 1
                return None
            return storm.fault

    def route(self, req: Request) -> tuple[int, bytes, str]:
        if req.path.startswith("/rss/"):
            cats = req.path.removeprefix("/rss/").split("+")
            return 200, rss_feed(cats, self.feed_day, self.feed_items(cats)), "application/xml"
        if req.path == "/oai":
            return 200, self._oai(req.query), "text/xml"
        if req.path == "/api/query":
            return 200, self._api(req.query), "application/atom+xml"
        return 404, b"not found", "text/plain"

    def _oai(self, query: dict[str, str]) -> bytes:
        if query.get("verb") != "ListRecords":
            return oai_error(query, "badVerb", "Illegal verb")
        if "resumptionToken" in query:
            try:
                epoch, prefix, set_spec, from_, until, start = query["resumptionToken"].split("!")
                offset = int(start)
            except ValueError:
                return oai_error(query, "badResumptionToken", "Invalid resumptionToken")
            if int(epoch) != self._token_epoch:
                return oai_error(query, "badResumptionToken", "The resumptionToken has expired")
        else:
            prefix, set_spec = query.get("metadataPrefix", ""), query.get("set", "")
            from_, until, offset = query.get("from", ""), query.get("until", ""), 0
        if prefix not in ("arXiv", "arXivRaw"):
            return oai_error(query, "cannotDisseminateFormat", f"Unknown format {prefix}")
        if from_ and until and from_ > until:
            return oai_error(query, "badArgument", "The from date is after the until date")
        selected = self.oai_selection(set_spec, from_, until)
        if not selected:
            return oai_error(query, "noRecordsMatch", "No records match the request")
        page = selected[offset:offset + self.page_size]
        end = offset + self.page_size
        token = f"{self._token_epoch}!{prefix}!{set_spec}!{from_}!{until}!{end}" \
            if end < len(selected) else ""
        size = f' completeListSize="{len(selected)}" cursor="{offset}"'
        records = "".join(_oai_record(r, prefix, r["id"] in self.oai_deleted) for r in page)
        resumption = f"<resumptionToken{size}>{token}</resumptionToken>" \
            if len(selected) > self.page_size else ""
        return oai_response(query, f"<ListRecords>{records}{resumption}</ListRecords>")

    def _api(self, query: dict[str, str]) -> bytes:
        ids = [i for i in query.get("id_list", "").split(",") if i]
        bad = next((i for i in ids if not _VALID_ID.match(i)), None)
        if bad is not None:
            return atom_error(bad)
        known = {r["id"]: r for rs in self.days.values() for r in rs}
        bare = [re.sub(r"v\d+$", "", i) for i in ids]
        wanted = [known[i] for i in bare if i in known]
        limit = int(query.get("max_results", "10"))  # arXiv's default page is 10 entries
        return atom_feed([atom_entry(r) for r in wanted[:limit]])


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        app: ArxivServer = self.server.app  # type: ignore[attr-defined]
        req = app._record(self)
        if app.on_request is not None:
            app.on_request(req)
        fault = app._fault_for(req.path) or Fault()
        if fault.delay:
            time.sleep(fault.delay)
        if fault.reset:
            self._reset()
            return
        if fault.status:
            self._send(fault.status, f"HTTP {fault.status}\n".encode(), "text/plain",
                       fault.headers)
            return
        status, body, ctype = app.route(req)
        if fault.cut_xml:
            body = body[: len(body) // 2]
        self._send(status, body, ctype, fault.headers, sent=len(body) // 2 if fault.truncate
                   else None)

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str],
              sent: int | None = None) -> None:
        """Answer; with `sent`, stop after that many body bytes and drop the connection."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body if sent is None else body[:sent])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to answer
        self.close_connection = True

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0) instead of answering."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


def closed_port_url() -> str:
    """The URL of a local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
