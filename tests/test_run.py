"""The scheduled job end to end: the sample document on the test web, incremental runs,
dead links over days, offline runs, the lock, a killed run, recheck and history."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.config import Settings
from pipeline.errors import CannotRunError
from pipeline.history import build_reports, url_history
from pipeline.jobs import recheck, run_documents
from pipeline.report.ci_formats import render_new_issues
from pipeline.report.text import format_summary
from pipeline.store import LockHeld, Store
from pipeline.summary import RunOptions
from tests.conftest import SAMPLE
from tests.testweb import sample_web
from tests.testweb.archive import Capture
from tests.testweb.fake_ia import FakeInternetArchive
from tests.testweb.origin import OriginServer, Page

SCHEMA = json.loads((Path(__file__).parent.parent / "pipeline" / "report" / "report.schema.json").read_text())


# --- the sample document, end to end --------------------------------------------------


def test_sample_run_finishes_with_every_citation_and_url(sample_run) -> None:
    web, settings, summary = sample_run
    assert summary.status == "done" and summary.citations == 36 and summary.checked == 46
    assert summary.exit_code == 0  # nothing died in this run: one failure is not a dead link
    assert summary.links == {"alive": 36, "dead": 0, "uncertain": 10}  # 3 tweets, 7 failures


def test_sample_run_verdicts_are_the_expected_ones(sample_run) -> None:
    web, settings, summary = sample_run
    report = json.loads(Path(summary.documents[0].reports[1]).read_text())
    got = {c["index"]: c["verdict"] for c in report["citations"]}
    expected = {i: sample_web.EXPECTED_VERDICTS.get(i, "verified") for i in range(1, 37)}
    assert got == expected
    changed = {c["index"] for c in report["citations"] if any(p["changed_since_cited"] for p in c["passages"])}
    assert changed == sample_web.CHANGED


def test_sample_run_link_classes(sample_run) -> None:
    web, settings, summary = sample_run
    report = json.loads(Path(summary.documents[0].reports[1]).read_text())
    classes = {s["canonical"]: s["status"] for c in report["citations"] for s in c["sources"]}
    for piece, status in sample_web.EXPECTED_CLASSES.items():
        matching = [v for k, v in classes.items() if piece in k]
        assert matching and set(matching) == {status}, piece
    others = [v for k, v in classes.items() if not any(p in k for p in sample_web.EXPECTED_CLASSES)]
    assert set(others) == {"ok"}
    paywalled = [s for c in report["citations"] for s in c["sources"] if s["paywall"]]
    assert {s["canonical"].split("/")[2] for s in paywalled} == {"www.wsj.com", "www.thetimes.co.uk"}


def _what_the_report_says(report: dict) -> list[tuple]:
    """A report's findings, without the times and paths of the run that made them."""
    return [(c["id"], c["verdict"], tuple((s["canonical"], s["status"], s["state"], s["paywall"]) for s in c["sources"]),
             tuple((p["verdict"], p["changed_since_cited"], tuple(p["absent"])) for p in c["passages"]))
            for c in report["citations"]]


def test_the_sample_run_on_postgresql_says_what_the_sqlite_run_says(sample_run, origin: OriginServer,
                                                                    postgres_cluster, tmp_path: Path) -> None:
    """The same job on the same web (its counters reset before each run: some of its pages
    answer by how often they were asked), once on a SQLite file and once on PostgreSQL: the
    same classes, states and verdicts, read back from each database."""
    web, settings, _ = sample_run
    runs = []
    for name, db in (("sqlite", str(tmp_path / "db.sqlite")), ("postgresql", postgres_cluster.fresh_database())):
        origin.reset_counts()
        on = dataclasses.replace(settings, db=db, reports_dir=str(tmp_path / name / "reports"),
                                 evidence_dir=str(tmp_path / name / "evidence"))
        runs.append((on, run_documents([str(SAMPLE)], on)))
    (_, on_sqlite), (on_postgres, on_pg) = runs
    assert (on_pg.status, on_pg.citations, on_pg.checked, on_pg.links) == \
        (on_sqlite.status, on_sqlite.citations, on_sqlite.checked, on_sqlite.links) == ("done", 36, 46, on_pg.links)
    reports = [json.loads(Path(summary.documents[0].reports[1]).read_text()) for _, summary in runs]
    assert _what_the_report_says(reports[1]) == _what_the_report_says(reports[0])
    store = Store.open(on_postgres.db)
    assert store.db.kind == "postgresql"
    assert store.count("checks") == 46 and store.count("matches") == 36 and store.count("runs") == 1
    assert [row[0] for row in store.db.execute("SELECT status FROM runs")] == ["done"]


def test_sample_reports_are_written_and_valid(sample_run) -> None:
    web, settings, summary = sample_run
    paths = summary.documents[0].reports
    assert [Path(p).name for p in paths] == ["report.html", "report.json", "report.md"]
    assert Path(paths[0]).parent.name == "000_7d4670f58732b56e"
    data = json.loads(Path(paths[1]).read_text())
    jsonschema.validate(data, SCHEMA)
    assert data["summary"]["archive"]["archived"] == 41  # 46 less 3 tweets, the short link, mehrnews


def test_the_run_renders_what_the_store_then_gives_back(sample_run, tmp_path: Path) -> None:
    """The run renders its reports from the results it holds; `report` renders them from the
    store. The two must agree, field for field (only the run's end time is known later)."""
    web, settings, summary = sample_run
    ran = json.loads(Path(summary.documents[0].reports[1]).read_text())
    path, index = build_reports(dataclasses.replace(settings, reports_dir=str(tmp_path)), ["json"])
    rebuilt = json.loads(Path(path).read_text())
    assert Path(index).name == "index.json"
    assert ran["run"].pop("finished_at") is None and rebuilt["run"].pop("finished_at")
    assert rebuilt == ran


# --- incremental runs, counted at the servers -----------------------------------------

SMALL = """A small research note

http://one.test/ok
1 May 2016: British troops in Afghanistan are being targeted by surface-to-air missiles.

http://two.test/page
2 May 2016: British troops in Afghanistan are being targeted by surface-to-air missiles.
"""


@pytest.fixture
def fake_ia() -> Iterator[FakeInternetArchive]:
    body = b"<p>British troops in Afghanistan are being targeted by surface-to-air missiles.</p>"
    server = FakeInternetArchive([Capture("http://one.test/ok", "20160601000000", body=body),
                                  Capture("http://two.test/page", "20160601000000", body=body)]).start()
    yield server
    server.stop()


@pytest.fixture
def small(tmp_path: Path, fake_ia: FakeInternetArchive, web_settings: Settings) -> tuple[Path, Settings]:
    document = tmp_path / "note.txt"
    document.write_text(SMALL)
    settings = dataclasses.replace(
        web_settings, **{k: v for k, v in fake_ia.env().items()}, archive_cdx_per_minute=0,
        archive_replay_per_second=0, canary_url="http://canary.test/ok", db=str(tmp_path / "db.sqlite"),
        reports_dir=str(tmp_path / "reports"), check_backoff=0.01, soft404_probe=False,
    )
    return document, settings


def test_second_run_within_max_age_makes_no_request_and_force_does(
        small, origin: OriginServer, fake_ia: FakeInternetArchive) -> None:
    document, settings = small
    first = run_documents([str(document)], settings)
    assert first.checked == 2 and first.verdicts == {"verified": 2}
    report = Path(settings.reports_dir) / "note" / "report.json"
    first_report = json.loads(report.read_text())
    origin.reset_counts()
    fake_ia.reset()
    second = run_documents([str(document)], settings)
    assert second.checked == 0 and second.reused == 2 and second.verdicts == {"verified": 2}
    second_report = json.loads(report.read_text())  # from what the store knew: nothing was asked
    assert second_report["run"]["id"] == first_report["run"]["id"] + 1
    assert second_report["citations"] == first_report["citations"] and second_report["summary"] == first_report["summary"]
    assert origin.requests_for(host="one.test") == [] and origin.requests_for(host="two.test") == []
    assert origin.requests_for(host="canary.test") == [] and fake_ia.requests == []
    forced = run_documents([str(document)], settings, RunOptions(force=True))
    assert forced.checked == 2
    assert len(origin.requests_for(host="one.test")) == 1 and fake_ia.count("/web/") >= 2
    cdx = [path for _, path in fake_ia.requests if path.startswith("/cdx")]
    assert len(cdx) == 1 and "url=example.com" in cdx[0]  # the availability ping; answers stay cached


def test_a_failed_url_is_always_checked_again(small, origin: OriginServer) -> None:
    document, settings = small
    document.write_text(SMALL + "\nhttp://down.test/status/404\n3 May 2016: Gone.\n")
    run_documents([str(document)], settings)
    origin.reset_counts()
    again = run_documents([str(document)], settings)
    assert again.checked == 1 and len(origin.requests_for(host="down.test")) == 1


def test_a_quote_misquoted_for_the_first_time_is_a_new_problem_once(small, origin: OriginServer) -> None:
    document, settings = small
    document.write_text(SMALL.replace("2 May 2016: British troops", "2 May 2016: French troops"))
    first = run_documents([str(document)], settings, RunOptions(fail_on="never"))
    assert first.verdicts == {"verified": 1, "misquoted": 1}
    problem, = first.new_problems
    assert problem.kind == "misquoted" and problem.url == "http://two.test/page"
    assert problem.cited[0].line == 6 and {"quote": "French", "source": "British"} in problem.differences
    again = run_documents([str(document)], settings, RunOptions(force=True, fail_on="never"))
    assert again.verdicts == first.verdicts and again.new_problems == []  # still misquoted, not new
    text = render_new_issues([p.to_json() for p in first.new_problems])
    assert "quote differs from its source" in text and "~~French~~ → source: **British**" in text


# --- state over days --------------------------------------------------------------------


def at(settings: Settings, day: float) -> Settings:
    seconds = int(day * 86400)
    return dataclasses.replace(settings, now=f"2026-01-{1 + seconds // 86400:02d}T{seconds % 86400 // 3600:02d}:00:00Z")


def at_night(night: int) -> str:
    """The date `at(settings, night)` runs on."""
    return f"2026-01-{1 + night:02d}"


def test_dead_after_k_failures_over_d_days(small, origin: OriginServer) -> None:
    document, settings = small
    document.write_text("Notes\n\nhttp://dying.test/status/404\n1 May 2016: A claim.\n")
    states = []
    for day in (0, 1, 2, 3):
        summary = run_documents([str(document)], at(settings, day), RunOptions(reports=False))
        states.append((summary.links, summary.newly_dead, summary.exit_code))
    assert [s[0]["dead"] for s in states] == [0, 0, 0, 1]  # three failures span only two days until day 3
    assert states[3][1] == ["http://dying.test/status/404"] and states[3][2] == 1  # --fail-on new-dead
    history = url_history("http://dying.test/status/404", settings)
    assert [c["state_after"] for c in history["checks"]] == ["dead", "uncertain", "uncertain", "uncertain"]
    assert history["events"][0]["new_state"] == "dead"


def test_a_flapping_link_never_becomes_dead(small, origin: OriginServer) -> None:
    document, settings = small
    # The flapping link fails 6 times in 8 days (never 3 in a row); the control fails every day.
    document.write_text("Notes\n\nhttp://flap.test/story\n1 May 2016: A claim.\n\n"
                        "http://control.test/story\n2 May 2016: Another claim.\n")
    origin.add_page("control.test", "/story", Page(404, b"<p>gone</p>"))
    states = []
    for day in range(8):
        origin.add_page("flap.test", "/story", Page(200 if day % 3 == 2 else 404, b"<p>story</p>"))
        summary = run_documents([str(document)], dataclasses.replace(at(settings, day), max_age="0"),
                                RunOptions(reports=False))
        states.append((summary.checked, summary.links["dead"]))
    flap = url_history("http://flap.test/story", settings)
    control = url_history("http://control.test/story", settings)
    assert [c["status"] for c in reversed(flap["checks"])] == \
        ["ok" if day % 3 == 2 else "not_found" for day in range(8)]  # every day's check ran
    assert all(c["state_after"] != "dead" for c in flap["checks"]) and flap["state"] == "uncertain"
    assert control["state"] == "dead" and states[3] == (2, 1)  # the same rule kills a link that never recovers
    assert all(checked == 2 for checked, _ in states)


@pytest.mark.slow
def test_blocked_and_timeouts_never_count_towards_dead(small, origin: OriginServer) -> None:
    document, settings = small
    document.write_text("Notes\n\nhttp://walled.test/bot-wall\n1 May 2016: A claim.\n\n"
                        "http://sleepy.test/ok?delay=2\n2 May 2016: Another claim.\n")
    quick = dataclasses.replace(settings, read_timeout=0.3, check_retries=0)
    for day in range(6):
        summary = run_documents([str(document)], at(quick, day), RunOptions(reports=False))
    assert summary.links["dead"] == 0 and summary.links["uncertain"] == 2
    walled = url_history("http://walled.test/bot-wall", settings)["checks"]
    sleepy = url_history("http://sleepy.test/ok?delay=2", settings)["checks"]
    assert [c["status"] for c in walled] == ["blocked"] * 6 and [c["status"] for c in sleepy] == ["timeout"] * 6


# --- offline, lock, kill -9 -----------------------------------------------------------


def test_offline_is_exit_3_and_nothing_changes_state(small, origin: OriginServer, tmp_path: Path) -> None:
    document, settings = small
    run_documents([str(document)], settings)
    store = Store.open(settings.db)
    before = (store.count("checks"), store.count("events"), [store.url_state(u) for u in ("http://one.test/ok",)])
    store.close()
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    offline = dataclasses.replace(settings, connect_to=(f":80:127.0.0.1:{port}", f":443:127.0.0.1:{port}"),
                                  canary_url="http://canary.test/ok")
    with pytest.raises(CannotRunError, match="network looks unreachable"):
        run_documents([str(document)], offline, RunOptions(force=True))
    store = Store.open(settings.db)
    after = (store.count("checks"), store.count("events"), [store.url_state(u) for u in ("http://one.test/ok",)])
    last = store.db.execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    store.close()
    assert after == before and last == "inconclusive"
    result = CliRunner().invoke(cli, ["run", str(document), "--force"],
                                env={"CITEWATCH_DB": settings.db, "CITEWATCH_CONNECT_TO": f":80:127.0.0.1:{port}",
                                     "CITEWATCH_CANARY_URL": "http://canary.test/ok"})
    assert result.exit_code == 3 and "network looks unreachable" in result.output


def _lock_holder(db: str, *, stay: bool) -> subprocess.Popen:
    """Another citewatch process that takes the database's lock (as a run does) and, with
    `stay`, holds it until its stdin closes; returns once the lock is taken."""
    code = ("import os, sys; from pipeline.store import Store; store = Store.open(sys.argv[1]); "
            "store.acquire_lock('2026-11-26T01:02:03Z'); print('locked', flush=True); "
            + ("sys.stdin.read()" if stay else "os._exit(0)"))
    holder = subprocess.Popen([sys.executable, "-c", code, db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_lock_held_by_a_live_process_is_exit_3(small) -> None:
    document, settings = small
    holder = _lock_holder(settings.db, stay=True)  # alive until told
    try:
        with pytest.raises(LockHeld, match=f"PID {holder.pid}, started 2026-11-26T01:02:03Z"):
            run_documents([str(document)], settings)
        result = CliRunner().invoke(cli, ["run", str(document), "--db", settings.db])
        assert result.exit_code == 3 and f"PID {holder.pid}" in result.output
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_of_a_dead_process_is_taken_over(small) -> None:
    document, settings = small
    dead = _lock_holder(settings.db, stay=False)  # took the lock, then died without letting go
    dead.wait()
    summary = run_documents([str(document)], settings)
    assert summary.status == "done" and any("stale lock" in n for n in summary.notes)


def slow_run_setup(tmp_path: Path, origin: OriginServer, ca_file: Path, fake_ia: FakeInternetArchive, prefix: str,
                   count: int, concurrency: int) -> tuple[Path, Path, dict[str, str]]:
    """A document of `count` slow URLs and the environment of a `citewatch run` subprocess."""
    urls = [f"http://{prefix}{n}.test/ok?delay=0.4" for n in range(count)]
    document = tmp_path / "many.txt"
    document.write_text("Many\n\n" + "".join(f"{u}\n{n + 1} May 2016: Claim {n}.\n\n" for n, u in enumerate(urls)))
    db = tmp_path / "db.sqlite"
    env = {**os.environ, "CITEWATCH_DB": str(db), "CITEWATCH_REPORTS_DIR": str(tmp_path / "reports"),
           "CITEWATCH_CONNECT_TO": ",".join(origin.connect_to()), "CITEWATCH_CA_BUNDLE": str(ca_file),
           "CITEWATCH_CANARY_URL": "http://canary.test/ok", "CITEWATCH_CHECK_CONCURRENCY": str(concurrency),
           "CITEWATCH_SOFT404_PROBE": "0", "CITEWATCH_ARCHIVE_CDX_PER_MINUTE": "0",
           "CITEWATCH_ARCHIVE_REPLAY_PER_SECOND": "0",
           **{f"CITEWATCH_{k.upper()}": v for k, v in fake_ia.env().items()}}
    return document, db, env


def wait_for_checks(db: Path, wanted: int, timeout: float = 20) -> int:
    """Poll the database of a running subprocess until it holds `wanted` checks."""
    deadline = time.monotonic() + timeout
    checks = 0
    while time.monotonic() < deadline and checks < wanted:
        time.sleep(0.1)
        if db.exists():
            try:
                store = Store.open(db)
                checks = store.count("checks")
                store.close()
            except Exception:  # the schema may be mid-creation
                checks = 0
    return checks


@pytest.mark.slow
def test_kill_9_midway_then_rerun_completes_without_duplicates(tmp_path: Path, origin: OriginServer, ca_file: Path,
                                                               fake_ia: FakeInternetArchive) -> None:
    document, db, env = slow_run_setup(tmp_path, origin, ca_file, fake_ia, "slow", 12, concurrency=2)
    run = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(document)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checks = wait_for_checks(db, 4)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert 4 <= checks < 12, "the run was not killed midway"
    again = subprocess.run([sys.executable, "-m", "pipeline", "run", str(document), "--json"], env=env,
                           capture_output=True, text=True, timeout=120)
    summary = json.loads(again.stdout)
    assert again.returncode == 0 and summary["status"] == "done"
    assert summary["reused"] >= 4 and summary["checked"] == 12 - summary["reused"]
    assert any("stale lock" in note for note in summary["notes"])
    document_summary = summary["documents"][0]
    assert sum(document_summary["verdicts"].values()) == document_summary["citations"] == 12  # per document
    store = Store.open(db)
    rows = store.db.execute("SELECT canonical, COUNT(*) FROM checks GROUP BY canonical").fetchall()
    runs = store.db.execute("SELECT status FROM runs ORDER BY id").fetchall()
    matches = store.db.execute("SELECT citation_id, COUNT(*) FROM matches GROUP BY citation_id").fetchall()
    store.close()
    assert len(rows) == 12 and all(count == 1 for _, count in rows)  # each URL checked once in all
    assert [r[0] for r in runs] == ["interrupted", "done"]
    assert len(matches) == 12 and all(count == 1 for _, count in matches)


# --- recheck and history ----------------------------------------------------------------


def test_recheck_by_id_and_by_url(small, origin: OriginServer) -> None:
    document, settings = small
    run_documents([str(document)], settings)
    store = Store.open(settings.db)
    citation_id = store.find_citations(canonical="http://two.test/page")[0][1].id
    store.close()
    origin.reset_counts()
    summary, provenance = recheck(citation_id[:6], settings)
    assert [p["id"] for p in provenance] == [citation_id] and summary.checked == 1
    assert len(origin.requests_for(host="two.test")) >= 1  # checked now, whatever its age
    assert provenance[0]["verdict"] == "verified"
    assert provenance[0]["sources"][0]["snapshot"]["timestamp"] == "20160601000000"
    _, by_url = recheck("http://one.test/ok", settings)
    assert by_url[0]["sources"][0]["url"] == "http://one.test/ok"
    _, with_slash = recheck("http://one.test/ok/", settings)  # as a reader may paste it
    assert [p["id"] for p in with_slash] == [p["id"] for p in by_url]
    result = CliRunner().invoke(cli, ["recheck", "nonexistent", "--db", settings.db])
    assert result.exit_code == 2 and "no citation with citation id 'nonexistent'" in result.output
    assert "an id changes when its citation's URLs, date or words are edited" in result.output


def test_history_command(small) -> None:
    document, settings = small
    run_documents([str(document)], settings)
    result = CliRunner().invoke(cli, ["history", "http://one.test/ok", "--db", settings.db, "--json"])
    assert result.exit_code == 0
    history = json.loads(result.stdout)
    assert history["state"] == "alive" and history["checks"][0]["status"] == "ok"
    assert history["events"][0]["new_state"] == "alive"
    missing = CliRunner().invoke(cli, ["history", "http://one.test/ok", "--db", str(Path(settings.db).parent / "none.sqlite")])
    assert missing.exit_code == 2 and "no such database" in missing.output


def test_run_bad_document_is_exit_2_and_touches_no_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "missing.txt"), "--db", str(tmp_path / "db.sqlite")])
    assert result.exit_code == 2 and "no such file" in result.output
    assert not (tmp_path / "db.sqlite").exists()


def test_archive_down_keeps_link_checks_and_earlier_verdicts(small, fake_ia: FakeInternetArchive) -> None:
    document, settings = small
    run_documents([str(document)], settings)
    down = dataclasses.replace(settings, wayback_cdx_url="http://127.0.0.1:9/cdx", wayback_replay_url="http://127.0.0.1:9/web/")
    summary = run_documents([str(document)], down, RunOptions(force=True))
    assert summary.status == "done" and summary.checked == 2 and summary.verified == 0
    assert summary.verdicts == {"verified": 2}  # the earlier results stand
    assert any("the archive did not answer" in note for note in summary.notes)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_what_was_done(tmp_path: Path, origin: OriginServer, ca_file: Path,
                                                        fake_ia: FakeInternetArchive) -> None:
    document, db, env = slow_run_setup(tmp_path, origin, ca_file, fake_ia, "patient", 10, concurrency=1)
    run = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(document)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_checks(db, 2)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=20)
    assert run.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    store = Store.open(db)
    status = store.db.execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    kept = store.count("checks")
    lock = store.db.execute("SELECT COUNT(*) FROM lock").fetchone()[0]
    store.close()
    assert status == "interrupted" and 2 <= kept < 10 and lock == 0


@pytest.mark.slow
def test_ctrl_c_during_paced_archive_lookups_stops_at_once_and_twice_exits(
        tmp_path: Path, origin: OriginServer, ca_file: Path, fake_ia: FakeInternetArchive) -> None:
    """Before: 18-20 s, the archive's threads sleeping through the CDX pace slots they had
    reserved, and the pool running every lookup still queued; a second Ctrl-C did not help.
    Here the CDX pace is one request a minute: without the cancellation the run would sit
    for minutes."""
    document, db, env = slow_run_setup(tmp_path, origin, ca_file, fake_ia, "paced", 6, concurrency=6)
    env = {**env, "CITEWATCH_ARCHIVE_CDX_PER_MINUTE": "1"}
    for second in (False, True):
        fake_ia.reset()
        run = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(document), "--force"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while fake_ia.count("/cdx") < 1 and run.poll() is None:  # the ping went out: the lookups wait for the pace
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)  # the other lookups are waiting for the pace
        if second:
            run.send_signal(signal.SIGINT)  # impatient: at once
        started = time.monotonic()
        _, stderr = run.communicate(timeout=60)
        stopped_in = time.monotonic() - started
        assert run.returncode == 130 and "Traceback" not in stderr, stderr
        assert stopped_in < 3.0, f"took {stopped_in:.1f} s to stop"  # minutes without the cancellation
    store = Store.open(db)
    status = store.db.execute("SELECT status FROM runs ORDER BY id").fetchall()
    store.close()
    assert status[0][0] == "interrupted"


def test_a_document_without_citations_still_gets_its_reports(small) -> None:
    document, settings = small
    document.write_text("")
    summary = run_documents([str(document)], settings)
    assert summary.exit_code == 0 and summary.citations == 0 and summary.checked == 0
    assert [Path(p).name for p in summary.documents[0].reports] == ["report.html", "report.json", "report.md"]
    data = json.loads(Path(summary.documents[0].reports[1]).read_text())
    assert data["citations"] == [] and data["summary"]["links"] == 0


def test_history_text_has_column_headers_and_says_the_url_once(small) -> None:
    document, settings = small
    run_documents([str(document)], settings)
    result = CliRunner().invoke(cli, ["history", "http://one.test/ok", "--db", settings.db])
    assert result.exit_code == 0
    first, header = result.output.splitlines()[:2]
    assert first == "http://one.test/ok: alive"
    assert header.split() == ["checked", "at", "class", "HTTP", "state", "reason"]


def test_a_link_that_dies_on_night_2_is_failing_that_night_and_dead_by_the_stated_rule(small, origin: OriginServer) -> None:
    """Before: with max-age 7d a link alive on night 1 and gone on night 2 was not checked
    again until night 8, and nothing said "failing" until it was dead, ~10 nights later.
    Now (the defaults, a nightly run at 03:00): failing from night 2, dead on night 5."""
    document, settings = small
    document.write_text("Notes\n\nhttp://dies.test/story\n1 May 2016: A claim.\n")
    settings = dataclasses.replace(settings, max_age=Settings().max_age)  # the default, as cron would run it
    nights = []
    for night in range(1, 7):
        origin.add_page("dies.test", "/story", Page(200 if night == 1 else 404, b"<p>story</p>"))
        summary = run_documents([str(document)], at(settings, night), RunOptions(fail_on="never"))
        source = json.loads(Path(summary.documents[0].reports[1]).read_text())["citations"][0]["sources"][0]
        nights.append((summary.checked, source["state"], source["failures"], bool(source["failing_since"]),
                       [f.failures for f in summary.failing], [p.kind for p in summary.new_problems]))
    assert nights == [
        (1, "alive", 0, False, [], []),
        (1, "uncertain", 1, True, [1], []),  # checked again the next night: failing since night 2
        (1, "uncertain", 2, True, [2], []),
        (1, "uncertain", 3, True, [3], []),  # 3 failures, but over 2 days only
        (1, "dead", 4, True, [], ["dead-link"]),  # night 5: 3 days after the first failure
        (1, "dead", 5, True, [], []),
    ]
    source = json.loads(Path(summary.documents[0].reports[1]).read_text())["citations"][0]["sources"][0]
    assert source["failing_since"].startswith(at_night(2)) and source["last_alive"].startswith(at_night(1))
    html = Path(summary.documents[0].reports[0]).read_text()
    assert "source dead" in html and "failing since" in html
    store = Store.open(settings.db)  # counted again from the database (what `citewatch report` renders)
    loaded = store.load_results(store.documents()[0]["id"]).citations[0].sources[0].streak
    store.close()
    assert (loaded.failing_since, loaded.failures, loaded.last_alive) == \
        (source["failing_since"], source["failures"], source["last_alive"])


def test_the_links_slowest_last_time_are_checked_first(small, origin: OriginServer) -> None:
    """#24: the slowest URLs start first rather than trail at the end of a run."""
    document, settings = small
    document.write_text("Notes\n\nhttp://quick1.test/ok\n1 May 2016: A claim.\n\nhttp://quick2.test/ok\n"
                        "2 May 2016: Another.\n\nhttp://sluggish.test/ok?delay=0.3\n3 May 2016: A third.\n")
    settings = dataclasses.replace(settings, check_concurrency=1)  # one at a time: the order is the schedule
    for night in (1, 2):
        origin.reset_counts()
        run_documents([str(document)], dataclasses.replace(at(settings, night), max_age="0"),
                      RunOptions(reports=False, fail_on="never"))
        first = min((r for r in origin.requests if r.host != "canary.test"), key=lambda r: r.at)
        assert first.host == ("quick1.test" if night == 1 else "sluggish.test")  # document order, then slowest first


def test_a_quiet_summary_never_says_more_than_the_run_saw(small) -> None:
    """Before: "nothing newly broken since the last run" on the very first run (there was no
    last run) and on a run that checked nothing (every link fresh)."""
    document, settings = small
    first = format_summary(run_documents([str(document)], at(settings, 1), RunOptions(reports=False)))
    assert "first run of this database: no link can be dead yet" in first and "since the last run" not in first
    fresh = format_summary(run_documents([str(document)], at(settings, 1), RunOptions(reports=False)))
    assert "nothing checked or verified this run: every link was fresh" in fresh
    night = format_summary(run_documents([str(document)], at(settings, 2), RunOptions(reports=False)))
    assert "nothing newly broken since the last run" in night
