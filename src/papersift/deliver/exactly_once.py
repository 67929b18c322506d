"""Exactly-once delivery of a digest to every channel of its user.

Per (user, day, channel): claim an attempt (committed), send each message not yet accepted,
record each accepted message (committed), then mark the delivery sent (committed). A failed
channel is retried with exponential backoff within the run and again by the next run; a
sent channel is never sent again; a kill leaves a claim with a dead owner that the next
run takes over.

The one window left: a process killed after a channel accepted a message but before the
store recorded it (one SQLite commit, about a millisecond) sends that message again on the
next run. The resend carries the same key: e-mail the same Message-ID (mail clients fold
the copies), the generic webhook the same Idempotency-Key; chat platforms have no such
key, so there the edge is at-least-once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from papersift.config import Settings
from papersift.deliver.channels import Channel, channels_for
from papersift.deliver.digest import Digest
from papersift.deliver.render import Links
from papersift.errors import PapersiftError
from papersift.store import Store
from papersift.store.deliveries import Claim

Log = Callable[[str], None]


@dataclass
class Outcome:
    channel: str
    status: str  # sent | already | busy | failed | gave_up
    detail: str
    attempts: int = 0  # made in this run

    def __str__(self) -> str:
        words = {"sent": "sent", "already": "already sent earlier", "busy": "being sent by "
                 "another process", "failed": "failed (retried on the next run)",
                 "gave_up": "given up"}
        return f"{self.channel}: {words[self.status]} — {self.detail}"


def delivery_key(user: str, day: str, channel: str) -> str:
    """Stable per (user, day, channel); safe in a Message-ID and an HTTP header."""
    digest = hashlib.sha256(f"{user}\x1f{day}\x1f{channel}".encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-." else "-" for c in f"{day}.{user}.{channel}")
    return f"{safe[:80]}.{digest}"


def deliver(settings: Settings, store: Store, digest: Digest, *, covers: list[str] | None = None,
            channels: list[Channel] | None = None, log: Log = lambda _: None,
            sleep: Callable[[float], None] = time.sleep) -> list[Outcome]:
    """Deliver `digest` to each of its user's channels that has not had it yet."""
    chans = channels_for(settings, digest.user) if channels is None else channels
    if not chans:
        return []
    links = Links.from_settings(settings, digest.user)
    return [_one(settings, store, ch, digest, links, covers, log, sleep) for ch in chans]


def _one(settings: Settings, store: Store, ch: Channel, digest: Digest, links: Links,
         covers: list[str] | None, log: Log, sleep: Callable[[float], None]) -> Outcome:
    key = delivery_key(digest.user, digest.day, ch.name)
    retries, backoff = settings["delivery.retries"], settings["delivery.backoff"]
    made = i = 0
    while True:
        claim = store.claim_delivery(digest.user, digest.day, ch.name, key, covers)
        if not isinstance(claim, Claim):
            status = {"sent": "already", "gave_up": "gave_up"}.get(claim.status, "busy")
            return Outcome(ch.name, status, claim.error or f"{claim.attempts} attempt(s)", made)
        made += 1
        if claim.unknown:
            log(f"{ch.name}: the last attempt was killed in flight; sending again with the "
                "same delivery key")
        try:
            messages = ch.render(digest, links, key)
            # Killed after recording the last message but before `sent`: nothing to resend.
            answer = "every message was accepted by an earlier attempt"
            for n in range(claim.parts, len(messages)):
                answer = ch.send(messages[n], key if n == 0 else f"{key}.{n + 1}")
                store.delivery_part_sent(claim, n + 1)
            detail = answer if len(messages) == 1 else f"{len(messages)} messages; {answer}"
            store.finish_delivery(claim, ok=True, detail=detail)
            log(f"{ch.name}: sent ({detail})")
            return Outcome(ch.name, "sent", detail, made)
        except PapersiftError as e:  # DeliveryError, or a template error in the user's file
            permanent = getattr(e, "permanent", True)
            give_up = claim.attempt >= settings["delivery.max_attempts"]
            wait = backoff * 2 ** i
            store.finish_delivery(claim, ok=False, detail=str(e), retry_in=wait,
                                  give_up=give_up)
            log(f"{ch.name}: attempt {claim.attempt} failed: {e}")
            if give_up:
                return Outcome(ch.name, "gave_up", str(e), made)
            if permanent or i == retries:
                return Outcome(ch.name, "failed", str(e), made)
            sleep(wait)
            i += 1
        except BaseException as e:
            # Interrupted (Ctrl-C) or a bug: record it; the next run retries.
            store.finish_delivery(claim, ok=False, detail=f"interrupted: {e!r}")
            raise
