"""kill -9 at random points, under random arXiv faults: ingest loses and duplicates
nothing, and the daily job delivers each (user, day, channel) exactly once, counted per
delivery: a webhook killed in flight may come twice with one Idempotency-Key (the documented
edge), anything else received twice fails.

Each runs on SQLite and on PostgreSQL (a fresh database of the session's throwaway cluster
per trial, compared with a clean run on the same kind of store); ingest runs fewer seeds on
PostgreSQL, to bound CI time.

Trials are seeded: a failure names its seed; RELIABILITY_SEED=<seed> replays from it.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from tests.pg import BACKENDS
from tests.reliability.trials import (
    FAULTS,
    STAGES,
    DailyResult,
    DailyTrials,
    IngestTrials,
    Stores,
)

SEED = int(os.environ.get("RELIABILITY_SEED", "8000"))
INGEST_TRIALS = {"sqlite": 50, "postgresql": 15}
DAILY_TRIALS = 2 * len(STAGES)
ALL_USERS_TRIALS = len(STAGES) + 1  # and once aimed at the workers

# the trial fixtures (servers, clean runs, base stores) are made once per kind of store
on_both_stores = pytest.mark.parametrize("stores", BACKENDS, indirect=True, scope="module")


@pytest.mark.slow
@on_both_stores
def test_ingest_under_faults_and_kill_9_equals_a_clean_run(ingest_trials: IngestTrials,
                                                           stores: Stores) -> None:
    n = INGEST_TRIALS[stores.kind]
    results = []
    for seed in range(SEED, SEED + n):
        r = ingest_trials.run(seed)
        bad = {table: d for table, d in r.diff.items() if not d.clean}
        assert not bad, (f"seed {seed} ({r.command}, process {r.ended}, {r.reruns} reruns): "
                         f"{bad}; replay with RELIABILITY_SEED={seed}")
        results.append(r)
    ended = Counter(r.ended for r in results)
    assert ended["killed"] >= n // 2, ended  # most kills land mid-run
    assert {r.command for r in results} == {"harvest", "feed", "lookup"}
    assert set(ingest_trials.injected) == set(FAULTS), ingest_trials.injected


def run_trials(trials: DailyTrials, n: int) -> list[DailyResult]:
    """`n` seeded trials, each failing with its seed on the first violation."""
    results = []
    for seed in range(SEED, SEED + n):
        r = trials.run(seed)
        assert not r.violations, (f"seed {seed} (kill aimed at {r.aimed_at}, process "
                                  f"{r.ended} at stage {r.stage}): {r.violations}; replay "
                                  f"with RELIABILITY_SEED={seed}")
        results.append(r)
    return results


@pytest.mark.slow
@on_both_stores
def test_daily_killed_anywhere_delivers_each_channel_exactly_once(
        daily_trials: DailyTrials) -> None:
    results = run_trials(daily_trials, DAILY_TRIALS)
    # the kills really landed in the stages they were aimed at
    landed = {r.aimed_at for r in results if r.ended == "killed" and r.aimed_at != "any"}
    assert landed == {"ingest", "rank", "deliver"}, [(r.aimed_at, r.ended) for r in results]


@pytest.mark.slow
@on_both_stores
def test_all_users_with_workers_killed_anywhere_deliver_each_channel_exactly_once(
        all_users_trials: DailyTrials) -> None:
    """`daily --all-users` with two forked workers: the kill hits the parent, its workers die
    with it (else they would deliver behind the rerun's back), and the rerun completes."""
    results = run_trials(all_users_trials, ALL_USERS_TRIALS)
    assert any(r.aimed_at == "workers" and r.ended == "killed" for r in results), results
