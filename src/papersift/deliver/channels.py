"""Delivery channels: a tiny registry of destinations, configured as `[[channel]]` tables.

A channel turns a digest into one or more messages (`render`) and sends one message at a
time (`send`), so a digest split for a size limit resumes at the first unsent message.
Secrets are read from an environment variable or a 0600 file, never from the config file,
and never appear in errors or logs.
"""

from __future__ import annotations

import os
import re
import stat
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from papersift.config import Key, Settings, _anchor, _check, _suggest
from papersift.deliver.digest import Digest
from papersift.deliver.render import Links
from papersift.errors import ConfigError, PapersiftError

CHANNELS: dict[str, type[Channel]] = {}


class DeliveryError(PapersiftError):
    """A send failed. `permanent`: retrying within this run cannot help (bad credentials,
    a rejected payload); the next run still tries again, the config may have been fixed."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def register(cls: type[Channel]) -> type[Channel]:
    CHANNELS[cls.type] = cls
    return cls


COMMON: dict[str, Key] = {
    "name": Key(str, None, "Unique name; deliveries are recorded per (user, day, name)."),
    "type": Key(str, None, "Channel type."),
    "users": Key(list, [], "Only these users' digests (default: every user).", str),
    "template": Key(str, "", "Your own Jinja2 template for the message body (variables: "
                    "d, links).", path=True),
    "max_entries": Key(int, 0, "Papers per digest on this channel at most (0: all)."),
}


class Channel(ABC):
    type: ClassVar[str]
    doc: ClassVar[str]
    keys: ClassVar[dict[str, Key]] = {}

    def __init__(self, opts: dict[str, Any], settings: Settings) -> None:
        self.settings = settings
        self.name: str = opts["name"]
        self.users: list[str] = opts["users"]
        self.template: str = opts["template"]
        self.max_entries: int = opts["max_entries"]
        self.opts = opts
        self.timeout: float = settings["delivery.timeout"]

    def wants(self, user: str) -> bool:
        return not self.users or user in self.users

    def trim(self, digest: Digest) -> Digest:
        if not self.max_entries or len(digest.entries) <= self.max_entries:
            return digest
        return Digest(digest.user, digest.day, digest.entries[: self.max_entries],
                      digest.candidates, digest.note, digest.since)

    @abstractmethod
    def render(self, digest: Digest, links: Links, key: str) -> list[Any]:
        """The messages to send, in order (deterministic: a resumed delivery skips a prefix)."""

    @abstractmethod
    def send(self, message: Any, key: str) -> str:
        """Send one message; returns what the channel answered (for the attempt record)."""

    def secret(self, what: str, required: bool = True) -> str | None:
        """`<what>_env` names an environment variable, `<what>_file` a 0600 file."""
        env_name, file_name = self.opts.get(f"{what}_env"), self.opts.get(f"{what}_file")
        if env_name:
            value = os.environ.get(env_name)
            if value:
                return value
            if not file_name:
                raise DeliveryError(f"channel {self.name}: environment variable {env_name} "
                                    f"(its {what}) is not set: export it", permanent=True)
        if file_name:
            path = Path(file_name).expanduser()
            try:
                mode = path.stat().st_mode
                if mode & (stat.S_IRWXG | stat.S_IRWXO):
                    raise DeliveryError(f"channel {self.name}: {what} file {path} is readable "
                                        f"by others: chmod 600 {path}", permanent=True)
                return path.read_text(encoding="utf-8").strip()
            except OSError as e:
                raise DeliveryError(f"channel {self.name}: cannot read {what} file {path}: "
                                    f"{e.strerror}; fix {what}_file", permanent=True) from None
        if required:
            raise DeliveryError(f"channel {self.name}: no {what}: set {what}_env (an "
                                f"environment variable's name) or {what}_file (a 0600 file)",
                                permanent=True)
        return None


def _secret_keys(what: str) -> dict[str, Key]:
    return {f"{what}_env": Key(str, "", f"Environment variable holding the {what}."),
            f"{what}_file": Key(str, "", f"File (mode 0600) holding the {what}.", path=True)}


SECRET_WORDS = re.compile(r"password|secret|token|api_?key", re.I)


def parse_channels(settings: Settings) -> list[Channel]:
    """Validate the [[channel]] tables into channel objects (one-line errors)."""
    _load_types()
    if settings["delivery.cadence"] not in ("daily", "weekly"):
        raise ConfigError(f"delivery.cadence must be daily or weekly, got "
                          f"{settings['delivery.cadence']!r}")
    if settings["delivery.weekly_day"] not in ("mon", "tue", "wed", "thu", "fri"):
        raise ConfigError(f"delivery.weekly_day must be a listing day, mon … fri, got "
                          f"{settings['delivery.weekly_day']!r}")
    out: list[Channel] = []
    where = f" in {settings.source}" if settings.source else ""
    for i, raw in enumerate(settings.channels, 1):
        label = f"[[channel]] #{i}{where}"
        kind = raw.get("type")
        if not isinstance(kind, str) or kind not in CHANNELS:  # type = [] is not a type
            raise ConfigError(f"{label}: unknown channel type {kind!r}"
                              f"{_suggest(str(kind), sorted(CHANNELS))}")
        cls = CHANNELS[kind]
        spec = {**COMMON, **cls.keys}
        opts: dict[str, Any] = {k: s.default for k, s in spec.items()}
        for key, value in raw.items():
            if key not in spec:
                hint = (f": secrets never go in the config file; use {key}_env or {key}_file"
                        if SECRET_WORDS.search(key) else _suggest(key, sorted(spec)))
                raise ConfigError(f"{label}: unknown key {key!r} for a {kind} channel{hint}")
            value = _check("channel", key, value, spec[key], f" ({label})")
            if spec[key].path and value and settings.source:
                value = _anchor(value, settings.source.parent)
            opts[key] = value
        if not opts["name"]:
            raise ConfigError(f"{label}: a channel needs a name, e.g. name = \"{kind}\"")
        if any(c.name == opts["name"] for c in out):
            raise ConfigError(f"{label}: two channels are named {opts['name']!r}: names must "
                              "be unique")
        missing = [k for k, s in cls.keys.items() if s.default is None and opts[k] is None]
        if missing:
            raise ConfigError(f"{label}: a {kind} channel needs {', '.join(missing)}")
        out.append(cls(opts, settings))
    return out


def channels_for(settings: Settings, user: str) -> list[Channel]:
    return [c for c in parse_channels(settings) if c.wants(user)]


def _load_types() -> None:
    """Importing the modules registers their channel types."""
    from papersift.deliver import email, feed, webhooks  # noqa: F401
