"""Real local servers for delivery tests: an SMTP server (aiosmtpd; STARTTLS, implicit TLS,
AUTH) and an HTTP webhook receiver that answers like Slack, Feishu, DingTalk, WeCom, Discord
or a generic endpoint and misbehaves on demand (status codes, HTML pages, slow answers,
dropped connections, holding a request until released)."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (openssl CLI); the client trusts it through ca_file."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True,
                       capture_output=True)
    return cert, key


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server, _session, envelope) -> str:  # type: ignore[no-untyped-def]
        msg = message_from_bytes(envelope.original_content or envelope.content,
                                 policy=policy.default)
        with self.server.lock:
            self.server.messages.append(msg)  # type: ignore[arg-type]
            self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            hold, self.server.hold = self.server.hold, False
        if hold:  # received, not yet acknowledged: the client is killed in this window
            self.server.holding.set()
            self.server.released.wait(30)
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """aiosmtpd on 127.0.0.1. mode: plain, starttls or tls (implicit)."""
    folder: Path
    mode: str = "plain"
    user: str | None = None
    password: str | None = None
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold: bool = False  # hold the next message's 250 until release()
    holding: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        cert, key = self_signed(self.folder)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.ca_file = cert
        kwargs: dict = {}
        if self.mode == "starttls":
            kwargs |= {"tls_context": ctx, "require_starttls": True}
        if self.mode == "tls":
            kwargs["ssl_context"] = ctx
        if self.user:
            kwargs |= {"authenticator": self._auth, "auth_required": True,
                       "auth_require_tls": self.mode != "plain"}
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     server_hostname="127.0.0.1", **kwargs)

    def _auth(self, _server, _session, _envelope, mechanism, data) -> AuthResult:  # type: ignore[no-untyped-def]
        ok = (isinstance(data, LoginPassword) and data.login.decode() == self.user
              and data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False)

    def __enter__(self) -> SmtpServer:
        if self.mode == "tls":
            # aiosmtpd's readiness probe speaks plain SMTP; with implicit TLS, wait by port.
            self.controller.ready_timeout = 5
            with contextlib.suppress(Exception):  # the probe fails on TLS; the server is up
                self.controller.start()
        else:
            self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.controller.stop(no_assert=True)


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what the receiver answered (0: nothing yet)

    @property
    def json(self) -> dict:
        return json.loads(self.body)


# What each platform answers when all is well.
OK_ANSWERS = {
    "slack": (200, "text/plain", b"ok"),
    "discord": (204, "text/plain", b""),
    "feishu": (200, "application/json", b'{"code":0,"msg":"success","data":{}}'),
    "dingtalk": (200, "application/json", b'{"errcode":0,"errmsg":"ok"}'),
    "wecom": (200, "application/json", b'{"errcode":0,"errmsg":"ok"}'),
    "hook": (200, "application/json", b'{"ok":true}'),
}


class WebhookReceiver:
    """POST /<platform>[/anything] is recorded and answered like that platform would.

    `faults` is a list consumed one per request: None (answer normally), an int status,
    "html" (a 200 HTML page), bytes (a 200 JSON answer), "drop" (close the connection
    without answering), or a float (sleep that many seconds first). `hold_next()` makes
    the next request wait until `release()`: it is recorded as received, unanswered.
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: list[object] = []
        self.lock = threading.Lock()
        self.holding = threading.Event()
        self._release = threading.Event()
        self._hold: str | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                req = Request(parts.path, dict(parse_qsl(parts.query)),
                              {k.lower(): v for k, v in self.headers.items()}, body)
                platform = parts.path.strip("/").split("/")[0]
                with receiver.lock:
                    fault = receiver.faults.pop(0) if receiver.faults else None
                    hold = receiver._hold in ("*", platform)
                    if hold:
                        receiver._hold = None
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if isinstance(fault, float):
                    time.sleep(fault)
                with receiver.lock:
                    receiver.requests.append(req)
                if hold:
                    receiver.holding.set()
                    receiver._release.wait(30)
                code, ctype, payload = OK_ANSWERS.get(platform, OK_ANSWERS["hook"])
                if fault == "html":
                    code, ctype, payload = 200, "text/html", b"<!DOCTYPE html><html>login</html>"
                elif isinstance(fault, bytes):  # the platform's own JSON error answer
                    code, ctype, payload = 200, "application/json", fault
                elif isinstance(fault, int):
                    code, ctype, payload = fault, "text/plain", b"error"
                req.status = code
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client is gone (killed while we held its request)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    def hold_next(self, platform: str = "*") -> None:
        """Hold the next request (to `platform`) unanswered until release()."""
        self._hold = platform
        self.holding.clear()
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def received(self, platform: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.strip("/").split("/")[0] == platform]

    def accepted(self) -> list[Request]:
        """Requests answered with success: what the platform would have posted."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
