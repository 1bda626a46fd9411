"""The store: schema, migrations, and the history of every check.

SQLite by default (one file, or `:memory:`, WAL mode), PostgreSQL for a `postgresql://` URL
(`pipeline.database` holds what differs: the SQL here is written once for both). Numbered
migrations let an old database open under a new version. Every check is appended, never
overwritten: the history of a URL is its rows. All SQL of citewatch lives here, behind plain
methods that take and return plain data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline.archive.model import Capture, Lookup
from pipeline.database import Database, DatabaseError, driver_errors, is_postgres, open_database
from pipeline.errors import CannotRunError
from pipeline.linkstate import LinkState, Streak
from pipeline.model import (
    Citation,
    Document,
    DocumentFormat,
    LinkCheck,
    LinkStatus,
    Passage,
    RedirectHop,
    UrlRef,
    Verdict,
)
from pipeline.redact import redact_url
from pipeline.results import CitationResult, Copy, DocumentResults, QuoteMatch, RunInfo, SourceResult, Verification
from pipeline.times import Clock, iso

_CHUNK = 500  # keys per IN (...) query, well under SQLite's limit on bound parameters

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL DEFAULT 'run',
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,
        pid INTEGER,
        tool_version TEXT,
        settings TEXT,
        summary TEXT
    );
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        title TEXT,
        date TEXT,
        sha256 TEXT,
        format TEXT,
        last_run_id INTEGER REFERENCES runs(id)
    );
    CREATE TABLE citations (
        document_id INTEGER NOT NULL REFERENCES documents(id),
        id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        line_start INTEGER NOT NULL,
        date TEXT,
        urls TEXT NOT NULL,
        passages TEXT NOT NULL,
        PRIMARY KEY (document_id, id)
    );
    CREATE TABLE urls (
        canonical TEXT PRIMARY KEY,
        first_seen TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'uncertain',
        state_since TEXT
    );
    CREATE TABLE checks (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        canonical TEXT NOT NULL REFERENCES urls(canonical),
        url TEXT NOT NULL,
        status TEXT NOT NULL,
        http_status INTEGER,
        final_url TEXT,
        redirects TEXT,
        elapsed_ms REAL,
        checked_at TEXT NOT NULL,
        reason TEXT,
        tries INTEGER,
        state_after TEXT,
        UNIQUE (run_id, canonical)
    );
    CREATE INDEX checks_by_url ON checks (canonical, checked_at);
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        canonical TEXT NOT NULL,
        date TEXT NOT NULL DEFAULT '',
        looked_up_at TEXT NOT NULL,
        state TEXT NOT NULL,
        data TEXT NOT NULL,
        UNIQUE (run_id, canonical, date)
    );
    CREATE TABLE matches (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        document_id INTEGER NOT NULL REFERENCES documents(id),
        citation_id TEXT NOT NULL,
        verdict TEXT NOT NULL,
        passages TEXT NOT NULL,
        UNIQUE (run_id, document_id, citation_id)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        canonical TEXT NOT NULL,
        at TEXT NOT NULL,
        old_state TEXT,
        new_state TEXT NOT NULL
    );
    CREATE TABLE lock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started_at TEXT NOT NULL,
        run_id INTEGER
    );
    """,
    # 2: checks say whether they are evidence and whether a paywall answered; the archive's
    # CDX answers are kept so later runs within the cache age ask nothing
    """
    ALTER TABLE checks ADD COLUMN conclusive INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE checks ADD COLUMN paywall INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE archive_cache (
        key TEXT PRIMARY KEY,
        fetched_at TEXT NOT NULL,
        queried_url TEXT NOT NULL,
        captures TEXT NOT NULL
    );
    """,
    # 3: the latest match of a citation and the latest snapshot of a URL, found by index
    # (the report asks for each; without these a 10,000-citation run scanned the tables)
    """
    CREATE INDEX matches_by_citation ON matches (document_id, citation_id, run_id);
    CREATE INDEX snapshots_by_url ON snapshots (canonical, date, id);
    """,
    # 4: the lock knows its process by more than a PID (a PID is reused after the process dies)
    """
    ALTER TABLE lock ADD COLUMN identity TEXT;
    """,
    # 5: a verification keeps every copy it was made against, with where their bytes are
    # kept (the evidence store), so that it can be made again offline
    """
    ALTER TABLE matches ADD COLUMN copies TEXT NOT NULL DEFAULT '[]';
    """,
    # 6: a run on PostgreSQL shares its work with workers (pipeline/shared.py): the run's
    # plan (its options and the settings that judge), its pieces (a host's links, a batch of
    # citations to verify) and what each gave back, and the live pages the link pieces read
    # for the verification pieces (dropped when the run ends)
    """
    ALTER TABLE runs ADD COLUMN plan TEXT;
    CREATE TABLE pieces (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        stage TEXT NOT NULL,
        lock_key TEXT NOT NULL,
        work TEXT NOT NULL,
        size INTEGER NOT NULL,
        result TEXT,
        worker TEXT,
        done_at TEXT
    );
    CREATE INDEX pieces_by_run ON pieces (run_id, stage);
    CREATE TABLE live_pages (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        canonical TEXT NOT NULL,
        page TEXT NOT NULL,
        PRIMARY KEY (run_id, canonical)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(DatabaseError):
    """The database cannot be opened or written."""


class LockHeld(CannotRunError):
    """Another run holds this database."""


@dataclasses.dataclass(frozen=True)
class CheckRow:
    run_id: int
    canonical: str
    url: str
    status: str
    http_status: int | None
    final_url: str | None
    redirects: list[dict[str, Any]]
    elapsed_ms: float | None
    checked_at: str
    reason: str
    tries: int
    state_after: str | None
    conclusive: bool
    paywall: bool

    def to_check(self) -> LinkCheck:
        return LinkCheck(
            self.url, self.canonical, LinkStatus(self.status), self.http_status, self.final_url,
            tuple(RedirectHop(**hop) for hop in self.redirects), self.elapsed_ms or 0.0, self.checked_at, self.reason,
            self.tries, self.paywall, self.conclusive,
        )


class Store:
    """A citewatch database. Open with `Store.open(path)`; each write commits at once,
    so a killed run loses only what was in flight."""

    def __init__(self, connection: Database, path: str) -> None:
        self.db = connection
        self.path = path  # as it may be printed: a URL's password left out

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> Store:
        """A SQLite file (made when missing) or a PostgreSQL database (`postgresql://…`,
        which must exist), migrated to this version's schema."""
        path = str(path)
        if path != ":memory:" and not is_postgres(path):
            parent = Path(path).resolve().parent
            if not parent.is_dir():
                raise StoreError(f"{path}: the folder {parent} does not exist")
        try:
            connection = open_database(path)
            store = cls(connection, redact_url(path))
            store.migrate()
        except DatabaseError as exc:
            raise StoreError(str(exc)) from exc
        except driver_errors() as exc:
            raise StoreError(f"{redact_url(path)}: not a usable citewatch database ({exc})") from exc
        return store

    def migrate(self, target: int = SCHEMA_VERSION) -> int:
        """Apply the migrations after the file's version, each in its own transaction."""
        version = self.version
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: made by a newer citewatch (schema {version}, this one knows {SCHEMA_VERSION})")
        for number in range(version + 1, target + 1):
            with self.db.exclusive():
                if self.version >= number:  # another process, opening the same new file, got here first
                    continue
                for statement in self.db.schema(MIGRATIONS[number - 1]):
                    self.db.execute(statement)
                self.db.set_version(number)
        return self.version

    @property
    def version(self) -> int:
        return self.db.version()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """All or nothing; within it, the store's writes commit together."""
        return self.db.transaction()

    def close(self) -> None:
        self.db.close()

    # -- the lock ----------------------------------------------------------------------
    def acquire_lock(self, started_at: str, *, alive: Callable[[int], bool] | None = None) -> str | None:
        """Take the database for this process. Raises LockHeld naming the holder when a
        live process has it; takes over a stale lock (its process is gone, or its PID now
        belongs to another process) and returns a note. A lock from another host cannot be
        judged from here: `citewatch unlock` clears it."""
        alive = alive or _pid_alive
        host = socket.gethostname()
        with self.db.exclusive():
            row = self.db.execute("SELECT pid, host, started_at, run_id, identity FROM lock WHERE id = 1").fetchone()
            note = None
            if row is not None:
                same_host = row["host"] == host
                reused = same_host and row["identity"] and alive(row["pid"]) and \
                    process_identity(row["pid"]) not in (None, row["identity"])
                if same_host and not alive(row["pid"]) or reused or row["pid"] == os.getpid():
                    why = "; its PID now belongs to another process" if reused else ""
                    note = f"took over a stale lock of PID {row['pid']} (started {row['started_at']}{why})"
                    self._interrupted(row["run_id"])
                else:
                    where = "" if same_host else f" on {row['host']}"
                    hint = "" if same_host else "; if that run is gone, `citewatch unlock` clears the lock"
                    raise LockHeld(f"another run holds {self.path}: PID {row['pid']}{where}, "
                                   f"started {row['started_at']}{hint}")
            self.db.execute("INSERT INTO lock (id, pid, host, started_at, run_id, identity) VALUES (1, ?, ?, ?, NULL, ?) "
                            "ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, "
                            "started_at = excluded.started_at, run_id = NULL, identity = excluded.identity",
                            (os.getpid(), host, started_at, process_identity(os.getpid())))
        return note

    def _interrupted(self, run_id: int | None) -> None:
        if run_id is not None:
            self.db.execute("UPDATE runs SET status = 'interrupted' WHERE id = ? AND status = 'running'", (run_id,))

    def break_lock(self) -> dict[str, Any] | None:
        """Clear the lock whoever holds it (the operator knows that run is gone); what it was."""
        with self.db.exclusive():
            row = self.db.execute("SELECT pid, host, started_at, run_id FROM lock WHERE id = 1").fetchone()
            if row is None:
                return None
            self._interrupted(row["run_id"])
            self.db.execute("DELETE FROM lock WHERE id = 1")
        return dict(row)

    def set_lock_run(self, run_id: int) -> None:
        self.db.execute("UPDATE lock SET run_id = ? WHERE id = 1 AND pid = ?", (run_id, os.getpid()))

    def release_lock(self) -> None:
        self.db.execute("DELETE FROM lock WHERE id = 1 AND pid = ?", (os.getpid(),))

    # -- runs --------------------------------------------------------------------------
    def start_run(self, started_at: str, *, kind: str, tool_version: str, settings: dict[str, Any]) -> int:
        row = self.db.execute(
            "INSERT INTO runs (kind, started_at, status, pid, tool_version, settings) VALUES (?, ?, 'running', ?, ?, ?) "
            "RETURNING id",
            (kind, started_at, os.getpid(), tool_version, json.dumps(settings, default=str)),
        ).fetchone()
        return int(row[0])

    def finish_run(self, run_id: int, finished_at: str, status: str, summary: dict[str, Any]) -> None:
        self.db.execute("UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
                        (finished_at, status, json.dumps(summary), run_id))

    def run(self, run_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run_dict(row) if row else None

    # -- documents and citations -------------------------------------------------------
    def save_document(self, document: Document, run_id: int) -> int:
        self.db.execute(
            "INSERT INTO documents (path, title, date, sha256, format, last_run_id) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET title = excluded.title, date = excluded.date, sha256 = excluded.sha256, "
            "format = excluded.format, last_run_id = excluded.last_run_id",
            (document.path, document.title, document.date, document.sha256, document.format.value, run_id),
        )
        return int(self.db.execute("SELECT id FROM documents WHERE path = ?", (document.path,)).fetchone()[0])

    def replace_citations(self, document_id: int, citations: Sequence[Citation]) -> None:
        """The document's citations as extracted now (an edited document drops old ones)."""
        with self.transaction():
            self.db.execute("DELETE FROM citations WHERE document_id = ?", (document_id,))
            self.db.executemany(
                "INSERT INTO citations (document_id, id, idx, line_start, date, urls, passages) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(document_id, c.id, c.index, c.line_start, c.date, json.dumps([dataclasses.asdict(u) for u in c.urls]),
                  json.dumps([dataclasses.asdict(p) for p in c.passages])) for c in citations],
            )

    def document(self, document_id: int) -> Document:
        row = self.db.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
        return Document(row["path"], row["title"], row["date"], row["sha256"] or "", DocumentFormat(row["format"]), "")

    def documents(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.db.execute("SELECT * FROM documents ORDER BY id")]

    def citations(self, document_id: int, ids: Sequence[str] | None = None) -> list[Citation]:
        """A document's citations in order; with `ids`, only those."""
        if ids is None:
            rows = self.db.execute("SELECT * FROM citations WHERE document_id = ? ORDER BY idx", (document_id,))
            return [_citation(row) for row in rows]
        found = [_citation(row) for chunk in _chunks(ids) for row in self.db.execute(
            f"SELECT * FROM citations WHERE document_id = ? AND id IN ({_marks(chunk)})", [document_id, *chunk])]
        return sorted(found, key=lambda citation: citation.index)

    def live_page_keys(self, run_id: int, keys: Sequence[str]) -> set[str]:
        """Which of these URL keys have a live page kept for the run."""
        return {row[0] for chunk in _chunks(keys) for row in self.db.execute(
            f"SELECT canonical FROM live_pages WHERE run_id = ? AND canonical IN ({_marks(chunk)})", [run_id, *chunk])}

    def find_citations(self, citation_id: str | None = None, canonical: str | Sequence[str] | None = None
                       ) -> list[tuple[int, Citation]]:
        """(document id, citation) by citation id (a prefix is enough) or by one of its
        canonical URLs (any of several forms given)."""
        wanted = {canonical} if isinstance(canonical, str) else set(canonical or ())
        rows = self.db.execute("SELECT * FROM citations ORDER BY document_id, idx").fetchall()
        found = []
        for row in rows:
            citation = _citation(row)
            if citation_id is not None and citation.id.startswith(citation_id):
                found.append((row["document_id"], citation))
            elif wanted and any(u.canonical in wanted for u in citation.urls):
                found.append((row["document_id"], citation))
        return found

    # -- URLs, checks, state -----------------------------------------------------------
    def record_check(self, run_id: int, check: LinkCheck, state_after: LinkState) -> str | None:
        """`add_check` and `set_state` (at the check's time), committed together where a
        commit costs a round trip (`Database.batch`). Returns what `set_state` returns."""
        with self.db.batch():
            self.add_check(run_id, check, state_after)
            return self.set_state(run_id, check.canonical, state_after, check.checked_at)

    def add_check(self, run_id: int, check: LinkCheck, state_after: LinkState) -> None:
        """Append a check, stored under its `canonical` (the URL key), committed at once; a
        second check of a URL in one run replaces the first (so a resumed or re-checked run
        has no duplicates)."""
        self.db.execute(_ADD_URL, (check.canonical, check.checked_at))
        self.db.execute(_ADD_CHECK, _check_values(run_id, check, state_after))

    def record_checks(self, run_id: int, checks: Sequence[tuple[LinkCheck, LinkState]],
                      states_before: Mapping[str, str | None]) -> None:
        """`record_check` for many checks at once (each under its URL key), in a few round
        trips: each URL's state before is known (`states_before`, read when the caller's
        work began, which no one else changes meanwhile)."""
        if not checks:
            return
        with self.db.batch():
            self.db.executemany(_ADD_URL, [(c.canonical, c.checked_at) for c, _ in checks])
            self.db.executemany(_ADD_CHECK, [_check_values(run_id, c, state) for c, state in checks])
            changed = [(c, state) for c, state in checks if states_before.get(c.canonical) != state.value]
            self.db.executemany(_SET_STATE, [(state.value, c.checked_at, c.canonical) for c, state in changed])
            self.db.executemany(_ADD_EVENT, [(run_id, c.canonical, c.checked_at, states_before.get(c.canonical),
                                              state.value) for c, state in changed])

    def checks(self, canonical: str, limit: int | None = None) -> list[CheckRow]:
        """A URL's checks, newest first."""
        sql = "SELECT * FROM checks WHERE canonical = ? ORDER BY checked_at DESC, id DESC"
        rows = self.db.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), (canonical,))
        return [_check_row(row) for row in rows]

    def latest_checks(self, keys: Sequence[str]) -> dict[str, CheckRow]:
        """The newest check of each URL key that has one."""
        found: dict[str, CheckRow] = {}
        for chunk in _chunks(keys):
            rows = self.db.execute(
                f"SELECT * FROM checks c WHERE c.canonical IN ({_marks(chunk)}) AND c.id = (SELECT c2.id FROM checks c2 "
                "WHERE c2.canonical = c.canonical ORDER BY c2.checked_at DESC, c2.id DESC LIMIT 1)", chunk)
            found.update((row["canonical"], _check_row(row)) for row in rows)
        return found

    def histories(self, keys: Sequence[str]) -> dict[str, list[tuple[str, LinkStatus, bool]]]:
        """Each URL key's checks, newest first, as link state reads them: (checked_at,
        status, conclusive)."""
        found: dict[str, list[tuple[str, LinkStatus, bool]]] = {key: [] for key in keys}
        for chunk in _chunks(keys):
            rows = self.db.execute(
                f"SELECT canonical, checked_at, status, conclusive FROM checks WHERE canonical IN ({_marks(chunk)}) "
                "ORDER BY checked_at DESC, id DESC", chunk)
            for row in rows:
                found[row["canonical"]].append((row["checked_at"], LinkStatus(row["status"]), bool(row["conclusive"])))
        return found

    def streaks(self, keys: Sequence[str]) -> dict[str, Streak]:
        """Each URL key's `Streak`, counted in SQL as `linkstate.streak_of` counts it: when it
        was last there, and the conclusive failures since (their first time and number)."""
        there = [s.value for s in LinkStatus if s.page_there]
        broken = [s.value for s in LinkStatus if s.broken]
        found: dict[str, Streak] = {}
        for chunk in _chunks(keys):
            last = {row[0]: row[1] for row in self.db.execute(
                f"SELECT canonical, MAX(checked_at) FROM checks WHERE canonical IN ({_marks(chunk)}) "
                f"AND status IN ({_marks(there)}) GROUP BY canonical", [*chunk, *there])}
            failing = {row[0]: (row[1], row[2]) for row in self.db.execute(
                f"SELECT c.canonical, MIN(c.checked_at), COUNT(*) FROM checks c WHERE c.canonical IN ({_marks(chunk)}) "
                f"AND c.status IN ({_marks(broken)}) AND c.conclusive = 1 AND c.checked_at > COALESCE("
                f"(SELECT MAX(d.checked_at) FROM checks d WHERE d.canonical = c.canonical "
                f"AND d.status IN ({_marks(there)})), '') GROUP BY c.canonical", [*chunk, *broken, *there])}
            for key in chunk:
                since, failures = failing.get(key, (None, 0))
                if key in last or since:
                    found[key] = Streak(since, failures, last.get(key))
        return found

    def url_state(self, canonical: str) -> str | None:
        row = self.db.execute("SELECT state FROM urls WHERE canonical = ?", (canonical,)).fetchone()
        return row["state"] if row else None

    def url_states(self, keys: Sequence[str]) -> dict[str, LinkState]:
        found: dict[str, LinkState] = {}
        for chunk in _chunks(keys):
            rows = self.db.execute(f"SELECT canonical, state FROM urls WHERE canonical IN ({_marks(chunk)})", chunk)
            found.update((row["canonical"], LinkState(row["state"])) for row in rows)
        return found

    def set_state(self, run_id: int, canonical: str, new_state: LinkState, at: str) -> str | None:
        """Record the URL's state; a change is an event of this run. Returns the old state
        when it changed, else None."""
        row = self.db.execute("SELECT state FROM urls WHERE canonical = ?", (canonical,)).fetchone()
        old = row["state"] if row else None
        new = new_state.value
        if old == new:
            return None
        with self.transaction():
            self.db.execute(_SET_STATE, (new, at, canonical))
            self.db.execute(_ADD_EVENT, (run_id, canonical, at, old, new))
        return old or "new"

    def events(self, canonical: str | None = None, run_id: int | None = None) -> list[dict[str, Any]]:
        clauses: list[str] = []
        args: list[str | int] = []
        if canonical is not None:
            clauses.append("canonical = ?")
            args.append(canonical)
        if run_id is not None:
            clauses.append("run_id = ?")
            args.append(run_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return [dict(row) for row in self.db.execute(f"SELECT * FROM events {where} ORDER BY at DESC, id DESC", args)]

    # -- snapshots and the archive cache -------------------------------------------------
    def add_snapshot(self, run_id: int, canonical: str, date: str | None, looked_up_at: str, lookup: Lookup) -> None:
        self.db.execute(
            "INSERT INTO snapshots (run_id, canonical, date, looked_up_at, state, data) VALUES (?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (run_id, canonical, date) DO UPDATE SET {_replacing(('looked_up_at', 'state', 'data'))}",
            (run_id, canonical, date or "", looked_up_at, lookup.state.value, json.dumps(lookup.to_json())),
        )

    def latest_snapshots(self, keys: Sequence[str]) -> dict[tuple[str, str | None], Lookup]:
        """The newest lookup of each (URL key, date) for these keys."""
        found: dict[tuple[str, str | None], Lookup] = {}
        for chunk in _chunks(keys):
            rows = self.db.execute(
                f"SELECT canonical, date, data FROM snapshots s WHERE s.canonical IN ({_marks(chunk)}) AND s.id = "
                "(SELECT MAX(s2.id) FROM snapshots s2 WHERE s2.canonical = s.canonical AND s2.date = s.date)", chunk)
            found.update(((row["canonical"], row["date"] or None), Lookup.from_json(json.loads(row["data"])))
                         for row in rows)
        return found

    def cached_captures(self, key: str, newer_than: str) -> tuple[list[dict[str, Any]], str] | None:
        row = self.db.execute("SELECT captures, queried_url FROM archive_cache WHERE key = ? AND fetched_at >= ?",
                              (key, newer_than)).fetchone()
        return (json.loads(row["captures"]), row["queried_url"]) if row else None

    def cache_captures(self, key: str, fetched_at: str, queried_url: str, captures: list[dict[str, Any]]) -> None:
        self.db.execute("INSERT INTO archive_cache (key, fetched_at, queried_url, captures) VALUES (?, ?, ?, ?) "
                        f"ON CONFLICT (key) DO UPDATE SET {_replacing(('fetched_at', 'queried_url', 'captures'))}",
                        (key, fetched_at, queried_url, json.dumps(captures)))

    # -- verification results ------------------------------------------------------------
    def add_match(self, run_id: int, document_id: int, citation_id: str, verification: Verification) -> None:
        self.db.execute(
            "INSERT INTO matches (run_id, document_id, citation_id, verdict, passages, copies) VALUES (?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (run_id, document_id, citation_id) DO UPDATE SET {_replacing(('verdict', 'passages', 'copies'))}",
            (run_id, document_id, citation_id, verification.verdict.value,
             json.dumps([m.to_json() for m in verification.passages]),
             json.dumps([c.to_json() for c in verification.copies])),
        )

    def latest_matches(self, document_id: int) -> dict[str, Verification]:
        """Each citation's newest verification, with the start of the run that made it."""
        rows = self.db.execute(
            "SELECT m.citation_id, m.verdict, m.passages, m.copies, r.started_at FROM matches m JOIN runs r ON r.id = m.run_id "
            "WHERE m.document_id = ? AND m.run_id = (SELECT MAX(m2.run_id) FROM matches m2 "
            "WHERE m2.document_id = m.document_id AND m2.citation_id = m.citation_id)", (document_id,))
        return {row["citation_id"]: _verification(row) for row in rows}

    def evidence_in_use(self) -> set[str]:
        """The WARC records the current verdicts rest on: those named by the newest
        verification of each citation documents still hold (payload records and the
        revisits written for them)."""
        rows = self.db.execute(
            "SELECT m.passages, m.copies FROM matches m JOIN citations c ON c.document_id = m.document_id "
            "AND c.id = m.citation_id WHERE m.run_id = (SELECT MAX(m2.run_id) FROM matches m2 "
            "WHERE m2.document_id = m.document_id AND m2.citation_id = m.citation_id)")
        used: set[str] = set()
        for row in rows:
            for item in json.loads(row["passages"]) + json.loads(row["copies"]):
                if evidence := item.get("evidence"):
                    used.add(evidence["record_id"])
                    if evidence.get("revisit"):
                        used.add(evidence["revisit"])
        return used

    # -- a document's results ------------------------------------------------------------
    def load_results(self, document_id: int) -> DocumentResults:
        """Everything known of a document, as the last runs left it: a few queries in all,
        whatever its size."""
        document = self.document(document_id)
        last_run = self.db.execute("SELECT last_run_id FROM documents WHERE id = ?", (document_id,)).fetchone()[0]
        run = self.run(last_run) if last_run else None
        citations = self.citations(document_id)
        keys = list(dict.fromkeys(ref.key for c in citations for ref in c.urls))
        checks, states, lookups = self.latest_checks(keys), self.url_states(keys), self.latest_snapshots(keys)
        streaks = self.streaks(keys)
        matches = self.latest_matches(document_id)
        results = []
        for citation in citations:
            date = citation.date or document.date
            sources = tuple(
                SourceResult(ref, checks[ref.key].to_check() if ref.key in checks else None,
                             states.get(ref.key, LinkState.UNCERTAIN), lookups.get((ref.key, date)),
                             streaks.get(ref.key, Streak()))
                for ref in citation.urls
            )
            results.append(CitationResult(citation, date, sources, matches.get(citation.id)))
        info = RunInfo(run["id"], run["tool_version"], run["started_at"], run["finished_at"], run["settings"] or {}) \
            if run else None
        return DocumentResults(document, tuple(results), info)

    # -- a run's shared work (pipeline/shared.py) ---------------------------------------
    def save_plan(self, run_id: int, plan: dict[str, Any]) -> None:
        self.db.execute("UPDATE runs SET plan = ? WHERE id = ?", (json.dumps(plan), run_id))

    def plan(self, run_id: int) -> tuple[str, dict[str, Any]] | None:
        """A run's status and plan, or None when there is no such run."""
        row = self.db.execute("SELECT status, plan FROM runs WHERE id = ?", (run_id,)).fetchone()
        return (row["status"], json.loads(row["plan"] or "{}")) if row else None

    def add_piece(self, run_id: int, stage: str, lock_key: str, work: dict[str, Any], size: int) -> int:
        return int(self.db.execute("INSERT INTO pieces (run_id, stage, lock_key, work, size) VALUES (?, ?, ?, ?, ?) "
                                   "RETURNING id", (run_id, stage, lock_key, json.dumps(work), size)).fetchone()[0])

    def piece(self, piece_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM pieces WHERE id = ?", (piece_id,)).fetchone()
        if row is None:
            return None
        return {**dict(row), "work": json.loads(row["work"]),
                "result": json.loads(row["result"]) if row["result"] else None}

    def finish_piece(self, piece_id: int, worker: str, at: str, result: dict[str, Any]) -> None:
        self.db.execute("UPDATE pieces SET result = ?, worker = ?, done_at = ? WHERE id = ?",
                        (json.dumps(result), worker, at, piece_id))

    def fail_piece(self, piece_id: int, error: str) -> None:
        """Why a piece's last try failed (it may be tried again)."""
        self.db.execute("UPDATE pieces SET result = ? WHERE id = ?", (json.dumps({"error": error}), piece_id))

    def next_piece(self, run_id: int, stage: str, lock_key: str, *, after: int) -> int | None:
        """The next piece of a lock not done yet, after piece `after`."""
        row = self.db.execute("SELECT MIN(id) FROM pieces WHERE run_id = ? AND stage = ? AND lock_key = ? AND id > ? "
                              "AND done_at IS NULL", (run_id, stage, lock_key, after)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def first_pieces_left(self, run_id: int, stage: str) -> dict[str, int]:
        """Each lock's first piece not done yet, of a run's stage."""
        rows = self.db.execute("SELECT lock_key, MIN(id) FROM pieces WHERE run_id = ? AND stage = ? AND done_at IS NULL "
                               "GROUP BY lock_key", (run_id, stage))
        return {row[0]: int(row[1]) for row in rows}

    def held_until(self, run_id: int, lock_key: str) -> float:
        """When the run's done pieces of a lock (a host) said it may be asked again (seconds
        since the epoch; 0: at once)."""
        rows = self.db.execute("SELECT result FROM pieces WHERE run_id = ? AND lock_key = ? AND done_at IS NOT NULL",
                               (run_id, lock_key))
        return max((float(json.loads(row[0]).get("paused_until", 0.0)) for row in rows if row[0]), default=0.0)

    def pieces_done(self, run_id: int) -> dict[str, tuple[int, int, int, int]]:
        """Each stage's pieces of a run: (pieces done, pieces, units done, units), a unit
        being a URL or a citation."""
        rows = self.db.execute(
            "SELECT stage, COUNT(done_at), COUNT(*), COALESCE(SUM(CASE WHEN done_at IS NULL THEN 0 ELSE size END), 0), "
            "COALESCE(SUM(size), 0) FROM pieces WHERE run_id = ? GROUP BY stage", (run_id,))
        return {row[0]: (int(row[1]), int(row[2]), int(row[3]), int(row[4])) for row in rows}

    def piece_results(self, run_id: int, stage: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT result FROM pieces WHERE run_id = ? AND stage = ? AND result IS NOT NULL "
                               "ORDER BY id", (run_id, stage))
        return [json.loads(row[0]) for row in rows]

    def piece_workers(self, run_id: int) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT worker FROM pieces WHERE run_id = ? AND worker IS NOT NULL ORDER BY worker",
                               (run_id,))
        return [row[0] for row in rows]

    def running_runs(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM runs WHERE status = 'running' ORDER BY id")
        return [_run_dict(row) for row in rows]

    def checked_in_run(self, run_id: int, keys: Sequence[str]) -> set[str]:
        """The URL keys this run has a check of already (a piece tried again skips them)."""
        found: set[str] = set()
        for chunk in _chunks(keys):
            found.update(row[0] for row in self.db.execute(
                f"SELECT canonical FROM checks WHERE run_id = ? AND canonical IN ({_marks(chunk)})", [run_id, *chunk]))
        return found

    def run_checks(self, run_id: int) -> dict[str, CheckRow]:
        return {row["canonical"]: _check_row(row) for row in self.db.execute(
            "SELECT * FROM checks WHERE run_id = ? ORDER BY id", (run_id,))}

    def run_snapshots(self, run_id: int) -> dict[tuple[str, str | None], Lookup]:
        return {(row["canonical"], row["date"] or None): Lookup.from_json(json.loads(row["data"])) for row in
                self.db.execute("SELECT canonical, date, data FROM snapshots WHERE run_id = ? ORDER BY id", (run_id,))}

    def run_matches(self, run_id: int) -> dict[str, Verification]:
        """The verifications a run made, by citation id."""
        rows = self.db.execute(
            "SELECT m.citation_id, m.verdict, m.passages, m.copies, r.started_at FROM matches m JOIN runs r ON r.id = m.run_id "
            "WHERE m.run_id = ? ORDER BY m.id", (run_id,))
        return {row["citation_id"]: _verification(row) for row in rows}

    def put_live_pages(self, run_id: int, pages: Sequence[tuple[str, str]]) -> None:
        self.db.executemany("INSERT INTO live_pages (run_id, canonical, page) VALUES (?, ?, ?) "
                            f"ON CONFLICT (run_id, canonical) DO UPDATE SET {_replacing(('page',))}",
                            [(run_id, key, page) for key, page in pages])

    def live_pages(self, run_id: int, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(keys):
            found.update((row[0], row[1]) for row in self.db.execute(
                f"SELECT canonical, page FROM live_pages WHERE run_id = ? AND canonical IN ({_marks(chunk)})",
                [run_id, *chunk]))
        return found

    def drop_live_pages(self, run_id: int) -> None:
        self.db.execute("DELETE FROM live_pages WHERE run_id = ?", (run_id,))

    def count(self, table: str) -> int:
        if table not in {"runs", "documents", "citations", "urls", "checks", "snapshots", "matches", "events"}:
            raise ValueError(table)
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


_CHECK_COLUMNS = ("url", "status", "http_status", "final_url", "redirects", "elapsed_ms", "checked_at", "reason",
                  "tries", "state_after", "conclusive", "paywall")


def _replacing(columns: Sequence[str]) -> str:
    """`INSERT OR REPLACE`, said the way SQLite and PostgreSQL both read: the new row's
    values over the old one's."""
    return ", ".join(f"{column} = excluded.{column}" for column in columns)


# A check and what it does to its URL, written alike one at a time and many at once.
_ADD_URL = "INSERT INTO urls (canonical, first_seen) VALUES (?, ?) ON CONFLICT DO NOTHING"
_ADD_CHECK = (
    "INSERT INTO checks (run_id, canonical, url, status, http_status, final_url, redirects, elapsed_ms, checked_at, "
    "reason, tries, state_after, conclusive, paywall) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    f"ON CONFLICT (run_id, canonical) DO UPDATE SET {_replacing(_CHECK_COLUMNS)}")
_SET_STATE = "UPDATE urls SET state = ?, state_since = ? WHERE canonical = ?"
_ADD_EVENT = "INSERT INTO events (run_id, canonical, at, old_state, new_state) VALUES (?, ?, ?, ?, ?)"


def process_identity(pid: int) -> str | None:
    """What tells this process from a later one with the same PID: the boot and the
    process's start time (Linux /proc); None where that cannot be read."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after the command name, which may hold spaces
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_dict(row: Any) -> dict[str, Any]:
    data = dict(row)
    for name in ("settings", "summary", "plan"):
        data[name] = json.loads(data[name]) if data.get(name) else None
    return data


def _citation(row: Any) -> Citation:
    return Citation(
        row["id"], row["idx"], row["line_start"], row["date"],
        tuple(UrlRef(**u) for u in json.loads(row["urls"])), tuple(Passage(**p) for p in json.loads(row["passages"])),
    )


def _chunks(keys: Sequence[str]) -> list[list[str]]:
    keys = list(keys)
    return [keys[i:i + _CHUNK] for i in range(0, len(keys), _CHUNK)]


def _marks(chunk: Sequence[str]) -> str:
    return ", ".join("?" * len(chunk))


class ArchiveCache:
    """The archive client's cache of CDX answers, kept in the store for `max_age_days`, so
    later runs within that age ask the archive nothing."""

    def __init__(self, store: Store, max_age_days: float, now: Clock, prefix: str = "") -> None:
        self.store, self.now, self.prefix = store, now, prefix
        self.max_age = timedelta(days=max_age_days)
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[list[Capture], str] | None:
        with self._lock:
            found = self.store.cached_captures(self.prefix + key, iso(self.now() - self.max_age))
        if found is None:
            return None
        return [Capture(**c) for c in found[0]], found[1]

    def put(self, key: str, captures: list[Capture], queried_url: str) -> None:
        with self._lock:
            self.store.cache_captures(self.prefix + key, iso(self.now()), queried_url,
                                      [dataclasses.asdict(c) for c in captures])


def _check_values(run_id: int, check: LinkCheck, state_after: LinkState) -> tuple[Any, ...]:
    return (run_id, check.canonical, check.url, check.status.value, check.http_status, check.final_url,
            json.dumps([dataclasses.asdict(hop) for hop in check.redirects]), check.elapsed_ms, check.checked_at,
            check.reason, check.tries, state_after.value, int(check.conclusive), int(check.paywall))


def _verification(row: Any) -> Verification:
    return Verification(Verdict(row["verdict"]), tuple(QuoteMatch.from_json(p) for p in json.loads(row["passages"])),
                        row["started_at"], tuple(Copy.from_json(c) for c in json.loads(row["copies"])))


def _check_row(row: Any) -> CheckRow:
    return CheckRow(
        run_id=row["run_id"], canonical=row["canonical"], url=row["url"], status=row["status"],
        http_status=row["http_status"], final_url=row["final_url"], redirects=json.loads(row["redirects"] or "[]"),
        elapsed_ms=row["elapsed_ms"], checked_at=row["checked_at"], reason=row["reason"] or "", tries=row["tries"] or 1,
        state_after=row["state_after"], conclusive=bool(row["conclusive"]), paywall=bool(row["paywall"]),
    )
