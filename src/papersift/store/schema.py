"""Table definitions (SQLAlchemy Core). Migrations in migrations/versions create them."""

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# A paper is its arXiv id without version; text fields hold the latest version.
papers = Table(
    "papers", metadata,
    Column("id", String(32), primary_key=True),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    Column("authors", Text, nullable=False),  # JSON list of names
    Column("categories", Text, nullable=False),  # space-separated, primary first
    Column("comments", Text),
    Column("journal_ref", Text),
    Column("doi", Text),
    Column("license", Text),
    Column("created", String(10)),
    Column("updated", String(10)),
    Column("announced", String(10), index=True),
    Column("version", Integer, nullable=False),
    Column("text_hash", String(16), nullable=False),
)

versions = Table(
    "versions", metadata,
    Column("paper_id", String(32), ForeignKey("papers.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created", String(32)),
)

# What arXiv announced on a listing day: new, cross (cross-list) or replace.
listings = Table(
    "listings", metadata,
    Column("day", String(10), primary_key=True),
    Column("paper_id", String(32), ForeignKey("papers.id"), primary_key=True),
    Column("kind", String(8), nullable=False),
    Index("ix_listings_paper", "paper_id"),
)

# A cache, not a relation: vectors stay valid while the paper's text hash matches, and
# offline evaluation may cache papers it never stores.
embeddings = Table(
    "embeddings", metadata,
    Column("paper_id", String(32), primary_key=True),
    Column("model", String(64), primary_key=True),
    Column("text_hash", String(16), nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32, L2-normalised
)

profiles = Table(
    "profiles", metadata,
    Column("user", String(64), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("keywords", Text, nullable=False, default="[]"),  # JSON
    Column("authors", Text, nullable=False, default="[]"),  # JSON
    Column("version", Integer, nullable=False, default=1),
    Column("updated_at", String(32), nullable=False),
)

# The user's library: label +1 = liked/kept, -1 = explicit negative (feedback).
library = Table(
    "library", metadata,
    Column("user", String(64), primary_key=True),
    Column("paper_id", String(32), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("label", Integer, nullable=False, default=1),
    Column("added_at", String(32), nullable=False),
)

digests = Table(
    "digests", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(64), nullable=False),
    Column("day", String(10), nullable=False),
    Column("ranker", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("user", "day", name="uq_digest_user_day"),
)

# `user` is repeated here so the store itself guarantees a paper reaches a user once.
digest_entries = Table(
    "digest_entries", metadata,
    Column("digest_id", Integer, ForeignKey("digests.id"), primary_key=True),
    Column("rank", Integer, primary_key=True),
    Column("user", String(64), nullable=False),
    Column("paper_id", String(32), ForeignKey("papers.id"), nullable=False),
    Column("score", Float, nullable=False),
    Column("reason", Text, nullable=False),
    UniqueConstraint("user", "paper_id", name="uq_entry_user_paper"),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(32), nullable=False),
    Column("user", String(64)),
    Column("day", String(10)),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("status", String(16), nullable=False),  # running | ok | failed | empty
    Column("stage", String(32)),  # last stage reached
    Column("detail", Text),
)

# Resumable harvests: the OAI-PMH resumption token and the request it continues.
harvests = Table(
    "harvests", metadata,
    Column("key", String(200), primary_key=True),
    Column("token", Text),
    Column("params", Text, nullable=False),  # JSON of the initial request
    Column("records", Integer, nullable=False, default=0),
    Column("updated_at", String(32), nullable=False),
)

# --- quality (issue 9) ----------------------------------------------------------------------

# Dated per-paper signals (Hugging Face upvotes, a lab's ratings): training targets, and the
# authors' earlier public attention for papers announced after `day`.
quality_signals = Table(
    "quality_signals", metadata,
    Column("paper_id", String(32), primary_key=True),
    Column("signal", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("value", Float, nullable=False),
    Index("ix_quality_signals_day", "day"),
)

# Learned quality models, newest wins: a pickled scikit-learn estimator and what it learned.
quality_models = Table(
    "quality_models", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", String(32), nullable=False),
    Column("meta", Text, nullable=False),  # JSON: target, split, figures
    Column("model", LargeBinary, nullable=False),
)

# The comments as first stored (normally the listed version): `papers` keeps only the latest
# version's, and a later "accepted at ICLR" must not reach the paper's announcement day.
first_comments = Table(
    "first_comments", metadata,
    Column("paper_id", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated", String(10)),  # the day that version is from
    Column("comments", Text),
)


# --- deliveries (issue 5) ----------------------------------------------------------------

# One row per (user, day, channel): the exactly-once record. `status` is pending, sending
# (an attempt is in flight, by `owner`), sent, failed (will be retried) or gave_up; `parts`
# counts the messages of a split digest already accepted, so a resumed delivery skips them.
deliveries = Table(
    "deliveries", metadata,
    Column("user", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("parts", Integer, nullable=False, default=0),
    Column("key", String(128), nullable=False),  # idempotency key / Message-ID local part
    Column("owner", String(128)),  # host:pid of the process sending it now
    Column("next_try", String(32)),  # earliest time of the next attempt (backoff)
    Column("error", Text),  # last failure, in words
    Column("covers", Text),  # JSON list of listing days merged into this delivery
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("sent_at", String(32)),
)

# Every attempt, for `papersift doctor`: when, by whom, and what came back.
delivery_attempts = Table(
    "delivery_attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(64), nullable=False),
    Column("day", String(10), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("outcome", String(16)),  # sent | failed | NULL (killed while in flight)
    Column("detail", Text),
    Index("ix_delivery_attempts_key", "user", "day", "channel"),
)


# --- profiles from imported sources, and feedback (issue 4) ---------------------------------
# `library` stays the one view rankers read; these tables are what it is rebuilt from, so a
# paper held by two sources survives the removal of one, and feedback outranks imports.

# Where a user's papers come from: a BibTeX file, a Zotero library, a notes folder...
profile_sources = Table(
    "profile_sources", metadata,
    Column("user", String(64), primary_key=True),
    Column("source", String(32), primary_key=True),  # kind:hash of the location
    Column("kind", String(16), nullable=False),
    Column("location", Text, nullable=False),  # as the user wrote it (path, zotero:user/1)
    Column("text", Text, nullable=False, default=""),  # interest prose (notes)
    Column("items", Integer, nullable=False, default=0),
    Column("synced_at", String(32), nullable=False),
)

# Which papers each source holds (the library is their union plus feedback).
library_items = Table(
    "library_items", metadata,
    Column("user", String(64), primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("paper_id", String(32), primary_key=True),
    Column("added_at", String(32), nullable=False),
)

# Followed authors, keywords and muted topics added outside the config file.
profile_terms = Table(
    "profile_terms", metadata,
    Column("user", String(64), primary_key=True),
    Column("kind", String(8), primary_key=True),  # author | keyword | mute
    Column("value", Text, primary_key=True),
    Column("added_at", String(32), nullable=False),
)

# Every rating as it happened (up/down/save/dismiss); the latest per paper decides its label.
feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(64), nullable=False),
    Column("paper_id", String(32), nullable=False),
    Column("action", String(8), nullable=False),
    Column("via", String(16), nullable=False),  # cli | web | link | bootstrap
    Column("at", String(32), nullable=False),
    Index("ix_feedback_user_paper", "user", "paper_id"),
)


# --- the optional LLM layer (issue 7) --------------------------------------------------------

# One LLM judgement of a paper for a user: a cache (a paper is judged once per paper text,
# prompt version, model and profile version) and the soft labels distillation learns from.
llm_judgements = Table(
    "llm_judgements", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(64), nullable=False),
    Column("paper_id", String(32), nullable=False),
    Column("text_hash", String(16), nullable=False),  # the paper text that was judged
    Column("prompt_version", String(32), nullable=False),  # + "+fulltext" for full-text reads
    Column("model", String(128), nullable=False),
    Column("profile_version", String(16), nullable=False),  # hash of the summary the LLM read
    Column("relevance", Float, nullable=False),  # 0–10, clamped
    Column("novelty", Float, nullable=False),  # 0–10, clamped
    Column("reason", Text, nullable=False),  # length-limited, plain text
    Column("tldr", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("flagged", Integer, nullable=False, default=0),  # instructions found in the paper
    Column("tokens", Integer, nullable=False, default=0),
    Column("cost", Float, nullable=False, default=0.0),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("user", "paper_id", "text_hash", "prompt_version", "model",
                     "profile_version", name="uq_llm_judgements_key"),
    Index("ix_llm_judgements_user_paper", "user", "paper_id"),
)

# What the layer did in each daily run of a user: calls, tokens, cost, cache hits, failures.
llm_runs = Table(
    "llm_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(64), nullable=False),
    Column("day", String(10), nullable=False),
    Column("model", String(128), nullable=False),
    Column("judged", Integer, nullable=False),  # papers asked about
    Column("cached", Integer, nullable=False),  # answered from llm_judgements
    Column("failed", Integer, nullable=False),  # kept their local place
    Column("calls", Integer, nullable=False),  # HTTP requests, retries included
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost", Float, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("detail", Text, nullable=False, default=""),  # why papers fell back, budget stops
    Column("created_at", String(32), nullable=False),
    Index("ix_llm_runs_user_day", "user", "day"),
)


# --- web app (issue 6) ------------------------------------------------------------------
# Accounts of the web app. Single-user mode (bound to 127.0.0.1) keeps a row without a
# password for its UI language; `password` is an argon2 hash.
web_users = Table(
    "web_users", metadata,
    Column("user", String(64), primary_key=True),
    Column("password", Text),
    Column("lang", String(8)),  # en | zh; NULL: the browser's Accept-Language
    Column("created_at", String(32), nullable=False),
)

# Server-side sessions: the cookie holds a random token, the store only its SHA-256, so a
# leaked database opens no session and logout ends one for good.
web_sessions = Table(
    "web_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user", String(64), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Index("ix_web_sessions_user", "user"),
)

# PostgreSQL full-text search: the document Store.search_text matches, and the expression a
# GIN index (migration 0007) is built on; the two must be the same text for the index to apply.
PG_SEARCH_DOCUMENT = "to_tsvector('english', title || ' ' || abstract || ' ' || authors)"
