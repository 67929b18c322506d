"""The daily job end to end on a real listing day (2025-11-12) with the example profile."""

import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from papersift import config
from papersift.cli import main
from papersift.errors import ProfileError
from papersift.jobs import daily
from papersift.rank.embed import MiniLM
from tests.conftest import DEMO_DAY, EXAMPLES
from tests.pg import both_stores

TOPICAL = ("learning rate", "batch", "scaling", "distill", "pretrain", "pre-train", "training",
           "attention", "recurrent", "linear", "emergen", "data", "parallel", "efficien",
           "language model", "llm", "transformer", "mamba", "state space")


def rows(settings: config.Settings, table: str) -> int:
    db = settings.store_url.removeprefix("sqlite:///")
    return sqlite3.connect(db).execute(f"select count(*) from {table}").fetchone()[0]


@both_stores
def test_demo_day_gives_a_relevant_digest_with_reasons(demo_settings: config.Settings,
                                                       embedder: MiniLM) -> None:
    result = daily(demo_settings, DEMO_DAY, embedder=embedder)
    entries = result.digest.entries
    # only papers above the worth-reading level, at most a digest's size
    assert 8 <= len(entries) <= demo_settings["digest.size"] == 15
    assert result.digest.candidates > 200
    assert [e.rank for e in entries] == list(range(1, len(entries) + 1))
    on_topic = [e for e in entries
                if any(t in (e.paper.title + e.paper.abstract).lower() for t in TOPICAL)]
    assert len(on_topic) >= 0.8 * len(entries)
    cut = 100 * (1 - demo_settings["digest.min_level"])
    for e in entries:
        top = re.search(r"top ([\d.]+)% of recent papers", e.reason)
        assert top and float(top.group(1)) <= cut + 0.1, e.reason
        assert e.paper.announced == DEMO_DAY
        assert e.reason.startswith(("close to", "keyword", "author"))
        assert set(e.paper.categories) & {"cs.CL", "cs.LG", "cs.AI"}
    md, html = (p.read_text() for p in result.files)
    assert entries[0].paper.url in md and entries[0].paper.url in html
    assert "**Why:**" in md and "<strong>Why:</strong>" in html
    assert not result.warnings


def test_rerun_prints_the_same_digest_and_stores_nothing_twice(
        demo_settings: config.Settings, embedder: MiniLM) -> None:
    first = daily(demo_settings, DEMO_DAY, embedder=embedder)
    counts = {t: rows(demo_settings, t) for t in ("digest_entries", "digests", "embeddings",
                                                  "papers", "library")}
    again = daily(demo_settings, DEMO_DAY, embedder=embedder)
    assert again.reused and not first.reused
    assert [(e.paper.id, e.score, e.reason) for e in again.digest.entries] == \
        [(e.paper.id, e.score, e.reason) for e in first.digest.entries]
    assert {t: rows(demo_settings, t) for t in counts} == counts


@both_stores
def test_next_day_never_repeats_a_paper(demo_settings: config.Settings,
                                        embedder: MiniLM) -> None:
    first = daily(demo_settings, DEMO_DAY, embedder=embedder)
    second = daily(demo_settings, "2025-11-13", embedder=embedder)
    assert second.digest.entries
    assert not {e.paper.id for e in first.digest.entries} & \
        {e.paper.id for e in second.digest.entries}


def test_weekend_day_says_so_plainly(demo_settings: config.Settings) -> None:
    result = daily(demo_settings, "2025-11-16")
    assert result.digest.entries == []
    assert result.digest.note == ("no arXiv announcement on 2025-11-16 (a Sunday): arXiv lists "
                                  "new papers Monday–Friday")


def test_weekday_missing_from_store_explains_what_to_do(demo_settings: config.Settings) -> None:
    result = daily(demo_settings, "2025-11-19")
    assert "no listing for 2025-11-19 in the store" in (result.digest.note or "")
    assert "papersift import-dump" in (result.digest.note or "")


def test_empty_profile_is_a_clear_error(tmp_path: Path, demo_env: dict[str, str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[arxiv]\noffline = true\n")
    with pytest.raises(ProfileError, match=r"profile of user 'default' is empty: add arXiv ids"):
        daily(config.load(cfg, env=demo_env), DEMO_DAY)


def test_library_ids_missing_offline_are_reported(tmp_path: Path, demo_env: dict[str, str],
                                                  embedder: MiniLM) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[arxiv]\noffline = true\n[profile]\nids = ["2505.13738", "1706.03762"]\n')
    result = daily(config.load(cfg, env=demo_env), DEMO_DAY, embedder=embedder)
    assert result.digest.entries
    assert any("1 library paper(s) are not in the store" in w and "1706.03762" in w
               for w in result.warnings)


def test_invalid_id_in_an_id_file_names_file_and_line(tmp_path: Path,
                                                      demo_env: dict[str, str]) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("# mine\n2505.13738\nhttps://arxiv.org/abs/2505.22491\n25o5.1234\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[arxiv]\noffline = true\n[profile]\nid_files = ["ids.txt"]\n')
    res = CliRunner().invoke(main, ["--config", str(cfg), "daily", "--date", DEMO_DAY],
                             env=demo_env)
    assert res.exit_code == 1
    assert f"{ids}:4: invalid arXiv id '25o5.1234'" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_invalid_date_is_a_clear_error(demo_env: dict[str, str]) -> None:
    res = CliRunner().invoke(main, ["--config", str(EXAMPLES / "demo.toml"), "daily",
                                    "--date", "12/11/2025"], env=demo_env)
    assert res.exit_code == 1
    assert "invalid date '12/11/2025': use YYYY-MM-DD" in res.output


@pytest.mark.slow
def test_cli_daily_prints_table_and_writes_files(demo_env: dict[str, str]) -> None:
    res = CliRunner().invoke(main, ["--config", str(EXAMPLES / "demo.toml"), "daily",
                                    "--date", DEMO_DAY], env=demo_env)
    assert res.exit_code == 0, res.output
    assert "papersift — 2025-11-12 (15 of" in res.output
    out = Path(demo_env["PAPERSIFT_DIGEST_OUT_DIR"]) / "default"
    assert (out / f"{DEMO_DAY}.md").exists() and (out / f"{DEMO_DAY}.html").exists()
    runs = CliRunner().invoke(main, ["--config", str(EXAMPLES / "demo.toml"), "runs"],
                              env=demo_env)
    assert f"daily {DEMO_DAY} default: ok at done — 15 papers from" in runs.output
