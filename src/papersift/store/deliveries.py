"""Delivery records: the store half of exactly-once delivery per (user, day, channel).

A delivery is claimed (status `sending`, attempt counted, owner written) in one committed
transaction before anything is sent, and marked `sent` in another right after the channel
accepted it. A process killed in between leaves `sending` with a dead owner: the next run
takes it over and sends again with the same idempotency key (see deliver/exactly_once.py).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, and_, select, update

from papersift.store import schema as t
from papersift.workers import running

# Another host's claim is trusted this long; a claim of this host is checked by its pid.
FOREIGN_CLAIM = timedelta(hours=1)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def this_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None, updated_at: str) -> bool:
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        age = datetime.now(UTC) - datetime.fromisoformat(updated_at)
        return age < FOREIGN_CLAIM
    return not pid.isdigit() or running(int(pid))  # an unreadable owner: trust the claim


@dataclass
class Claim:
    """The right to make one attempt at one delivery."""
    user: str
    day: str
    channel: str
    key: str
    attempt: int
    parts: int  # messages of this delivery already accepted by the channel
    unknown: bool  # the previous attempt died in flight: it may have reached the channel


@dataclass
class DeliveryRecord:
    user: str
    day: str
    channel: str
    status: str
    attempts: int
    parts: int
    key: str
    error: str | None
    covers: list[str]
    updated_at: str
    sent_at: str | None
    next_try: str | None


class DeliveriesMixin:
    """Mixed into Store, which provides `begin()` (one transaction) and `_insert`."""

    engine: Engine
    begin: Callable[[], AbstractContextManager[Connection]]

    def claim_delivery(self, user: str, day: str, channel: str, key: str,
                       covers: list[str] | None = None) -> Claim | DeliveryRecord:
        """Claim the next attempt, or return the record that says why not (sent, given up,
        or in flight in a live process)."""
        now = _now()
        pk = and_(t.deliveries.c.user == user, t.deliveries.c.day == day,
                  t.deliveries.c.channel == channel)
        with self.begin() as conn:
            conn.execute(self._insert(t.deliveries).values(  # type: ignore[attr-defined]
                user=user, day=day, channel=channel, status="pending", attempts=0, parts=0,
                key=key, covers=json.dumps(covers or [day]), created_at=now,
                updated_at=now).on_conflict_do_nothing())
            row = conn.execute(select(t.deliveries).where(pk)).one()
            if row.status in ("sent", "gave_up") or (
                    row.status == "sending" and _owner_alive(row.owner, row.updated_at)):
                return _record(row)
            # Optimistic: a concurrent claimer changes `attempts`, so only one update wins.
            won = conn.execute(update(t.deliveries).where(
                pk, t.deliveries.c.attempts == row.attempts,
                t.deliveries.c.status == row.status).values(
                status="sending", owner=this_owner(), attempts=row.attempts + 1,
                updated_at=now)).rowcount
            if not won:
                return _record(conn.execute(select(t.deliveries).where(pk)).one())
            conn.execute(t.delivery_attempts.insert().values(
                user=user, day=day, channel=channel, attempt=row.attempts + 1, started_at=now))
        return Claim(user, day, channel, row.key, row.attempts + 1, row.parts,
                     unknown=row.status == "sending")

    def delivery_part_sent(self, claim: Claim, parts: int) -> None:
        with self.begin() as conn:
            conn.execute(update(t.deliveries).where(*_pk(claim)).values(
                parts=parts, updated_at=_now()))
        claim.parts = parts

    def finish_delivery(self, claim: Claim, *, ok: bool, detail: str,
                        retry_in: float | None = None, give_up: bool = False) -> None:
        """Record the attempt's outcome; `retry_in` seconds is when a failure may be retried."""
        now = datetime.now(UTC)
        status = "sent" if ok else ("gave_up" if give_up else "failed")
        values: dict = {"status": status, "owner": None, "updated_at": _now(),
                        "error": None if ok else detail}
        if ok:
            values["sent_at"] = values["updated_at"]
            values["next_try"] = None
        elif retry_in is not None:
            values["next_try"] = (now + timedelta(seconds=retry_in)).isoformat(
                timespec="seconds")
        with self.begin() as conn:
            conn.execute(update(t.deliveries).where(*_pk(claim)).values(**values))
            conn.execute(update(t.delivery_attempts).where(
                t.delivery_attempts.c.user == claim.user, t.delivery_attempts.c.day == claim.day,
                t.delivery_attempts.c.channel == claim.channel,
                t.delivery_attempts.c.attempt == claim.attempt).values(
                finished_at=values["updated_at"], outcome="sent" if ok else "failed",
                detail=detail))

    def reset_delivery(self, user: str, day: str, channel: str) -> bool:
        """Make a given-up delivery eligible again (`papersift deliver --retry-failed`)."""
        with self.begin() as conn:
            return bool(conn.execute(update(t.deliveries).where(
                t.deliveries.c.user == user, t.deliveries.c.day == day,
                t.deliveries.c.channel == channel, t.deliveries.c.status == "gave_up").values(
                status="failed", attempts=0, updated_at=_now())).rowcount)

    def deliveries(self, user: str | None = None, day: str | None = None,
                   status: str | None = None) -> list[DeliveryRecord]:
        q = select(t.deliveries)
        if user:
            q = q.where(t.deliveries.c.user == user)
        if day:
            q = q.where(t.deliveries.c.day == day)
        if status:
            q = q.where(t.deliveries.c.status == status)
        q = q.order_by(t.deliveries.c.day, t.deliveries.c.user, t.deliveries.c.channel)
        with self.begin() as conn:
            return [_record(r) for r in conn.execute(q)]

    def delivery_attempts(self, user: str, day: str, channel: str) -> list[dict]:
        q = select(t.delivery_attempts).where(
            t.delivery_attempts.c.user == user, t.delivery_attempts.c.day == day,
            t.delivery_attempts.c.channel == channel).order_by(t.delivery_attempts.c.attempt)
        with self.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def unfinished_harvests(self) -> list[dict]:
        """OAI-PMH harvests stopped before their last page (a resumption token is saved)."""
        q = select(t.harvests).where(t.harvests.c.token.is_not(None))
        with self.begin() as conn:
            return [{"params": json.loads(r.params), "records": r.records,
                     "updated_at": r.updated_at} for r in conn.execute(q)]

    def digest_days(self, user: str) -> list[str]:
        """Days with a stored digest for `user`, oldest first."""
        q = select(t.digests.c.day).where(t.digests.c.user == user).order_by(t.digests.c.day)
        with self.begin() as conn:
            return list(conn.execute(q).scalars())


def _pk(c: Claim) -> tuple:
    return (t.deliveries.c.user == c.user, t.deliveries.c.day == c.day,
            t.deliveries.c.channel == c.channel)


def _record(r) -> DeliveryRecord:  # type: ignore[no-untyped-def]
    return DeliveryRecord(r.user, r.day, r.channel, r.status, r.attempts, r.parts, r.key,
                          r.error, json.loads(r.covers or "[]"), r.updated_at, r.sent_at,
                          r.next_try)
