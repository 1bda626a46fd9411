"""The history commands: what the database knows, read without the network and without the
lock (a URL's checks and events, the reports rebuilt, the lock cleared), and the report files
that the run and these commands write alike."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pipeline.config import Settings
from pipeline.database import driver_errors, is_postgres
from pipeline.errors import CannotRunError, InputError, UsageError
from pipeline.extract.urls import canonicalize
from pipeline.model import url_key
from pipeline.redact import redact_url
from pipeline.report import report_names, write_index, write_reports, write_robust_links
from pipeline.results import DocumentResults
from pipeline.store import Store, StoreError

F = TypeVar("F", bound=Callable[..., Any])


def database_errors(function: F) -> F:
    """A database that fails after it was opened (a corrupt page, a full disk) is a
    StoreError (exit 3, one line), not an internal error."""
    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except driver_errors() as exc:
            raise StoreError(f"database error: {exc}") from exc

    return wrapped  # type: ignore[return-value]


def require_database(settings: Settings) -> None:
    """Commands that read history need one: a missing file is a mistake, not a new database.
    (A PostgreSQL database is never made by citewatch: one that is missing fails to connect.)"""
    if settings.db != ":memory:" and not is_postgres(settings.db) and not Path(settings.db).is_file():
        raise UsageError(f"{redact_url(settings.db)}: no such database; run `citewatch run` first or give --db")


@contextlib.contextmanager
def open_database(settings: Settings) -> Iterator[Store]:
    """The database of a command that reads history: it must exist (see require_database)."""
    require_database(settings)
    store = Store.open(settings.db)
    try:
        yield store
    finally:
        store.close()


@database_errors
def url_history(url: str, settings: Settings) -> dict[str, Any]:
    """Every past check of one URL (newest first) and its changes of state."""
    with open_database(settings) as store:
        canonical = url_key(canonicalize(url))
        checks = store.checks(canonical)
        if not checks and url_key(url) != canonical:
            checks = store.checks(url_key(url))
        return {
            "url": url,
            "canonical": canonical,
            "state": store.url_state(canonical),
            "checks": [dataclasses.asdict(c) for c in checks],
            "events": store.events(canonical=canonical),
        }


@database_errors
def unlock(settings: Settings) -> dict[str, Any] | None:
    """Clear the database's lock, whoever holds it; what it was (None: nothing held it)."""
    with open_database(settings) as store:
        return store.break_lock()


@database_errors
def build_reports(settings: Settings, formats: Sequence[str], *, only: Sequence[str] = (),
                  robust_links: bool = False, on_note: Callable[[str], None] = lambda note: None) -> list[str]:
    """Rebuild reports from the database alone (no network, no lock: it only reads)."""
    with open_database(settings) as store:
        documents = store.documents()
        if only:
            wanted = {str(Path(p)) for p in only}
            documents = [d for d in documents if str(Path(d["path"])) in wanted]
            if not documents:
                raise UsageError(f"no document {', '.join(only)} in {redact_url(settings.db)}")
        names = report_names(d["path"] for d in store.documents())
        written = []
        loaded = {}
        for document in documents:
            results = loaded[document["path"]] = store.load_results(document["id"])
            written += write_document_reports(results, settings, formats, names[document["path"]])
            if robust_links:
                try:
                    written.append(write_robust_links(results, settings.reports_dir, names[document["path"]]))
                except InputError as exc:  # one document that cannot be read again stops no other
                    on_note(f"no Robust Links for {exc}")
        return written + write_index_of(store, loaded, names, settings, formats)


def write_document_reports(results: DocumentResults, settings: Settings, formats: Sequence[str], name: str, *,
                           data: dict[str, Any] | None = None) -> list[str]:
    try:
        return write_reports(results, settings.reports_dir, formats, name=name, data=data)
    except OSError as exc:
        raise CannotRunError(f"cannot write reports to {settings.reports_dir}: {exc.strerror or exc}") from exc


def write_index_of(store: Store, known: dict[str, DocumentResults], names: dict[str, str], settings: Settings,
                 formats: Sequence[str]) -> list[str]:
    """The index of the documents whose reports are in the reports folder: those written now
    (`known`) and those written there before (loaded from the database); it never links a
    report that is not there (`report --document X --out NEWDIR`)."""
    folder = Path(settings.reports_dir)
    there = [d for d in store.documents() if d["path"] in known
             or any((folder / names[d["path"]] / f"report.{ext}").is_file() for ext in ("html", "json", "md"))]
    documents = [(known.get(d["path"]) or store.load_results(d["id"]), names[d["path"]]) for d in there]
    try:
        return write_index(documents, settings.reports_dir, formats)
    except OSError as exc:
        raise CannotRunError(f"cannot write reports to {settings.reports_dir}: {exc.strerror or exc}") from exc
