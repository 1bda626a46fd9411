"""The run: what is due, the lock, the run's record, the history, the exit policy.

`run_documents` is what a cron line runs every night. It loads what the store knows of the
documents once, checks the links that are not fresh, hands the citations that need it to the
verification flow (`pipeline.flow`), stores each result as it arrives, and renders the reports
from the results it holds. One run per database at a time; a run killed midway loses only
the requests in flight, and the next one resumes: what was checked is fresh, what failed is
checked again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import sqlite3
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pipeline import __version__
from pipeline.archive.model import ArchiveState
from pipeline.archive.many import Archives
from pipeline.config import Settings, shown
from pipeline.documents import read_documents
from pipeline.errors import CannotRunError, ExitCode, InputError, UsageError
from pipeline.evidence.model import Keep
from pipeline.evidence.store import EvidenceStore
from pipeline.extract.urls import canonicalize
from pipeline.flow import LivePage, Verified, check_links, verify_citations
from pipeline.linkstate import LinkState, link_state
from pipeline.liveness import NetworkUnreachable, canary_problem
from pipeline.model import LinkCheck, Verdict, url_key
from pipeline.report import report_names, write_index, write_reports, write_robust_links
from pipeline.report.document import citation_json
from pipeline.results import (
    CitationResult,
    DocumentResults,
    SourceResult,
    first_by_key,
    tally,
)
from pipeline.store import ArchiveCache, Store, StoreError
from pipeline.times import clock, iso, parse_duration, parse_iso


class FailOn(str, enum.Enum):
    """What makes a run's exit code 1."""

    DEAD = "dead"  # any link is dead
    NEW_DEAD = "new-dead"  # a link died in this run
    UNVERIFIED = "unverified"  # any citation is not verified
    NEVER = "never"


FAIL_ON = tuple(f.value for f in FailOn)
F = TypeVar("F", bound=Callable[..., Any])


class Inconclusive(CannotRunError):
    """The network (or the archive) did not answer: nothing was marked."""


@dataclasses.dataclass(frozen=True)
class RunOptions:
    force: bool = False
    archive_missing: bool = False
    fail_on: str = FailOn.NEW_DEAD.value
    reports: bool = True
    formats: tuple[str, ...] = ("html", "json", "md")


@dataclasses.dataclass(frozen=True)
class Target:
    """A document of the run, and which of its citations to work on (None: all)."""

    document_id: int
    only: frozenset[str] | None = None


@dataclasses.dataclass
class RunSummary:
    run_id: int
    kind: str
    status: str
    started_at: str
    finished_at: str = ""
    documents: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    citations: int = 0
    verdicts: dict[str, int] = dataclasses.field(default_factory=dict)
    links: dict[str, int] = dataclasses.field(default_factory=dict)
    classes: dict[str, int] = dataclasses.field(default_factory=dict)
    newly_dead: list[str] = dataclasses.field(default_factory=list)
    new_problems: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # first seen in this run, and where
    checked: int = 0
    reused: int = 0
    verified: int = 0
    saved: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    skipped: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # documents that could not be read
    index: list[str] = dataclasses.field(default_factory=list)  # the index report's files
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)  # records and bytes kept, what was pruned
    notes: list[str] = dataclasses.field(default_factory=list)
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- entry points ---------------------------------------------------------------------


def database_errors(function: F) -> F:
    """A database that fails after it was opened (a corrupt page, a full disk) is a
    StoreError (exit 3, one line), not an internal error."""
    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from exc

    return wrapped  # type: ignore[return-value]


@database_errors
def run_documents(
    paths: Sequence[str], settings: Settings, options: RunOptions = RunOptions(), *,
    on_check: Callable[[LinkCheck], None] | None = None, exclude: Sequence[str] = (),
) -> RunSummary:
    """The scheduled job over documents: files, folders and globs (`read_documents`). A
    document that cannot be read is reported and skipped, and the run goes on (its exit
    code is then at least 1); when none can be read, the run fails (exit 2) before the
    database is touched."""
    _fail_on(options)
    extractions, skipped = read_documents(paths, exclude)
    with Job(settings, "run") as job:
        job.summary.skipped = skipped  # said once, on stderr, by the command line (and in --json)
        targets = []
        for extraction in extractions:
            document_id = job.store.save_document(extraction.document, job.run_id)
            job.store.replace_citations(document_id, extraction.citations)
            targets.append(Target(document_id))
        return job.execute(targets, options, on_check=on_check)[0]


@database_errors
def recheck(target: str, settings: Settings, options: RunOptions = RunOptions()) -> tuple[RunSummary, list[dict[str, Any]]]:
    """Re-run one citation now, by its id (a prefix will do) or one of its URLs: check its
    URLs ignoring max-age, look up snapshots, verify its passages, store, write reports.
    Returns the summary and the citations' provenance."""
    require_database(settings)
    with Job(settings, "recheck") as job:
        looks_like_url = "://" in target or target.startswith("www.")
        found = job.store.find_citations(canonical=_url_variants(canonicalize(target))) if looks_like_url else \
            job.store.find_citations(citation_id=target)
        if not found:
            if looks_like_url:
                raise UsageError(f"no citation with URL {target!r} in {settings.db}; run `citewatch run` on its "
                                 "document first")
            raise UsageError(f"no citation with citation id {target!r} in {settings.db}: an id changes when its "
                             "citation's URLs, date or words are edited (`citewatch extract DOC` lists the ids now), "
                             "or its document was not run yet (`citewatch run DOC`)")
        ids = {citation.id for _, citation in found}
        if not looks_like_url and len(ids) > 1:
            raise UsageError(f"{target!r} matches several citations ({', '.join(sorted(ids))}); give more of the id")
        documents = list(dict.fromkeys(document_id for document_id, _ in found))
        summary, results = job.execute([Target(d, frozenset(ids)) for d in documents],
                                       dataclasses.replace(options, force=True))
        provenance = [citation_json(c) for r in results for c in r.citations if c.citation.id in ids]
        return summary, provenance


def _url_variants(canonical: str) -> list[str]:
    """A URL as given and as a document may have written it: with or without the trailing
    slash of its path (`recheck https://example.org/a/` finds a citation of `…/a`)."""
    parts = urllib.parse.urlsplit(canonical)
    path = parts.path[:-1] if parts.path.endswith("/") and parts.path != "/" else parts.path + "/"
    return [canonical, urllib.parse.urlunsplit(parts._replace(path=path))]


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
                raise UsageError(f"no document {', '.join(only)} in {settings.db}")
        names = report_names(d["path"] for d in store.documents())
        written = []
        loaded = {}
        for document in documents:
            results = loaded[document["path"]] = store.load_results(document["id"])
            written += _write(results, settings, formats, names[document["path"]])
            if robust_links:
                try:
                    written.append(write_robust_links(results, settings.reports_dir, names[document["path"]]))
                except InputError as exc:  # one document that cannot be read again stops no other
                    on_note(f"no Robust Links for {exc}")
        return written + _write_index(store, loaded, names, settings, formats)


# --- the job --------------------------------------------------------------------------


class Job:
    """A run of the job against one database: the lock, the run's row, its work."""

    def __init__(self, settings: Settings, kind: str) -> None:
        self.settings = settings
        self.kind = kind
        self.now = clock(settings.now)
        self.store = Store.open(settings.db)
        self.run_id = 0
        self.summary: RunSummary | None = None
        self.evidence: EvidenceStore | None = None

    def __enter__(self) -> Job:
        started = iso(self.now())
        try:
            note = self.store.acquire_lock(started)
        except BaseException:
            self.store.close()
            raise
        self.run_id = self.store.start_run(started, kind=self.kind, tool_version=__version__,
                                           settings=_result_settings(self.settings))
        self.store.set_lock_run(self.run_id)
        self.summary = RunSummary(self.run_id, self.kind, "running", started)
        if note:
            self.summary.notes.append(note)
        if self.settings.keep_evidence:
            try:
                self.evidence = EvidenceStore.of_database(self.settings.db, self.settings.evidence_dir,
                                                          read_cap=self.settings.max_body_bytes,
                                                          label=f"{self.kind} {self.run_id}")
                self.summary.notes += self.evidence.notes
            except BaseException as exc:  # recorded as the failure it is, and the lock released
                self.__exit__(type(exc), exc, exc.__traceback__)
                raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        summary = self.summary
        try:
            if summary is not None and summary.status == "running":
                if kind is None:
                    status = "done"
                elif issubclass(kind, KeyboardInterrupt):
                    status = "interrupted"
                elif issubclass(kind, (Inconclusive, NetworkUnreachable)):
                    status = "inconclusive"
                else:
                    status = "failed"
                summary.status = status
                summary.finished_at = iso(self.now())
                if exc is not None:
                    summary.notes.append(str(exc))
                if self.evidence is not None:
                    summary.evidence = {**self.evidence.written.to_json(), **summary.evidence,
                                        "folder": str(self.evidence.folder)}
                self.store.finish_run(self.run_id, summary.finished_at, status, summary.to_json())
        finally:
            try:
                if self.evidence is not None:
                    self.evidence.close()
            finally:
                self.store.release_lock()
                self.store.close()

    def execute(self, targets: Sequence[Target], options: RunOptions, *,
                on_check: Callable[[LinkCheck], None] | None = None) -> tuple[RunSummary, list[DocumentResults]]:
        """The stages over the targets' citations: check what is due, verify what needs it,
        store each result, then the documents' results (what was known, updated with what
        this run found), their reports and the summary."""
        settings, store, summary = self.settings, self.store, self.summary
        assert summary is not None
        known = {target.document_id: store.load_results(target.document_id) for target in targets}
        work = [(target.document_id, c) for target in targets for c in known[target.document_id].citations
                if target.only is None or c.citation.id in target.only]
        sources = _first_sources(c for _, c in work)
        due = [k for k, s in sources.items() if options.force or not self._fresh(s.check)]
        summary.reused = len(sources) - len(due)

        checks = _Checks(self, due)
        live: dict[str, LivePage] = {}
        if due:
            if reason := canary_problem(settings):
                raise Inconclusive(f"the network looks unreachable (the canary {settings.canary_url}: {reason}); "
                                   "nothing was checked or marked")
            _, live = check_links([s.ref.url for k, s in sources.items() if k in checks.due], settings,
                                  on_check=checks.recorder(on_check), keep=self.keep)
        summary.checked = len(due)

        statuses = {k: checks.done[k].status.value if k in checks.done else s.status for k, s in sources.items()}
        to_verify = [(d, c) for d, c in work
                     if options.force or c.verification is None or any(r.key in checks.due for r in c.citation.urls)]
        # each archive's CDX answers kept in the store, the first's under the plain URL key as before
        archive = Archives(settings, cache_for=lambda name, number: ArchiveCache(
            store, settings.archive_cache_days, self.now, prefix=f"{name} " if number else ""))
        if to_verify and (problem := archive.ping()):
            # The links checked are real evidence; verdicts without the archive would not be.
            summary.notes.append(f"the archive did not answer ({problem}): quotes were not verified again; "
                                 "earlier results are kept")
            to_verify = []
        verified = verify_citations([(c.citation, c.date) for _, c in to_verify], settings, archive, live=live,
                                    statuses=statuses, checked=checks.done, verified_at=summary.started_at,
                                    keep=self.keep)
        for (key, date), lookup in verified.lookups.items():
            store.add_snapshot(self.run_id, key, date, iso(self.now()), lookup)
            if options.archive_missing and lookup.state is ArchiveState.NONE and key in live:
                summary.saved.append(archive.save(live[key].final_url or key).to_json())
        verifying = {(d, c.citation.id) for d, c in to_verify}
        for document_id, result in to_verify:
            store.add_match(self.run_id, document_id, result.citation.id, verified.verifications[result.citation.id])
        summary.verified = len(to_verify)
        misquoted = {c.citation.id for _, c in to_verify if c.verdict is not Verdict.MISQUOTED
                     and verified.verifications[c.citation.id].verdict is Verdict.MISQUOTED}

        results = [_updated(known[t.document_id], t.document_id, checks, verified, verifying) for t in targets]
        self._summarize(results, targets, checks, options, misquoted)
        self._within_budget()
        if options.reports:
            names = report_names(d["path"] for d in store.documents())
            for document, document_results in zip(summary.documents, results):
                document["reports"] = _write(document_results, settings, options.formats,
                                             names[document_results.document.path])
            summary.index = _write_index(store, {r.document.path: r for r in results}, names, settings,
                                         options.formats)
        return summary, results

    @property
    def keep(self) -> Keep | None:
        return self.evidence.keep if self.evidence is not None else None

    def _within_budget(self) -> None:
        """Past the evidence budget, drop the records no current verdict rests on; what
        they rest on is never dropped, and a store still over budget is said."""
        evidence, summary = self.evidence, self.summary
        budget = self.settings.evidence_budget
        if evidence is None or summary is None or not budget or evidence.size() <= budget:
            return
        summary.evidence["pruned"] = evidence.prune(self.store.evidence_in_use())
        if (size := evidence.size()) > budget:
            summary.notes.append(f"the evidence store ({evidence.folder}) holds {size:,} bytes, over its budget of "
                                 f"{budget:,}: all of it is what current verdicts rest on")

    def _fresh(self, latest: LinkCheck | None) -> bool:
        """Checked alive within max-age. A failed check is never fresh: caching failures
        makes every later run fail."""
        max_age = timedelta(seconds=parse_duration(self.settings.max_age))
        if latest is None or not latest.status.alive or max_age.total_seconds() <= 0:
            return False
        return parse_iso(latest.checked_at) >= self.now() - max_age

    def _summarize(self, results: Sequence[DocumentResults], targets: Sequence[Target], checks: _Checks,
                   options: RunOptions, misquoted: Collection[str] = ()) -> None:
        summary = self.summary
        assert summary is not None
        chosen = [[c for c in r.citations if t.only is None or c.citation.id in t.only] for r, t in zip(results, targets)]
        citations = [c for group in chosen for c in group]
        sources = _first_sources(citations)
        states = [s.state for s in sources.values()]
        verdicts = [c.verdict for c in citations]
        summary.citations = len(citations)
        summary.verdicts = tally(v.value for v in verdicts)
        summary.links = {state.value: states.count(state) for state in LinkState}
        summary.classes = tally(s.status for s in sources.values())
        summary.newly_dead = list(reversed(checks.newly_dead))  # newest first, as events are listed
        summary.new_problems = _cited_where(summary.newly_dead, results, chosen) + _misquoted_where(misquoted, results)
        summary.documents = [{"path": r.document.path, "title": r.document.title, "citations": len(group),
                              "verdicts": tally(c.verdict.value for c in group)}
                             for r, group in zip(results, chosen)]
        problem = {
            FailOn.DEAD: LinkState.DEAD in states,
            FailOn.NEW_DEAD: bool(summary.newly_dead),
            FailOn.UNVERIFIED: not all(v.is_verified for v in verdicts),
            FailOn.NEVER: False,
        }[FailOn(options.fail_on)]
        summary.exit_code = int(ExitCode.PROBLEMS if problem or summary.skipped else ExitCode.OK)


class _Checks:
    """This run's checks of the URLs due, recorded as they arrive: each is stored at once
    with the state it leaves its URL in (computed from the history read once up front)."""

    def __init__(self, job: Job, due: Sequence[str]) -> None:
        self.job = job
        self.due = set(due)
        self.history = job.store.histories(due) if due else {}
        self.done: dict[str, LinkCheck] = {}
        self.states: dict[str, LinkState] = {}
        self.newly_dead: list[str] = []

    def recorder(self, then: Callable[[LinkCheck], None] | None) -> Callable[[LinkCheck], None]:
        def record(check: LinkCheck) -> None:
            self.record(check)
            if then is not None:
                then(check)

        return record

    def record(self, check: LinkCheck) -> None:
        job, settings = self.job, self.job.settings
        key = url_key(check.canonical)
        check = dataclasses.replace(check, canonical=key,
                                    checked_at=iso(job.now()) if settings.now else check.checked_at)
        history = [(check.checked_at, check.status, check.conclusive)] + self.history.get(key, [])
        state = link_state(history, failures=settings.dead_after_failures, days=settings.dead_after_days)
        job.store.add_check(job.run_id, check, state)
        old = job.store.set_state(job.run_id, key, state, check.checked_at)
        if old and state is LinkState.DEAD:
            self.newly_dead.append(key)
        self.done[key] = check
        self.states[key] = state


def _cited_where(keys: Sequence[str], results: Sequence[DocumentResults],
                 chosen: Sequence[Sequence[CitationResult]]) -> list[dict[str, Any]]:
    """Each of `keys` (newly dead URLs) with its reason and every place a document cites it."""
    found: dict[str, dict[str, Any]] = {key: {"kind": "dead-link", "url": key, "reason": "", "cited": []}
                                        for key in keys}
    for document, group in zip(results, chosen):
        for result in group:
            for source in result.sources:
                if source.ref.key in found:
                    entry = found[source.ref.key]
                    entry["url"] = source.ref.url
                    entry["reason"] = entry["reason"] or (source.check.reason if source.check else "") or ""
                    entry["cited"].append({"path": document.document.path, "line": source.ref.line,
                                           "citation": result.citation.id})
    return list(found.values())


def _misquoted_where(ids: Collection[str], results: Sequence[DocumentResults]) -> list[dict[str, Any]]:
    """Each citation of `ids` (misquoted in this run, not before) with its differences."""
    return [{"kind": "misquoted", "url": result.citation.urls[0].url if result.citation.urls else "",
             "reason": "; ".join(dict.fromkeys(p.note for p in result.passages if p.note)) or "misquoted",
             "differences": [dataclasses.asdict(d) for p in result.passages for d in p.differences],
             "cited": [{"path": document.document.path, "line": result.citation.line_start,
                        "citation": result.citation.id}]}
            for document in results for result in document.citations if result.citation.id in ids]


def _first_sources(citations: Iterable[CitationResult]) -> dict[str, SourceResult]:
    return first_by_key(s for c in citations for s in c.sources)


def _updated(known: DocumentResults, document_id: int, checks: _Checks, verified: Verified,
             verifying: set[tuple[int, str]]) -> DocumentResults:
    """What was known of a document, with this run's checks, states, lookups and verdicts."""
    citations = []
    for result in known.citations:
        sources = tuple(
            dataclasses.replace(
                s, check=checks.done.get(s.ref.key, s.check), state=checks.states.get(s.ref.key, s.state),
                lookup=verified.lookups.get((s.ref.key, result.date), s.lookup),
            )
            for s in result.sources
        )
        verification = verified.verifications[result.citation.id] \
            if (document_id, result.citation.id) in verifying else result.verification
        citations.append(CitationResult(result.citation, result.date, sources, verification))
    return dataclasses.replace(known, citations=tuple(citations))


def _write(results: DocumentResults, settings: Settings, formats: Sequence[str], name: str) -> list[str]:
    try:
        return write_reports(results, settings.reports_dir, formats, name=name)
    except OSError as exc:
        raise CannotRunError(f"cannot write reports to {settings.reports_dir}: {exc.strerror or exc}") from exc


def _write_index(store: Store, known: dict[str, DocumentResults], names: dict[str, str], settings: Settings,
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


def _fail_on(options: RunOptions) -> None:
    if options.fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")


def require_database(settings: Settings) -> None:
    """Commands that read history need one: a missing file is a mistake, not a new database."""
    if settings.db != ":memory:" and not Path(settings.db).is_file():
        raise UsageError(f"{settings.db}: no such database; run `citewatch run` first or give --db")


def _result_settings(settings: Settings) -> dict[str, Any]:
    """The settings that change results, for the record (no secrets)."""
    names = ("wayback_cdx_url", "wayback_replay_url", "wayback_dialect", "archive_mode", "archive_after_window_days",
             "dead_after_failures", "dead_after_days", "max_age", "check_method", "soft404_probe", "max_body_bytes",
             "verify_segment_score", "verify_partial_share", "evidence_replay_url")
    return {name: shown(settings, name) for name in names}
