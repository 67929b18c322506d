"""Quality features: what a paper carries, its authors' track record, and the time rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from papersift.quality.features import COL, FEATURES, Event, build, paper_day, venue_of
from papersift.records import Paper
from papersift.sources.dump import ImportReport, read_dump
from tests.conftest import DEMO_DAY, SHARED

SIGNALS = SHARED / "data" / "quality" / "hf-daily-upvotes.jsonl"


def paper(pid: str, day: str, authors: list[str], comments: str | None = None,
          abstract: str = "We study things.", version: int = 1,
          updated: str | None = None) -> Paper:
    return Paper(id=pid, title=f"Paper {pid}", abstract=abstract, authors=authors,
                 categories=["cs.CL"], comments=comments, announced=day, created=day,
                 updated=updated or day, version=version)


def history(papers: list[Paper]) -> list[tuple[str, str, list[str]]]:
    return [(p.id, paper_day(p), p.authors) for p in papers]


@pytest.mark.parametrize(("comments", "kind", "venue"), [
    ("Accepted at ICLR 2026. 9 pages, 4 figures", "main", "ICLR 2026"),
    ("To appear in NeurIPS'25 (spotlight)", "main", "NeurIPS 2025"),
    ("Accepted to the NeurIPS 2025 Workshop on Efficient Reasoning", "workshop", "NeurIPS 2025"),
    ("EMNLP 2025 Findings", "workshop", "EMNLP 2025"),
    ("Under review at ICML 2026", "pending", None),
    ("Accepted by the Journal of Obscure Results", "other", None),
    ("12 pages, 5 figures, 3 tables", "", None),
    ("", "", None),
])
def test_venue_read_from_comments(comments: str, kind: str, venue: str | None) -> None:
    assert venue_of(comments) == (kind, venue)


def test_paper_features_read_comments_and_abstract() -> None:
    p = paper("2511.00001", "2025-11-12", ["A B", "C D", "E F"],
              comments="Accepted at ACL 2025 (oral). 12 pages, 5 figures, 3 tables",
              abstract="Our method improves accuracy by 7.5% and outperforms prior work. "
                       "Code: https://github.com/x/y")
    t = build([p], history([p]))
    f = dict(zip(FEATURES, t.x[0], strict=True))
    assert f["venue_main"] == f["venue_highlight"] == f["github"] == f["url"] == 1
    assert f["pages"] == pytest.approx(np.log1p(12))
    assert f["figures"] == pytest.approx(np.log1p(5))
    assert f["tables"] == pytest.approx(np.log1p(3))
    assert f["n_authors"] == pytest.approx(np.log1p(3))
    assert f["results"] > 0 and f["claims"] > 0 and f["cat_cs.CL"] == 1
    assert t.venues == ["ACL 2025"]


def test_track_record_counts_only_earlier_days() -> None:
    earlier = [paper(f"2510.0000{i}", "2025-10-0" + str(i + 1), ["Ada Lovelace"])
               for i in range(3)]
    same_day = paper("2511.00002", "2025-11-12", ["Ada Lovelace"])
    target = paper("2511.00001", "2025-11-12", ["Ada Lovélace", "New Person"])
    events = [Event("2510.00000", "2025-10-02", "signal", 40.0),
              Event("2510.00001", "2025-10-03", "rating", 1.0),
              Event("2510.00002", "2025-10-05", "rating", -1.0)]
    t = build([target], history([*earlier, same_day, target]), events)
    assert np.expm1(t.col("prior_papers_max")[0]) == pytest.approx(3)  # not the same-day one
    assert t.col("known_authors")[0] == 0.5  # accents do not split an author
    assert np.expm1(t.col("prior_featured_sum")[0]) == pytest.approx(1)
    assert np.expm1(t.col("prior_votes_max")[0]) == pytest.approx(40)
    assert np.expm1(t.col("prior_liked")[0]) == pytest.approx(1)
    assert np.expm1(t.col("prior_disliked")[0]) == pytest.approx(1)


def test_an_author_keeps_their_track_record_however_the_apostrophe_is_typed() -> None:
    earlier = paper("2510.00001", "2025-10-01", ["Conor O’Brien"])
    target = paper("2511.00001", "2025-11-12", ["Conor O'Brien", "New Person"])
    t = build([target], history([earlier, target]), [])
    assert t.col("known_authors")[0] == 0.5


def test_an_author_entry_without_a_name_has_no_track_record() -> None:
    """Real records hold ':' where a list of names was split badly: such entries are no
    author, so papers carrying one do not share a track record."""
    earlier = [paper(f"2510.0000{i}", "2025-10-0" + str(i + 1), ["A B", ":"]) for i in range(3)]
    target = paper("2511.00001", "2025-11-12", [":", "New Person"])
    t = build([target], history([*earlier, target]),
              [Event(earlier[0].id, "2025-10-02", "signal", 40.0)])
    assert t.col("known_authors")[0] == 0
    assert t.col("prior_papers_max")[0] == t.col("prior_votes_max")[0] == 0


def test_no_future_information_reaches_a_paper() -> None:
    """Everything dated on or after the paper's day is invisible to it: later papers, later
    upvotes (also of earlier papers), later ratings, and a later version's comments."""
    day = "2025-11-12"
    old = paper("2510.00001", "2025-10-01", ["Ada Lovelace"])
    listed = paper("2511.00001", day, ["Ada Lovelace", "Bo Li"])
    past_only = build([listed], history([old, listed]),
                      [Event(old.id, "2025-10-02", "signal", 5.0)])
    replaced = paper("2511.00001", day, ["Ada Lovelace", "Bo Li"], version=2,
                     updated="2026-01-20", comments="Accepted at ICLR 2026; code on github.com",
                     abstract=listed.abstract)
    later = [paper(f"2512.0000{i}", "2025-12-0" + str(i + 1), ["Bo Li"]) for i in range(5)]
    future = [Event(old.id, day, "signal", 500.0), Event(old.id, "2026-01-01", "signal", 900.0),
              Event(listed.id, day, "signal", 77.0), Event(old.id, "2025-12-01", "rating", 1.0),
              Event(later[0].id, "2025-12-02", "signal", 300.0),
              Event(listed.id, "2025-11-20", "recommended")]
    with_future = build([replaced], history([old, replaced, *later]),
                        [Event(old.id, "2025-10-02", "signal", 5.0), *future])
    np.testing.assert_array_equal(with_future.x, past_only.x)
    assert with_future.venues == [None]


def test_attention_before_a_paper_is_listed_counts_from_its_listing_day() -> None:
    """A signal dated before its paper's listing (a quirk of the archives) is not past
    information for the paper's co-listed siblings."""
    a = paper("2511.00001", "2025-11-12", ["Ada Lovelace"])
    b = paper("2511.00002", "2025-11-12", ["Ada Lovelace"])
    t = build([b], history([a, b]), [Event(a.id, "2025-11-10", "signal", 50.0)])
    assert t.col("prior_featured_sum")[0] == 0


def test_no_leak_on_real_data(shared_day_dump: Path) -> None:
    """The demo day's features from the whole slice and every signal (up to 2026) equal
    those from only what existed before that day."""
    papers = list(read_dump(shared_day_dump, ImportReport()))
    signals = [json.loads(line) for line in SIGNALS.open()]
    events = [Event(s["id"], s["date"], "signal", float(s["value"])) for s in signals]
    todays = [p for p in papers if p.announced == DEMO_DAY]
    everything = build(todays, history(papers), events)
    past = [p for p in papers if paper_day(p) < DEMO_DAY]
    known = build(todays, history(past + todays), [e for e in events if e.day < DEMO_DAY])
    np.testing.assert_array_equal(everything.x, known.x)
    # … and the track record is not empty, so the comparison means something
    assert (everything.col("prior_featured_sum") > 0).sum() > 20
    assert len(todays) > 300 and everything.x[:, COL["prior_papers_max"]].max() > 1
