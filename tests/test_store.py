"""The store: migrations from an older schema, append-only checks, the lock; link states.
Each test that takes `database` runs on a SQLite file and on a PostgreSQL database."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pipeline.database import open_database
from pipeline.linkstate import LinkState, link_state
from pipeline.model import LinkCheck, LinkStatus
from pipeline.store import MIGRATIONS, SCHEMA_VERSION, LockHeld, Store, StoreError


def check(n: int, status: str = "ok", at: str = "2026-01-01T00:00:00Z") -> LinkCheck:
    return LinkCheck("http://a.test/", "http://a.test/", LinkStatus(status), 200, "http://a.test/", (), 1.0, at, str(n))


def test_new_database_is_at_the_latest_schema(database: str) -> None:
    store = Store.open(database)
    assert store.version == SCHEMA_VERSION == 6  # 6: a run's plan and pieces, shared with workers
    if store.db.kind == "sqlite":
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_of_the_previous_schema_migrates_and_keeps_its_rows(database: str) -> None:
    old = open_database(database)
    for statement in old.schema(MIGRATIONS[0]):
        old.execute(statement)
    old.set_version(1)
    old.execute("INSERT INTO runs (id, started_at, status) VALUES (1, '2025-01-01T00:00:00Z', 'done')")
    old.execute("INSERT INTO urls (canonical, first_seen, state) VALUES ('http://a.test/', '2025-01-01T00:00:00Z', 'alive')")
    old.execute("INSERT INTO checks (run_id, canonical, url, status, checked_at, reason, tries) "
                "VALUES (1, 'http://a.test/', 'http://a.test/', 'ok', '2025-01-01T00:00:00Z', '200', 1)")
    old.close()
    store = Store.open(database)
    assert store.version == SCHEMA_VERSION
    [row] = store.checks("http://a.test/")
    assert row.status == "ok" and row.conclusive is True and row.paywall is False
    assert store.cached_captures("x", "2000") is None  # the new table exists


def test_a_newer_schema_is_refused(database: str) -> None:
    newer = open_database(database)
    newer.set_version(99)
    newer.close()
    with pytest.raises(StoreError, match="newer citewatch"):
        Store.open(database)


def test_a_postgresql_server_that_does_not_answer_is_one_line_without_the_password() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreError, match=rf"postgresql://\*\*\*@127.0.0.1:{port}/db: cannot connect") as raised:
        Store.open(f"postgresql://citewatch:s3cret@127.0.0.1:{port}/db")
    assert "s3cret" not in str(raised.value)


def test_a_non_database_or_a_missing_folder_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable citewatch database"):
        Store.open(junk)
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "no" / "such" / "dir.sqlite")


def test_checks_are_appended_and_read_newest_first(database: str) -> None:
    store = Store.open(database)
    for n, day in enumerate(("01", "02", "03")):
        run = store.start_run(f"2026-01-{day}T00:00:00Z", kind="run", tool_version="t", settings={})
        store.add_check(run, check(n, at=f"2026-01-{day}T00:00:00Z"), LinkState.ALIVE)
    assert [c.reason for c in store.checks("http://a.test/")] == ["2", "1", "0"]
    store.add_check(run, check(9, at="2026-01-03T00:00:00Z"), LinkState.ALIVE)  # the same run again: replaced
    assert [c.reason for c in store.checks("http://a.test/")] == ["9", "1", "0"]


def test_state_changes_are_events(database: str) -> None:
    store = Store.open(database)
    run = store.start_run("2026-01-01T00:00:00Z", kind="run", tool_version="t", settings={})
    store.add_check(run, check(1), LinkState.ALIVE)
    assert store.set_state(run, "http://a.test/", LinkState.ALIVE, "2026-01-01T00:00:00Z") == "uncertain"
    assert store.set_state(run, "http://a.test/", LinkState.ALIVE, "2026-01-02T00:00:00Z") is None
    assert [(e["old_state"], e["new_state"]) for e in store.events("http://a.test/")] == [("uncertain", LinkState.ALIVE)]


def test_lock_names_the_live_holder_and_takes_over_a_dead_one(database: str) -> None:
    store = Store.open(database)
    store.acquire_lock("2026-01-01T00:00:00Z", alive=lambda pid: True)
    other = Store.open(database)
    # pretend another live process holds it (PID 1, as an older citewatch recorded it: no identity)
    other.db.execute("UPDATE lock SET pid = 1, identity = NULL")
    with pytest.raises(LockHeld, match="PID 1, started 2026-01-01T00:00:00Z"):
        other.acquire_lock("2026-01-01T00:00:05Z", alive=lambda pid: True)
    note = other.acquire_lock("2026-01-01T00:00:05Z", alive=lambda pid: False)
    assert note == "took over a stale lock of PID 1 (started 2026-01-01T00:00:00Z)"


@pytest.mark.parametrize(
    ("history", "state"),
    [
        ([], LinkState.UNCERTAIN),
        ([("2026-01-04T00:00:00Z", LinkStatus.OK, True)], LinkState.ALIVE),
        ([("2026-01-04T00:00:00Z", LinkStatus.NOT_FOUND, True), ("2026-01-02T00:00:00Z", LinkStatus.NOT_FOUND, True),
          ("2026-01-01T00:00:00Z", LinkStatus.NOT_FOUND, True)], LinkState.DEAD),
        ([("2026-01-02T00:00:00Z", LinkStatus.NOT_FOUND, True), ("2026-01-01T12:00:00Z", LinkStatus.NOT_FOUND, True),
          ("2026-01-01T00:00:00Z", LinkStatus.NOT_FOUND, True)], LinkState.UNCERTAIN),  # not spread over 3 days
        ([("2026-01-05T00:00:00Z", LinkStatus.NOT_FOUND, True), ("2026-01-03T00:00:00Z", LinkStatus.OK, True),
          ("2026-01-02T00:00:00Z", LinkStatus.NOT_FOUND, True), ("2026-01-01T00:00:00Z", LinkStatus.NOT_FOUND, True)],
         LinkState.UNCERTAIN),  # a good check breaks the run of failures
        ([("2026-01-05T00:00:00Z", LinkStatus.BLOCKED, True), ("2026-01-04T00:00:00Z", LinkStatus.TIMEOUT, True),
          ("2026-01-01T00:00:00Z", LinkStatus.RATE_LIMITED, True)], LinkState.UNCERTAIN),
        ([("2026-01-05T00:00:00Z", LinkStatus.DNS_ERROR, False), ("2026-01-03T00:00:00Z", LinkStatus.DNS_ERROR, False),
          ("2026-01-01T00:00:00Z", LinkStatus.DNS_ERROR, False)], LinkState.UNCERTAIN),  # too fast to be evidence
        ([("2026-01-05T00:00:00Z", LinkStatus.SERVER_ERROR, True), ("2026-01-04T00:00:00Z", LinkStatus.TIMEOUT, True),
          ("2026-01-03T00:00:00Z", LinkStatus.DNS_ERROR, True), ("2026-01-01T00:00:00Z", LinkStatus.NOT_FOUND, True)],
         LinkState.DEAD),  # a timeout neither counts nor breaks the run
    ],
)
def test_link_state(history, state: LinkState) -> None:
    assert link_state(history, failures=3, days=3) is state


def test_a_lock_whose_pid_now_belongs_to_another_process_is_taken_over(database: str) -> None:
    store = Store.open(database)
    store.acquire_lock("2026-01-01T00:00:00Z")
    # the lock's process died and its PID went to another (alive) process: PID 1 here
    store.db.execute("UPDATE lock SET pid = 1, identity = 'another-boot:12345'")
    note = Store.open(database).acquire_lock("2026-01-01T00:00:05Z")
    assert note and "its PID now belongs to another process" in note


def test_a_lock_from_another_host_is_kept_until_unlocked(database: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipeline.cli import cli

    db = database
    store = Store.open(db)
    store.db.execute("INSERT INTO lock (id, pid, host, started_at) VALUES (1, 4242, 'old-container', '2026-01-01T00:00:00Z')")
    with pytest.raises(LockHeld, match="on old-container.*citewatch unlock"):
        Store.open(db).acquire_lock("2026-01-02T00:00:00Z")
    result = CliRunner().invoke(cli, ["unlock", "--db", str(db)])
    assert result.exit_code == 0 and "cleared the lock of PID 4242 on old-container" in result.output
    assert Store.open(db).acquire_lock("2026-01-02T00:00:00Z") is None
    again = CliRunner().invoke(cli, ["unlock", "--db", str(tmp_path / "none.sqlite")])
    assert again.exit_code == 2 and "no such database" in again.output


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_processes_creating_one_new_database_both_open_it(kind: str, tmp_path: Path,
                                                               request: pytest.FixtureRequest) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    for n in range(12):
        path = str(tmp_path / f"new-{n}.sqlite") if kind == "sqlite" else \
            request.getfixturevalue("postgres_cluster").fresh_database()
        with context.Pool(2) as pool:
            versions = pool.map(_open_version, [path, path])
        assert versions == [SCHEMA_VERSION, SCHEMA_VERSION]


def _open_version(path: str) -> int:
    store = Store.open(path)
    try:
        return store.version
    finally:
        store.close()


@pytest.mark.slow
def test_two_processes_taking_one_databases_lock_at_once_only_one_gets_it(database: str) -> None:
    """The run lock across processes (on PostgreSQL, from any machine): of two runs starting
    together, one runs and the other is told who holds the database."""
    import multiprocessing

    Store.open(database).close()
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        outcomes = pool.map(_take_lock, [database, database])
    assert sorted(o.split(":")[0] for o in outcomes) == ["held", "taken"]


def _take_lock(database: str) -> str:
    store = Store.open(database)
    try:
        store.acquire_lock("2026-01-01T00:00:00Z", alive=lambda pid: True)  # every holder counts as alive
        return "taken"
    except LockHeld as exc:
        return f"held: {exc}"
    finally:
        store.close()


def test_a_postgresql_url_without_psycopg_says_what_to_install() -> None:
    """The extra is optional: without it a PostgreSQL URL is one line naming it (exit 3 at
    the CLI), never an ImportError's traceback."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['psycopg'] = None\n"  # psycopg as if not installed
            "from pipeline.store import Store, StoreError\n"
            "try:\n    Store.open('postgresql://citewatch:pw@127.0.0.1:1/db')\n"
            "except StoreError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "PostgreSQL needs psycopg: pip install 'citewatch[postgres]'", done.stderr


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://citewatch:s3cret@db.example:5432/cw", "postgresql://***@db.example:5432/cw"),
    ("postgresql://citewatch:s3cret@db.example:notaport/cw", "postgresql://***@db.example:notaport/cw"),
    ("postgresql://citewatch:s3cret@[::1/cw", "postgresql://***"),
    ("postgresql://db.example/cw", "postgresql://db.example/cw"),
    ("/var/lib/citewatch/a@b.sqlite", "/var/lib/citewatch/a@b.sqlite"),
])
def test_a_database_url_is_shown_without_its_credentials_however_it_is_written(url: str, shown: str) -> None:
    from pipeline.redact import redact_url

    assert redact_url(url) == shown


def test_a_malformed_postgresql_url_is_one_line_without_the_password() -> None:
    """Before: a port that is no number raised a ValueError, reported as an internal error."""
    with pytest.raises(StoreError, match=r"postgresql://\*\*\*@127.0.0.1:notaport/cw: cannot connect") as raised:
        Store.open("postgresql://citewatch:s3cret@127.0.0.1:notaport/cw")
    assert "s3cret" not in str(raised.value)
