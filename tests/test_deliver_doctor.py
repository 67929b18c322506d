"""`papersift doctor` explains a day in plain words, from the real records a run leaves."""

import json

from click.testing import CliRunner

from papersift.cli import main
from papersift.doctor import diagnose
from papersift.jobs import threshold
from papersift.store import Store
from tests.delivery_fixtures import DAY1, USER, Env


def doctor(cfg, env: dict[str, str], *args: str) -> str:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(main, ["--config", str(cfg), "doctor", *args], env=env)
    assert res.exit_code == 0, res.output
    return res.output


def test_weekend_day(denv: Env) -> None:
    out = doctor(denv.write_config([]), denv.env, "--date", "2024-12-21")
    assert "No arXiv announcement on 2024-12-21 (a Saturday)" in out
    assert "the next listing is dated 2024-12-23" in out


def test_a_day_that_never_ran_and_no_channels(denv: Env) -> None:
    out = doctor(denv.write_config([]), denv.env, "--date", "2024-12-20")
    assert "papersift never ran for 2024-12-20" in out and "papersift serve" in out
    assert "No delivery channel is configured" in out


def test_arxiv_unreachable_is_explained_with_the_fix(denv: Env) -> None:
    cfg = denv.write_config([])
    text = cfg.read_text().replace("offline = true", 'offline = false\nrss_url = '
                                   '"http://127.0.0.1:9/rss"\nmin_interval = 0.0\n'
                                   "max_retries = 0")
    cfg.write_text(text)
    res = CliRunner().invoke(main, ["--config", str(cfg), "daily"], env=denv.env)
    assert res.exit_code == 1 and "arXiv unreachable" in res.output
    out = doctor(cfg, denv.env)  # no --date: the last run's day
    assert "failed while ingest: arXiv unreachable at http://127.0.0.1:9/rss" in out
    assert "arXiv could not be reached. Check the network" in out


def test_nothing_passed_the_threshold_and_an_unfinished_harvest(denv: Env) -> None:
    store = Store(denv.store_url)
    run = store.start_run("daily", USER, DAY1)
    store.update_run(run, status="ok", stage="done", detail="0 papers from 412")
    with store.begin() as conn:
        store.save_harvest_state(conn, "oai x", "token-1", {"from": "2024-12-01",
                                                             "set": "cs"}, 3000)
    settings = denv.settings([])
    text = "\n".join(diagnose(settings, DAY1))
    assert "finished: 0 papers from 412" in text
    assert f"Nothing passed your threshold ({threshold(settings)}): lower it" in text
    assert "stopped after 3000 records" in text and "papersift fetch --from 2024-12-01" in text
    assert json.dumps(store.unfinished_harvests()[0]["params"]) == \
        '{"from": "2024-12-01", "set": "cs"}'


def test_channel_waiting_and_killed_run(denv: Env) -> None:
    store = Store(denv.store_url)
    run = store.start_run("daily", USER, DAY1)
    store.update_run(run, stage="rank")
    settings = denv.settings([{"name": "mail", "type": "email", "to": ["a@example.org"],
                               "sender": "b@example.org"}])
    text = "\n".join(diagnose(settings, DAY1))
    assert "still marked running (stage rank)" in text and "it was killed: rerun it" in text
    assert f"mail: not delivered yet: run `papersift deliver --date {DAY1}`" in text
