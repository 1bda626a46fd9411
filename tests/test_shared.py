"""A run on PostgreSQL shared with `citewatch worker` processes (pipeline/shared.py): the same
report as one SQLite process, politeness counted at the server across every process, a
worker killed with -9 or stopped with SIGTERM, and what a run's plan may carry."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.config import PLAN_SETTINGS, DomainRule, Settings, plan_of, with_plan
from pipeline.jobs import by_host_pieces, run_documents
from pipeline.store import Store
from tests.conftest import SAMPLE
from tests.testweb.archive import Capture
from tests.testweb.fake_ia import FakeInternetArchive
from tests.testweb.origin import OriginServer

pytestmark = pytest.mark.slow

CLAIM = "British troops in Afghanistan are being targeted by surface-to-air missiles."


def env_of(settings: Settings) -> dict[str, str]:
    """The settings that differ from the defaults, as a subprocess's CITEWATCH_* variables."""
    env = {}
    defaults = Settings()
    for field in dataclasses.fields(Settings):
        value = getattr(settings, field.name)
        if value == getattr(defaults, field.name):
            continue
        text = ",".join(value) if isinstance(value, tuple) else ("1" if value else "0") if isinstance(value, bool) \
            else str(value)
        env[f"CITEWATCH_{field.name.upper()}"] = text
    return {**os.environ, **env}


def citewatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args]


class Workers:
    """`citewatch worker` subprocesses, stopped at the end of the test whatever happened."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.started: list[subprocess.Popen[str]] = []
        self.others: list[subprocess.Popen[str]] = []

    def start(self, *args: str) -> subprocess.Popen[str]:
        log = (self.tmp_path / f"worker{len(self.started)}.log").open("w")
        worker = subprocess.Popen(citewatch("worker", *args), env=self.env, stdout=log, stderr=log, text=True)
        self.started.append(worker)
        return worker

    def ready(self, db: str) -> None:
        """Wait until every worker started has registered with the queue (they start in
        about a second), so that the run's pieces find them all there."""
        wait_until(lambda: beating(db) >= len(self.started), f"{len(self.started)} workers to register",
                   why=lambda: "; ".join(path.read_text()[-2000:] for path in sorted(self.tmp_path.glob("worker*.log"))))

    def track(self, process: subprocess.Popen[str]) -> subprocess.Popen[str]:
        """Another process (a run) stopped with the workers."""
        self.others.append(process)
        return process

    def stop(self) -> None:
        for worker in self.started + self.others:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Workers]]:
    made: list[Workers] = []
    yield made
    for group in made:
        group.stop()


def wait_until(condition, what: str, timeout: float = 60, why=lambda: "") -> None:
    """Poll a condition of other processes (the database, a process's end) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what} {why()}")
        time.sleep(0.05)


def checked_once(db: str) -> int:
    """The URLs checked, when each has one check (-1 when some has more)."""
    checks, urls = count(db, "SELECT COUNT(*) FROM checks"), count(db, "SELECT COUNT(DISTINCT canonical) FROM checks")
    return urls if checks == urls else -1


def beating(db: str) -> int:
    try:
        return count(db, "SELECT COUNT(*) FROM procrastinate_workers")
    except Exception:  # the first worker has not made the queue's tables yet
        return 0


def count(db: str, sql: str, params: tuple = ()) -> int:
    store = Store.open(db)
    try:
        return int(store.db.execute(sql, params).fetchone()[0])
    finally:
        store.close()


# --- the sample, run + 2 workers, against one SQLite process ------------------------------------


def test_a_run_and_two_workers_say_what_one_sqlite_process_says(sample_run, origin: OriginServer, postgres_cluster,
                                                                tmp_path: Path, workers: list[Workers]) -> None:
    from tests.test_run import _what_the_report_says

    web, settings, _ = sample_run
    origin.reset_counts()
    alone = run_documents([str(SAMPLE)], dataclasses.replace(settings, db=str(tmp_path / "db.sqlite"),
                                                             reports_dir=str(tmp_path / "sqlite"),
                                                             evidence_dir=str(tmp_path / "sqlite-evidence")))
    db = postgres_cluster.fresh_database()
    shared = dataclasses.replace(settings, db=db, reports_dir=str(tmp_path / "shared"),
                                 evidence_dir=str(tmp_path / "shared-evidence"), worker_heartbeat=0.2,
                                 worker_stalled_after=2.0, share_piece_links=3, share_piece_citations=5)
    group = Workers(env_of(shared), tmp_path)
    workers.append(group)
    origin.reset_counts()
    group.start("--concurrency", "2")
    group.start("--concurrency", "2")
    group.ready(db)
    run = subprocess.run(citewatch("run", str(SAMPLE), "--json"), env=env_of(shared), capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert (summary["status"], summary["citations"], summary["checked"], summary["links"]) == \
        ("done", 36, 46, alone.links)
    reports = [json.loads(Path(s).read_text()) for s in (alone.documents[0].reports[1], summary["documents"][0]["reports"][1])]
    assert _what_the_report_says(reports[1]) == _what_the_report_says(reports[0])
    # every copy kept, by whichever process read it, is counted in the run's summary
    kept = [summary["evidence"], alone.evidence]
    assert kept[0]["responses"] + kept[0]["revisits"] == kept[1]["responses"] + kept[1]["revisits"] > 46
    assert not (tmp_path / "shared-evidence" / "index.sqlite").exists()  # the index is in the database
    store = Store.open(db)
    try:
        done_by = {row[0] for row in store.db.execute("SELECT worker FROM pieces")}
        pieces = store.db.execute("SELECT COUNT(*), COUNT(done_at) FROM pieces").fetchone()
        assert store.count("checks") == 46 and store.count("matches") == 36
        assert count(db, "SELECT COUNT(*) FROM live_pages") == 0  # dropped with the run
    finally:
        store.close()
    assert pieces[0] == pieces[1] > 20  # 46 URLs over 3 a piece, 36 citations over 5
    assert len(done_by) >= 2  # taken by more than one process
    # the evidence of every process in the one folder: each verdict's copies can be read back
    verify = CliRunner().invoke(cli, ["verify", str(SAMPLE), "--offline", "--evidence", str(tmp_path / "shared-evidence"),
                                      "--db", db, "--json"], env={"CITEWATCH_DB": db})
    assert verify.exit_code in (0, 1), verify.output


# --- a small web of slow hosts ------------------------------------------------------------------


@pytest.fixture
def slow_hosts(origin: OriginServer, ca_file: Path, tmp_path: Path,
               postgres_cluster) -> Iterator[tuple[Path, Settings, list[str]]]:
    """Three hosts of their own (names new to the session's origin server), 8 slow URLs each,
    cited in a document; a fake Internet Archive holding each; the settings of a shared run
    with small pieces and a quick heartbeat."""
    tag = uuid.uuid4().hex[:8]
    hosts = [f"h{n}-{tag}.test" for n in range(3)]
    urls = [f"http://{host}/ok?delay=0.3&n={n}" for n in range(8) for host in hosts]
    archive = FakeInternetArchive([Capture(url, "20160601000000", body=f"<p>{CLAIM}</p>".encode()) for url in urls]).start()
    document = tmp_path / "slow.txt"
    document.write_text("Slow hosts\n\n" + "".join(f"{u}\n{n % 28 + 1} May 2016: {CLAIM}\n\n" for n, u in enumerate(urls)))
    settings = Settings(
        db=postgres_cluster.fresh_database(), reports_dir=str(tmp_path / "reports"), evidence_dir=str(tmp_path / "ev"),
        connect_to=origin.connect_to(), ca_bundle=str(ca_file), canary_url="http://canary.test/ok", soft404_probe=False,
        archive_cdx_per_minute=0, archive_replay_per_second=0, check_per_host=2, check_concurrency=32,
        share_piece_links=2, worker_heartbeat=0.2, worker_stalled_after=2.0, worker_grace=0.0,
        **archive.env())
    try:
        yield document, settings, hosts
    finally:
        archive.stop()


def test_per_host_holds_across_every_worker(slow_hosts, origin: OriginServer, tmp_path: Path,
                                            workers: list[Workers]) -> None:
    """Four pieces a host, two workers taking two pieces at a time each: without the host's
    lock they would ask one host four at a time or more; counted at the server, never past two."""
    document, settings, hosts = slow_hosts
    group = Workers(env_of(settings), tmp_path)
    workers.append(group)
    group.start("--concurrency", "2")
    group.start("--concurrency", "2")
    group.ready(settings.db)
    run = subprocess.run(citewatch("run", str(document), "--no-work", "--json"), env=env_of(settings),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["checked"] == 24 and summary["verdicts"] == {"verified": 24}
    assert [origin.max_active[host] for host in hosts] == [2, 2, 2]  # reached, never passed
    assert count(settings.db, "SELECT COUNT(DISTINCT worker) FROM pieces") == 2  # both worked; the run did not
    assert checked_once(settings.db) == 24


def mid_piece(document: Path, settings: Settings, tmp_path: Path,
              workers: list[Workers]) -> tuple[Workers, subprocess.Popen[str], subprocess.Popen[str]]:
    """One worker, and a run that only plans (`--no-work`), waited on until the first checks
    are stored: the worker then holds every host's piece, each part done (a host's 8 URLs are
    one piece of 1.2 s)."""
    group = Workers(env_of(settings), tmp_path)
    workers.append(group)
    first = group.start("--concurrency", "3")
    run = group.track(subprocess.Popen(citewatch("run", str(document), "--no-work", "--json"),
                                       env=env_of(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    wait_until(lambda: count(settings.db, "SELECT COUNT(*) FROM checks") >= 2, "the first checks")
    return group, first, run


def test_a_worker_killed_mid_piece_loses_nothing(slow_hosts, origin: OriginServer, tmp_path: Path,
                                                 workers: list[Workers]) -> None:
    document, settings, hosts = slow_hosts
    settings = dataclasses.replace(settings, share_piece_links=8)
    group, first, run = mid_piece(document, settings, tmp_path, workers)
    going = CliRunner().invoke(cli, ["runs", "--db", settings.db, "--json"])
    first.kill()  # kill -9, in the middle of its pieces
    first.wait()
    assert count(settings.db, "SELECT COUNT(*) FROM checks") < 24, "the worker was not killed midway"
    group.start("--concurrency", "3")
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    found_dead = err + (tmp_path / "worker1.log").read_text()
    assert "its worker stopped beating; tried again" in found_dead  # the engine's stalled-job recovery
    summary = json.loads(out)
    assert summary["status"] == "done" and summary["checked"] == 24 and summary["verdicts"] == {"verified": 24}
    # each URL's check recorded once, every citation verified once
    assert checked_once(settings.db) == 24
    assert count(settings.db, "SELECT COUNT(*) FROM matches") == 24
    assert [origin.max_active[host] for host in hosts] == [2, 2, 2]
    progress = json.loads(going.output)
    assert [r["kind"] for r in progress] == ["run"] and "links" in progress[0]["stages"]
    assert progress[0]["stages"]["links"]["total"] == 24 and progress[0]["workers_beating"] >= 1


def test_a_worker_told_to_stop_hands_its_pieces_back(slow_hosts, tmp_path: Path, workers: list[Workers]) -> None:
    """SIGTERM with no grace: the pieces held go back to the queue at once, not after a
    heartbeat times out (a minute here), and the other worker finishes the run."""
    document, settings, hosts = slow_hosts
    settings = dataclasses.replace(settings, worker_stalled_after=60.0, share_piece_links=8)
    group, first, run = mid_piece(document, settings, tmp_path, workers)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0
    assert count(settings.db, "SELECT COUNT(*) FROM checks") < 24, "the worker had finished"
    # what it held is back in the queue, tried once already; nothing is left as being done
    assert count(settings.db, "SELECT COUNT(*) FROM procrastinate_jobs WHERE status = 'doing'") == 0
    assert count(settings.db, "SELECT COUNT(*) FROM procrastinate_jobs WHERE status = 'todo' AND attempts = 1") >= 1
    group.start("--concurrency", "3")
    out, err = run.communicate(timeout=50)  # well within the minute a dead worker's pieces would wait
    assert run.returncode == 0, err
    assert json.loads(out)["verdicts"] == {"verified": 24}
    assert checked_once(settings.db) == 24
    assert "stopped" in (tmp_path / "worker0.log").read_text()


def test_ctrl_c_stops_a_shared_run_cleanly_and_the_next_run_resumes(slow_hosts, tmp_path: Path,
                                                                    workers: list[Workers]) -> None:
    """Ctrl-C on a run taking its own pieces: exit 130 with one line, nothing left pending
    (the pieces' checks were left on the run's loop, and printed "Exception ignored" with
    their tracebacks at exit), the run recorded as interrupted, and the next run resumes."""
    document, settings, hosts = slow_hosts
    # a host's 15 URLs in one piece, 4 at a time: most of a piece's checks wait their turn
    tag = uuid.uuid4().hex[:8]
    document.write_text("Slow\n\n" + "".join(f"http://c{n % 4}-{tag}.test/ok?delay=0.5&n={n}\n1 May 2016: {CLAIM}\n\n"
                                              for n in range(60)))
    settings = dataclasses.replace(settings, share_piece_links=100, check_per_host=4)
    group = Workers(env_of(settings), tmp_path)
    workers.append(group)
    run = group.track(subprocess.Popen(citewatch("run", str(document)), env=env_of(settings), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True))
    wait_until(lambda: count(settings.db, "SELECT COUNT(*) FROM checks") >= 2, "the first checks")
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and "citewatch: interrupted" in err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert count(settings.db, "SELECT COUNT(*) FROM runs WHERE status = 'interrupted'") == 1
    again = subprocess.run(citewatch("run", str(document), "--json"), env=env_of(settings), capture_output=True,
                           text=True, timeout=120)
    summary = json.loads(again.stdout)
    assert again.returncode == 0 and summary["status"] == "done" and summary["citations"] == 60
    assert summary["reused"] >= 2 and summary["checked"] + summary["reused"] == 60


def test_a_hosts_retry_after_holds_for_its_next_piece(slow_hosts, origin: OriginServer) -> None:
    """A host answers 429 "Retry-After: 2" to the last URL of a piece (no retry: the check
    ends rate limited). The host's next piece, whoever takes it, waits those 2 s: before, it
    asked at once, since the pause lived in the piece that heard it."""
    document, settings, hosts = slow_hosts
    host = f"after-{uuid.uuid4().hex[:8]}.test"
    urls = [f"http://{host}/retry-after/429?after=2", f"http://{host}/ok?n=1"]
    document.write_text("Paced\n\n" + "".join(f"{u}\n1 May 2016: {CLAIM}\n\n" for u in urls))
    summary = run_documents([str(document)], dataclasses.replace(settings, share_piece_links=1, check_retries=0))
    assert summary.status == "done" and summary.classes == {"rate_limited": 1, "ok": 1}
    asked = sorted(r.at for r in origin.requests_for(host=host))
    assert len(asked) == 2 and asked[1] - asked[0] >= 1.9  # measured at the server


# --- the plan, the pieces, the commands ------------------------------------------------------------


def test_a_runs_plan_carries_only_what_judges() -> None:
    """The plan is read by every worker: it can say no more than a repository's citewatch.toml
    could. Where a worker connects, what it sends and how fast stay its own."""
    run = Settings(max_age="1h", dead_after_failures=5, now="2026-01-01T00:00:00Z", allow_private=True,
                   connect_to=(":80:127.0.0.1:1",), check_per_host=50,
                   domains={"example.org": DomainRule(frozenset({403}), headers={"Authorization": "secret"})})
    plan = plan_of(run)
    assert set(plan) == PLAN_SETTINGS and "secret" not in json.dumps(plan)
    own = Settings(domains={"example.org": DomainRule(headers={"Authorization": "mine"})})
    worker = with_plan(own, json.loads(json.dumps(plan)))
    assert (worker.max_age, worker.dead_after_failures, worker.now) == ("1h", 5, "2026-01-01T00:00:00Z")
    assert (worker.allow_private, worker.connect_to, worker.check_per_host) == (False, (), 4)
    assert worker.domains["example.org"].alive_statuses == frozenset({403})
    assert worker.domains["example.org"].headers == {"Authorization": "mine"}
    widened = with_plan(own, {**plan, "allow_private": True, "db": "postgresql://elsewhere/x", "connect_to": ["a"]})
    assert (widened.allow_private, widened.db, widened.connect_to) == (False, own.db, ())


def test_link_pieces_are_a_hosts_urls_under_its_lock() -> None:
    pieces = by_host_pieces(["http://a.test/1", "http://B.test/1", "http://a.test/2", "http://a.test/3"],
                            ["http://a.test/read"], 2)
    assert pieces == [("host:a.test", {"check": ["http://a.test/1", "http://a.test/2"], "read": []}, 2),
                      ("host:a.test", {"check": ["http://a.test/3"], "read": ["http://a.test/read"]}, 2),
                      ("host:b.test", {"check": ["http://B.test/1"], "read": []}, 1)]


@pytest.mark.parametrize("args", [["run", "doc.txt", "--no-work"], ["worker"]])
def test_sharing_on_a_sqlite_file_is_a_usage_error(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [*args, "--db", str(tmp_path / "db.sqlite")])
    assert result.exit_code == 2 and "PostgreSQL" in result.output and "Traceback" not in result.output


def test_runs_says_when_none_is_going_on(postgres_cluster) -> None:
    db = postgres_cluster.fresh_database()
    Store.open(db).close()
    result = CliRunner().invoke(cli, ["runs", "--db", db])
    assert result.exit_code == 0 and "no run going on" in result.output


def test_a_worker_with_a_heartbeat_longer_than_its_patience_is_refused(postgres_cluster) -> None:
    result = CliRunner().invoke(cli, ["worker", "--db", postgres_cluster.fresh_database()],
                                env={"CITEWATCH_WORKER_HEARTBEAT": "30", "CITEWATCH_WORKER_STALLED_AFTER": "10"})
    assert result.exit_code == 2 and "worker_stalled_after" in result.output
