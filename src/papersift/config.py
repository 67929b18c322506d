"""Settings: one TOML file plus `PAPERSIFT_<SECTION>_<KEY>` environment overrides.

The schema below is the single source of truth: it validates files, parses environment
values and writes the commented file `papersift init` creates.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papersift.errors import ConfigError


def xdg_config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def xdg_data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def xdg_cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def default_config_path() -> Path:
    return xdg_config_home() / "papersift" / "config.toml"


def default_store_url() -> str:
    return f"sqlite:///{xdg_data_home() / 'papersift' / 'papersift.sqlite'}"


def default_digest_dir() -> str:
    return str(xdg_data_home() / "papersift" / "digests")


@dataclass(frozen=True)
class Key:
    type: type
    default: Any
    doc: str
    item: type | None = None  # element type for lists
    path: bool = False  # relative paths in a config file are relative to that file
    bounds: tuple[float, float] | None = None  # inclusive range of a number


SCHEMA: dict[str, dict[str, Key]] = {
    "store": {
        "url": Key(str, None, "SQLAlchemy URL of the store (SQLite file by default).",
                   path=True),
    },
    "arxiv": {
        "categories": Key(list, ["cs.CL", "cs.LG", "cs.AI"], "Categories whose daily listing "
                          "(new submissions and cross-lists) you want ranked.", str),
        "offline": Key(bool, False, "Never contact arXiv; use only what is in the store."),
        "rss_url": Key(str, "https://rss.arxiv.org/rss", "Daily announcement feed base URL."),
        "oai_url": Key(str, "https://oaipmh.arxiv.org/oai", "OAI-PMH endpoint."),
        "api_url": Key(str, "https://export.arxiv.org/api/query", "Query API endpoint."),
        "min_interval": Key(float, 3.0, "Seconds between two requests (arXiv asks for 3)."),
        "timeout": Key(float, 30.0, "Seconds before one request is abandoned."),
        "max_retries": Key(int, 5, "Retries on 429/503/timeouts, with backoff."),
        "backoff": Key(float, 2.0, "Seconds before the first retry, doubled for each next one "
                       "(a Retry-After answer wins).", bounds=(0.0, 3600.0)),
        "contact": Key(str, "", "An e-mail address put in the User-Agent, as arXiv asks."),
    },
    "embedding": {
        "backend": Key(str, "minilm+static", "Embedding backend: minilm+static (both below, "
                       "side by side: ranks best), minilm (all-MiniLM-L6-v2, local) or "
                       "minilm-static (the same distilled to a static model: ~50x faster)."),
        "batch_size": Key(int, 64, "Abstracts per forward pass."),
        "threads": Key(int, 2, "CPU threads for the embedding model."),
        "max_tokens": Key(int, 256, "Tokens of title+abstract the model reads (fewer is faster)."),
    },
    "digest": {
        "size": Key(int, 20, "Papers in a digest at most."),
        "min_level": Key(float, 0.9, "Worth-reading threshold: keep papers that outrank this "
                         "share of recent papers (0.9 = top 10 %; 0 keeps all), so a quiet "
                         "day brings fewer papers.", bounds=(0.0, 1.0)),
        "ranker": Key(str, "papersift", "Ranker name (see `papersift rankers`)."),
        "out_dir": Key(str, None, "Where Markdown and HTML digests are written.", path=True),
        "quality_weight": Key(float, 0.25, "How much a paper's quality (`papersift quality`) "
                              "lifts it: relevance + weight x quality standardised over the "
                              "day's papers; 0 ranks by relevance alone."),
        "workers": Key(int, 0, "Processes that rank users side by side in `papersift daily "
                       "--all-users` (0: one per CPU core on Linux, none elsewhere; 1: none).",
                       bounds=(0, 256)),
    },
    "profile": {
        "user": Key(str, "default", "Whose digest this is (several users can share a store)."),
        "ids": Key(list, [], "arXiv ids or abs/pdf URLs of papers you like.", str),
        "id_files": Key(list, [], "Text files with one arXiv id or URL per line "
                        "(# comments allowed).", str, path=True),
        "keywords": Key(list, [], "Phrases that lift a paper when its title/abstract has them.",
                        str),
        "authors": Key(list, [], "Authors you follow (as written on arXiv).", str),
        "description": Key(str, "", "Your interests in a few sentences, any language."),
        "sources": Key(list, [], "Where you keep papers, re-read before each digest: BibTeX "
                       "(.bib), RIS (.ris), id lists (.txt), Markdown notes (a .md file or a "
                       "folder), a zotero.sqlite, or zotero://user/<id> | zotero://group/<id> "
                       "(Web API).", str, path=True),
        "muted": Key(list, [], "Muted topics: papers whose title or abstract has one of these "
                     "phrases, or whose category is one of these (e.g. cs.CV), are dropped.",
                     str),
    },
    "zotero": {
        "api_url": Key(str, "https://api.zotero.org", "Zotero Web API base URL."),
        "api_key_file": Key(str, None, "File (mode 0600) holding your Zotero API key; "
                            "PAPERSIFT_ZOTERO_API_KEY overrides it.", path=True),
        "collections": Key(list, [], "Only these collections (and their subcollections); "
                           "empty = the whole library.", str),
        "exclude_collections": Key(list, [], "Never these collections.", str),
    },
    "web": {
        "base_url": Key(str, "http://127.0.0.1:8765", "Public address of `papersift serve`; "
                        "digest 👍/👎 links point here."),
        "secret_file": Key(str, None, "File (mode 0600) holding the key that signs feedback "
                           "links; created on first use. PAPERSIFT_SECRET_KEY overrides it.",
                           path=True),
        "link_days": Key(int, 14, "Days a feedback link in a delivered digest stays valid."),
        "host": Key(str, "127.0.0.1", "Address `papersift serve` binds the web app to. On "
                    "127.0.0.1/::1 it is single-user (profile.user, no login); any other "
                    "address requires accounts (`papersift web adduser`)."),
        "port": Key(int, 8765, "Port of the web app.", bounds=(1, 65535)),
        "accounts": Key(bool, False, "Require accounts even on 127.0.0.1 (several people "
                        "sharing one machine)."),
        "session_days": Key(int, 14, "Days a web sign-in lasts.", bounds=(1, 365)),
        "login_attempts": Key(int, 5, "Failed sign-ins allowed per address and account in "
                              "15 minutes before further tries are refused (four times as "
                              "many per address, and per account across addresses).",
                              bounds=(1, 1000)),
    },
    "delivery": {
        "retries": Key(int, 3, "Extra tries of a failed channel within one run (then again on "
                       "the next run)."),
        "backoff": Key(float, 2.0, "Seconds before the first retry; doubles each retry."),
        "timeout": Key(float, 20.0, "Seconds before one SMTP or webhook call is abandoned."),
        "max_attempts": Key(int, 20, "Give a delivery up after this many attempts over all "
                            "runs (`papersift deliver --retry-failed` tries again)."),
        "cadence": Key(str, "daily", "daily: a digest per listing day; weekly: one digest of "
                       "the week's best, delivered on `weekly_day`."),
        "weekly_day": Key(str, "fri", "With cadence = weekly: the listing day (mon–fri) whose "
                          "run delivers the week."),
    },
    "schedule": {
        "time": Key(str, "20:30", "When `papersift serve` runs the daily job (HH:MM), after "
                    "arXiv's announcement."),
        "timezone": Key(str, "America/New_York", "Time zone of schedule.time (arXiv's)."),
        "days": Key(list, ["sun", "mon", "tue", "wed", "thu"], "Weekdays the job runs "
                    "(arXiv announces Sunday–Thursday evenings).", str),
        "catchup": Key(str, "each", "After downtime: each (a digest per missed day), merged "
                       "(one digest of the missed days' best) or off."),
        "catchup_days": Key(int, 7, "Missed listing days caught up at most."),
    },
    "llm": {
        "enabled": Key(bool, False, "Ask an LLM (any OpenAI-compatible endpoint: Ollama, vLLM, "
                       "llama.cpp server, a hosted API) to rerank the top papers, explain them "
                       "and write a TL;DR. Off: papersift ranks locally only."),
        "base_url": Key(str, "http://127.0.0.1:11434/v1", "OpenAI-compatible API base URL "
                        "(…/v1)."),
        "model": Key(str, "qwen2.5:7b-instruct", "Chat model name as the endpoint knows it."),
        "embedding_model": Key(str, "", "Embeddings model `papersift llm test` also checks "
                               "(empty: none)."),
        "api_key_env": Key(str, "PAPERSIFT_LLM_API_KEY", "Environment variable holding the API "
                           "key (local servers need none)."),
        "api_key_file": Key(str, None, "File (mode 0600) holding the API key, when the "
                            "environment variable is unset.", path=True),
        "timeout": Key(float, 60.0, "Seconds before one request is abandoned."),
        "retries": Key(int, 2, "Extra tries of a failed or invalid answer, with backoff."),
        "backoff": Key(float, 1.0, "Seconds before the first retry; doubles each retry."),
        "concurrency": Key(int, 4, "Requests in flight at once."),
        "json_mode": Key(bool, True, "Send response_format json_object (JSON mode). Turn off "
                         "for a server that refuses it; the prompt asks for JSON anyway, and "
                         "a refusal (HTTP 400) turns it off for the run by itself."),
        "max_tokens_field": Key(str, "max_tokens", "Name of the answer-length limit sent: "
                                "max_tokens, or max_completion_tokens (newer OpenAI reasoning "
                                "models); a refusal (HTTP 400) switches for the run by "
                                "itself."),
        "top_n": Key(int, 30, "Papers of the local ranking the LLM judges (only these)."),
        "weight": Key(float, 2.0, "How far the LLM may move a paper: its relevance (0–10, 5 = "
                      "neutral) shifts the local score by at most weight x the spread of the "
                      "top papers' local scores.", bounds=(0.0, 10.0)),
        "max_tokens": Key(int, 60000, "Token budget of one daily run per user (prompt + "
                          "answer); papers past it keep their local order."),
        "max_cost": Key(float, 0.05, "Cost budget of one daily run per user, in the unit of "
                        "the prices (0 = no cost limit)."),
        "price_input": Key(float, 0.0, "Price per million prompt tokens (0 for local models)."),
        "price_output": Key(float, 0.0, "Price per million answer tokens."),
        "language": Key(str, "auto", "Language of TL;DRs and reasons: auto (Chinese when your "
                        "description or notes are mostly Chinese), zh or en."),
        "full_text": Key(bool, False, "Read the full text (arXiv HTML, else the PDF) of the "
                         "final few papers before writing their TL;DR."),
        "full_text_papers": Key(int, 5, "How many of the final papers get the full-text read."),
        "full_text_seconds": Key(float, 20.0, "Hard time limit to fetch and extract one "
                                 "paper's full text."),
        "html_url": Key(str, "https://arxiv.org/html", "arXiv HTML base URL."),
        "pdf_url": Key(str, "https://arxiv.org/pdf", "arXiv PDF base URL."),
        "distill": Key(bool, False, "Let stored LLM judgements teach the local model: papers "
                       "judged relevant (>= 7) join your library as weak positives."),
    },
}

# `[[channel]]` tables: where digests go. Their keys depend on the channel type and are
# checked by papersift.deliver.channels, which knows the types.
CHANNEL_TABLE = "channel"


@dataclass
class Settings:
    values: dict[str, dict[str, Any]]
    source: Path | None = None
    channels: list[dict[str, Any]] = field(default_factory=list)

    def __getitem__(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return self.values[section][key]

    @property
    def store_url(self) -> str:
        return self["store.url"] or default_store_url()

    @property
    def secret_file(self) -> Path:
        return Path(self["web.secret_file"] or xdg_data_home() / "papersift" / "secret.key")

    @property
    def digest_dir(self) -> Path:
        return Path(self["digest.out_dir"] or default_digest_dir()).expanduser()


def _anchor(value: str, base: Path) -> str:
    """Make a relative path (or sqlite:/// URL) from a config file relative to that file."""
    prefix = "sqlite:///" if value.startswith("sqlite:///") else ""
    if prefix == "" and "://" in value:
        return value  # another database URL: nothing to resolve
    path = Path(value.removeprefix(prefix)).expanduser()
    return prefix + str(path if path.is_absolute() else base / path)


def _where(source: Path | None) -> str:
    return f" in {source}" if source else ""


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(options)})"


def _check(section: str, key: str, value: Any, spec: Key, where: str) -> Any:
    name = f"{section}.{key}"
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, spec.type) or (spec.type is int and isinstance(value, bool)):
        raise ConfigError(
            f"config key {name} must be {_type_name(spec)}, got {value!r}{where}: fix the value"
        )
    if spec.item is not None and not all(isinstance(v, spec.item) for v in value):
        raise ConfigError(f"config key {name} must be {_type_name(spec)}{where}: fix the value")
    _in_bounds(name, value, spec, where)
    return value


def _in_bounds(name: str, value: Any, spec: Key, where: str) -> None:
    if spec.bounds and not spec.bounds[0] <= value <= spec.bounds[1]:
        raise ConfigError(f"config key {name} must be between {spec.bounds[0]:g} and "
                          f"{spec.bounds[1]:g}, got {value!r}{where}: fix the value")


def _type_name(spec: Key) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    if spec.type is list:
        return f"a list of {names[spec.item or str].split(' ', 1)[1]}s"
    return names[spec.type]


def _from_env(raw: str, spec: Key, name: str) -> Any:
    try:
        if spec.type is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if spec.type is list:
            return [v.strip() for v in raw.split(",") if v.strip()]
        return spec.type(raw)
    except ValueError:
        raise ConfigError(
            f"environment variable {name}={raw!r} must be {_type_name(spec)}: fix or unset it"
        ) from None


def load(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read the config file (if any), validate it, then apply environment overrides."""
    env = dict(os.environ) if env is None else env
    explicit = path is not None or "PAPERSIFT_CONFIG" in env
    path = Path(path or env.get("PAPERSIFT_CONFIG") or default_config_path()).expanduser()
    values = {s: {k: spec.default for k, spec in keys.items()} for s, keys in SCHEMA.items()}
    source: Path | None = None
    channels: list[dict[str, Any]] = []
    if path.exists():
        source = path.resolve()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"config file {path} is not valid TOML ({e}): fix the syntax") \
                from None
        where = _where(path)
        channels = data.pop(CHANNEL_TABLE, [])
        if not isinstance(channels, list) or not all(isinstance(c, dict) for c in channels):
            raise ConfigError(f"config entry {CHANNEL_TABLE!r} must be [[{CHANNEL_TABLE}]] "
                              f"tables{where}: write each channel as [[{CHANNEL_TABLE}]]")
        for section, table in data.items():
            if section not in SCHEMA:
                raise ConfigError(
                    f"unknown config section [{section}]{where}{_suggest(section, list(SCHEMA))}"
                )
            if not isinstance(table, dict):
                raise ConfigError(f"config entry {section!r} must be a [table]{where}")
            for key, value in table.items():
                if key not in SCHEMA[section]:
                    raise ConfigError(
                        f"unknown config key {section}.{key}{where}"
                        f"{_suggest(key, list(SCHEMA[section]))}"
                    )
                spec = SCHEMA[section][key]
                value = _check(section, key, value, spec, where)
                if spec.path:
                    value = ([_anchor(v, source.parent) for v in value] if spec.type is list
                             else _anchor(value, source.parent))
                values[section][key] = value
    elif explicit:
        raise ConfigError(f"config file {path} does not exist: run `papersift init` or fix "
                          "the path")
    for section, keys in SCHEMA.items():
        for key, spec in keys.items():
            name = f"PAPERSIFT_{section.upper()}_{key.upper()}"
            if name in env:
                values[section][key] = _from_env(env[name], spec, name)
                _in_bounds(f"{section}.{key}", values[section][key], spec,
                           f" (environment variable {name})")
    return Settings(values, source, channels)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if "\n" in value:
            return '"""\n' + value.strip("\n") + '\n"""'
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


CHANNEL_EXAMPLE = """Delivery channels: add one [[channel]] table per destination (several at once).
Secrets never go in this file: name an environment variable or a 0600 file instead.
[[channel]]
name = "mail"                      # unique; deliveries are recorded per (user, day, name)
type = "email"                     # email, feed, slack, feishu, dingtalk, wecom, discord, webhook
to = ["me@example.org"]
sender = "papersift <papersift@example.org>"
host = "smtp.example.org"
port = 587
security = "starttls"              # starttls, tls (implicit, port 465) or none
username = "papersift@example.org"
password_env = "PAPERSIFT_SMTP_PASSWORD"   # or password_file = "~/.config/papersift/smtp"

[[channel]]
name = "lab-slack"
type = "slack"
url_env = "SLACK_WEBHOOK_URL"      # or url = "https://hooks.slack.com/services/..."
users = ["ann"]                    # only these users' digests (default: every user)

`papersift channels` lists the types and every key they take."""


def render_template(overrides: dict[str, dict[str, Any]] | None = None) -> str:
    """A commented config file: every key, its meaning, and its env override."""
    overrides = overrides or {}
    lines = ["# papersift configuration. Every key can be overridden by an environment",
             "# variable PAPERSIFT_<SECTION>_<KEY>, e.g. PAPERSIFT_DIGEST_SIZE=10.", ""]
    for section, keys in SCHEMA.items():
        lines.append(f"[{section}]")
        for key, spec in keys.items():
            lines.append(f"# {spec.doc}")
            value = overrides.get(section, {}).get(key, spec.default)
            if value is None:
                default = {"url": default_store_url(), "out_dir": default_digest_dir()}.get(
                    key, "")
                lines.append(f"# {key} = {_toml_value(default)}")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    lines += [f"# {line}" if line else "" for line in CHANNEL_EXAMPLE.splitlines()] + [""]
    return "\n".join(lines)
