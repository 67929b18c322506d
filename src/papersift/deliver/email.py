"""E-mail over SMTP: STARTTLS or implicit TLS, auth, multipart/alternative (plain text +
inline-CSS HTML), List-Unsubscribe, and a Message-ID fixed per delivery, so a message
re-sent after a kill in flight is recognised as the same message by mail clients."""

from __future__ import annotations

import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr
from pathlib import Path
from typing import Any, ClassVar

from papersift.config import Key, Settings
from papersift.deliver.channels import Channel, DeliveryError, _secret_keys, register
from papersift.deliver.digest import Digest
from papersift.deliver.render import Links, render_custom, render_email_html, render_text
from papersift.errors import ConfigError


def check_address(channel: str, key: str, value: str) -> str:
    """A usable `Name <user@domain>` or `user@domain`; a ConfigError naming it otherwise."""
    name, addr = parseaddr(value)
    local, _, domain = addr.rpartition("@")
    if not local or "." not in domain or " " in addr:
        raise ConfigError(f"channel {channel}: {key} {value!r} is not an e-mail address: "
                          "write it like name@example.org")
    try:
        Address(display_name=name, addr_spec=addr)
    except (ValueError, IndexError):
        raise ConfigError(f"channel {channel}: {key} {value!r} is not an e-mail address: "
                          "write it like name@example.org") from None
    return value


@register
class EmailChannel(Channel):
    type = "email"
    doc = "E-mail over SMTP (HTML with a plain-text alternative)."
    keys: ClassVar[dict[str, Key]] = {
        "to": Key(list, None, "Recipients.", str),
        "sender": Key(str, None, "From address, e.g. \"papersift <bot@example.org>\"."),
        "reply_to": Key(str, "", "Reply-To address."),
        "host": Key(str, "localhost", "SMTP server."),
        "port": Key(int, 0, "SMTP port (0: 587 for starttls, 465 for tls, 25 for none)."),
        "security": Key(str, "starttls", "starttls, tls (implicit TLS) or none."),
        "username": Key(str, "", "SMTP login (empty: no authentication)."),
        **_secret_keys("password"),
        "ca_file": Key(str, "", "CA certificate(s) to trust for a self-hosted SMTP server.",
                       path=True),
        "subject": Key(str, "papersift: {n} papers for {span}", "Subject; {n}, {span}, "
                       "{user} are filled in."),
        "unsubscribe": Key(str, "", "List-Unsubscribe target (https:// or mailto:)."),
    }

    def __init__(self, opts: dict[str, Any], settings: Settings) -> None:
        super().__init__(opts, settings)
        if not opts["to"]:
            raise ConfigError(f"channel {self.name}: `to` is empty: list at least one address")
        for addr in opts["to"]:
            check_address(self.name, "to", addr)
        check_address(self.name, "sender", opts["sender"])
        if opts["reply_to"]:
            check_address(self.name, "reply_to", opts["reply_to"])
        if opts["security"] not in ("starttls", "tls", "none"):
            raise ConfigError(f"channel {self.name}: security must be starttls, tls or none, "
                              f"got {opts['security']!r}")
        self.port = opts["port"] or {"starttls": 587, "tls": 465, "none": 25}[opts["security"]]

    def render(self, digest: Digest, links: Links, key: str) -> list[EmailMessage]:
        digest = self.trim(digest)
        o = self.opts
        msg = EmailMessage()
        msg["Subject"] = o["subject"].format(n=len(digest.entries), span=digest.span,
                                             user=digest.user, day=digest.day)
        msg["From"] = o["sender"]
        msg["To"] = ", ".join(o["to"])
        if o["reply_to"]:
            msg["Reply-To"] = o["reply_to"]
        msg["Date"] = formatdate(localtime=False)
        # Fixed per (user, day, channel): a resend after an unknown outcome is a duplicate
        # that Gmail and most clients fold into the first copy.
        msg["Message-ID"] = f"<{key}@papersift>"
        msg["List-Id"] = f"papersift digest of {digest.user} <{digest.user}.papersift>"
        msg["X-Papersift-Delivery"] = key
        if o["unsubscribe"]:
            msg["List-Unsubscribe"] = f"<{o['unsubscribe']}>"
            if o["unsubscribe"].startswith("https://"):
                msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(render_text(digest, links))
        html = (render_custom(Path(self.template), digest, links,
                              unsubscribe=o["unsubscribe"] or None) if self.template
                else render_email_html(digest, links, unsubscribe=o["unsubscribe"] or None))
        msg.add_alternative(html, subtype="html")
        return [msg]

    def send(self, message: EmailMessage, key: str) -> str:
        o = self.opts
        password = self.secret("password") if o["username"] else None
        where = f"{o['host']}:{self.port}"
        context = ssl.create_default_context(cafile=o["ca_file"] or None)
        try:
            if o["security"] == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(o["host"], self.port, timeout=self.timeout,
                                                      context=context)
            else:
                smtp = smtplib.SMTP(o["host"], self.port, timeout=self.timeout)
            with smtp:
                if o["security"] == "starttls":
                    smtp.starttls(context=context)
                if o["username"]:
                    smtp.login(o["username"], password or "")
                rcpts = [a for _, a in getaddresses(o["to"])]
                refused = smtp.send_message(message, to_addrs=rcpts)
        except smtplib.SMTPAuthenticationError as e:
            raise DeliveryError(f"SMTP authentication failed at {where} for user "
                                f"{o['username']!r} (server said: {_said(e)}): check username "
                                "and the password in password_env/password_file",
                                permanent=True) from None
        except smtplib.SMTPNotSupportedError as e:
            raise DeliveryError(f"SMTP server {where} does not support this ({e}): try "
                                "security = \"tls\" or \"none\", or another port",
                                permanent=True) from None
        except smtplib.SMTPRecipientsRefused as e:
            bad = ", ".join(f"{a} ({_said_pair(r)})" for a, r in e.recipients.items())
            raise DeliveryError(f"SMTP server {where} refused every recipient: {bad}: fix `to`",
                                permanent=True) from None
        except smtplib.SMTPResponseException as e:
            raise DeliveryError(f"SMTP server {where} answered {e.smtp_code} ({_said(e)})",
                                permanent=500 <= e.smtp_code < 600) from None
        except ssl.SSLError as e:
            raise DeliveryError(f"TLS with SMTP server {where} failed ({e.reason}): check "
                                "security/port, or ca_file for a self-signed server",
                                permanent=True) from None
        except TimeoutError:
            raise DeliveryError(f"SMTP server {where} did not answer within "
                                f"{self.timeout:g} s") from None
        except (OSError, smtplib.SMTPException) as e:
            raise DeliveryError(f"cannot reach SMTP server {where} ({e.__class__.__name__}: "
                                f"{e}): check host and port") from None
        if refused:
            bad = ", ".join(f"{a} ({_said_pair(r)})" for a, r in refused.items())
            return f"accepted, but refused for {bad}"
        return f"accepted by {where}"


def _said(e: smtplib.SMTPResponseException) -> str:
    text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) \
        else str(e.smtp_error)
    return f"{e.smtp_code} {text}".strip()


def _said_pair(r: tuple[int, bytes]) -> str:
    return f"{r[0]} {r[1].decode('utf-8', 'replace')}"
