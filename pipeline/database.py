"""The connection under the store: SQLite (a file, the default) or PostgreSQL (a
`postgresql://` URL), with one SQL for both.

The store writes its SQL once, in what the two share: `?` parameters, `INSERT … ON CONFLICT`,
`RETURNING`, rows read by name or by position. What differs lives here: how a connection is
opened, how a write that must be alone keeps out other writers (SQLite's `BEGIN IMMEDIATE`;
on PostgreSQL an advisory lock held around the transaction, so that two processes never
interleave a migration or the taking of the run lock), where the schema version is kept (`PRAGMA
user_version`; a one-row table), and the few column types SQLite is loose about.

PostgreSQL is reached with psycopg 3, imported only when a URL asks for it: the SQLite
default needs nothing more than the standard library.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from pipeline.errors import CannotRunError
from pipeline.redact import redact_url

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_WRITERS = 0x63697465  # the advisory lock of the writes that must be alone: migrations, the run lock ("cite")


class DatabaseError(CannotRunError):
    """The database cannot be reached, opened or written."""


def is_postgres(target: str) -> bool:
    return target.startswith(POSTGRES_SCHEMES)


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """What the store needs of a connection. Every statement commits at once unless it runs
    inside `transaction()` (all or nothing) or `exclusive()` (all or nothing, and no other
    citewatch writer at the same time: migrations, the run lock). `batch()` groups writes
    that may commit together to spare the server round trips and commits."""

    kind: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...
    def transaction(self) -> contextlib.AbstractContextManager[None]: ...
    def exclusive(self) -> contextlib.AbstractContextManager[None]: ...
    def batch(self) -> contextlib.AbstractContextManager[None]: ...
    def version(self) -> int: ...
    def set_version(self, number: int) -> None: ...
    def schema(self, script: str) -> list[str]: ...
    def close(self) -> None: ...


def open_database(target: str) -> Database:
    """SQLite for a path (or `:memory:`), PostgreSQL for a `postgresql://` URL."""
    return PostgresDatabase(target) if is_postgres(target) else SQLiteDatabase(target)


def driver_errors() -> tuple[type[Exception], ...]:
    """What the drivers in use raise when a database fails (psycopg's only once it is loaded)."""
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error, psycopg.Error) if psycopg is not None else (sqlite3.Error,)


@contextlib.contextmanager
def immediate_transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One SQLite write transaction, taken at once (BEGIN IMMEDIATE: a writer waits for
    another, never fails halfway), rolled back on any exception. For connections opened with
    isolation_level=None."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


class SQLiteDatabase:
    kind = "sqlite"

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        _when_free(lambda: self.db.execute("PRAGMA journal_mode=WAL"))
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.db.executemany(sql, rows)

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return immediate_transaction(self.db)

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        return immediate_transaction(self.db)  # SQLite has one writer at a time anyway

    def batch(self) -> contextlib.AbstractContextManager[None]:
        # A commit costs little here, and a transaction held across a check's writes made
        # the 10,000-citation job 5-9 % slower (measured): each write commits as it comes.
        return contextlib.nullcontext()

    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def set_version(self, number: int) -> None:
        self.db.execute(f"PRAGMA user_version = {int(number)}")

    def schema(self, script: str) -> list[str]:
        return statements(script)

    def close(self) -> None:
        self.db.close()


class Row(tuple[Any, ...]):
    """A PostgreSQL row read as sqlite3.Row reads: by position, by name, and `dict(row)`."""

    names: tuple[str, ...] = ()
    positions: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        return tuple.__getitem__(self, self.positions[key] if isinstance(key, str) else key)

    def keys(self) -> tuple[str, ...]:
        return self.names


def _rows(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    return _row_class(tuple(column.name for column in cursor.description or ()))


@functools.cache
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"names": names, "positions": {name: n for n, name in enumerate(names)}})


class PostgresDatabase:
    kind = "postgresql"
    idle: Any

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise DatabaseError("PostgreSQL needs psycopg: pip install 'citewatch[postgres]'") from exc
        self.idle = psycopg.pq.TransactionStatus.IDLE
        try:
            self.db = psycopg.connect(url, autocommit=True, row_factory=_rows, connect_timeout=10,
                                      application_name="citewatch")
        except psycopg.Error as exc:
            raise DatabaseError(f"{redact_url(url)}: cannot connect ({_first_line(exc)})") from exc
        # The durability of the SQLite default (WAL, synchronous=NORMAL): a commit survives a
        # killed citewatch at once, and a crash of the server all but its last moments
        # (PostgreSQL never corrupts for it). Waiting for the disk at each of a run's tens of
        # thousands of small commits made the 10,000-citation job 1.75x as long.
        self.db.execute("SET synchronous_commit TO off")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.db.execute(_placeholders(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.db.cursor() as cursor:
            cursor.executemany(_placeholders(sql), [tuple(row) for row in rows])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; inside another transaction, part of it (no savepoint)."""
        if self.db.info.transaction_status != self.idle:
            yield
            return
        with self.db.transaction():
            yield

    def batch(self) -> contextlib.AbstractContextManager[None]:
        return self.transaction()  # one commit for them all, not one each

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """One transaction that keeps out every other citewatch writer until it ends, as
        SQLite's BEGIN IMMEDIATE does; rolled back on any exception. The advisory lock is
        taken before the transaction begins: a transaction begun earlier and then made to
        wait could still read the catalog as it was (a table another writer has just made
        would look missing)."""
        self.db.execute("SELECT pg_advisory_lock(%s)", (_WRITERS,))
        try:
            with self.db.transaction():
                yield
        finally:
            if not self.db.broken:  # a broken session has released its locks already
                self.db.execute("SELECT pg_advisory_unlock(%s)", (_WRITERS,))

    def version(self) -> int:
        row = self.db.execute("SELECT to_regclass('citewatch_schema')").fetchone()
        if row is None or row[0] is None:
            return 0
        found = self.db.execute("SELECT version FROM citewatch_schema").fetchone()
        return int(found[0]) if found else 0

    def set_version(self, number: int) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS citewatch_schema (version INTEGER NOT NULL)")
        self.db.execute("DELETE FROM citewatch_schema")
        self.db.execute("INSERT INTO citewatch_schema (version) VALUES (%s)", (int(number),))

    def schema(self, script: str) -> list[str]:
        """SQLite's DDL in PostgreSQL's words: an `INTEGER PRIMARY KEY` numbers itself, a
        `REAL` is a double."""
        script = re.sub(r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", script)
        script = re.sub(r"\bREAL\b", "DOUBLE PRECISION", script)
        return statements(script)

    def close(self) -> None:
        self.db.close()


def _placeholders(sql: str) -> str:
    """`?` parameters as psycopg's `%s` (the store's SQL holds no literal `?` or `%`)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _when_free(step: Callable[[], Any], tries: int = 100) -> Any:
    """A step that SQLite answers "database is locked" without waiting (switching a new file
    to WAL while another process creates it), tried again for up to ten seconds."""
    for attempt in range(tries):
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.1)
    return None
