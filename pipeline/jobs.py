"""The run: what is due, the lock, the run's record, the stages in order, the exit policy.
(What the database knows is read by `pipeline.history`; what a run did is `pipeline.summary`.)

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
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import timedelta
from typing import Any

from pipeline import __version__
from pipeline.archive.many import Archives
from pipeline.archive.model import ArchiveState, SaveResult, SaveState
from pipeline.config import Settings, shown
from pipeline.database import is_postgres
from pipeline.documents import read_documents
from pipeline.errors import CannotRunError, UsageError
from pipeline.evidence.commands import open_evidence
from pipeline.evidence.model import EvidenceError, Keep
from pipeline.evidence.store import EvidenceStore
from pipeline.extract import Extraction
from pipeline.extract.urls import canonicalize
from pipeline.flow import LivePage, Verified, check_links, counting_checks, verify_citations, verify_document
from pipeline.history import database_errors, require_database, write_document_reports, write_index_of
from pipeline.linkstate import LinkState, Streak, streak_of
from pipeline.liveness import NetworkUnreachable, canary_problem
from pipeline.model import LinkCheck, LinkStatus, Verdict, url_key
from pipeline.pieces import archive_cache_for, checked_state
from pipeline.progress import Progress, no_progress
from pipeline.redact import redact_url
from pipeline.report import report_names
from pipeline.report.ci_formats import render_github
from pipeline.report.document import citation_json, report_document
from pipeline.results import (
    CitationResult,
    DocumentResults,
    SourceResult,
    first_by_key,
    tally,
)
from pipeline.shared import LINKS, VERIFICATION, Sharing
from pipeline.store import Store
from pipeline.summary import (
    DocumentSummary,
    RunOptions,
    RunSummary,
    Skipped,
    cited_where,
    exit_code,
    failing_where,
    misquoted_where,
)
from pipeline.times import clock, iso, now_iso, parse_duration, parse_iso


class Inconclusive(CannotRunError):
    """The network (or the archive) did not answer: nothing was marked."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A document of the run, and which of its citations to work on (None: all)."""

    document_id: int
    only: frozenset[str] | None = None


# --- entry points ---------------------------------------------------------------------


@database_errors
def run_documents(
    paths: Sequence[str], settings: Settings, options: RunOptions = RunOptions(), *,
    on_check: Callable[[LinkCheck], None] | None = None, exclude: Sequence[str] = (),
    on_progress: Progress = no_progress,
) -> RunSummary:
    """The scheduled job over documents: files, folders and globs (`read_documents`). A
    document that cannot be read is reported and skipped, and the run goes on (its exit
    code is then at least 1); when none can be read, the run fails (exit 2) before the
    database is touched."""
    extractions, skipped = read_documents(paths, exclude)
    with Job(settings, "run") as job:
        assert job.summary is not None
        # said once, on stderr, by the command line (and in --json)
        job.summary.skipped = [Skipped(s["path"], s["reason"]) for s in skipped]
        targets = []
        for extraction in extractions:
            document_id = job.store.save_document(extraction.document, job.run_id)
            job.store.replace_citations(document_id, extraction.citations)
            targets.append(Target(document_id))
        return job.execute(targets, options, on_check=on_check, on_progress=on_progress)[0]


def verify_documents(extractions: Sequence[Extraction], settings: Settings, *,
                     on_warning: Callable[[str], None], on_progress: Progress = no_progress) -> list[DocumentResults]:
    """`citewatch verify`: each document through the whole flow with no history, every copy
    read kept in the evidence folder. A folder that cannot be opened is a warning: the
    verdicts are made all the same and name no kept bytes."""
    every = []
    with contextlib.ExitStack() as stack:
        keep = None
        if settings.keep_evidence and extractions:
            try:
                keep = stack.enter_context(open_evidence(settings, label="verify")).keep
            except EvidenceError as exc:  # verify wrote nothing before it kept evidence: it still verifies
                on_warning(f"{exc}; verdicts will name no kept bytes")
        for extraction in extractions:
            every.append(verify_document(extraction, settings, keep=keep, on_progress=on_progress))
    return every


@database_errors
def recheck(target: str, settings: Settings, options: RunOptions = RunOptions(), *,
            on_progress: Progress = no_progress) -> tuple[RunSummary, list[dict[str, Any]]]:
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
                raise UsageError(f"no citation with URL {target!r} in {redact_url(settings.db)}; run `citewatch run` on its "
                                 "document first")
            raise UsageError(f"no citation with citation id {target!r} in {redact_url(settings.db)}: an id changes when its "
                             "citation's URLs, date or words are edited (`citewatch extract DOC` lists the ids now), "
                             "or its document was not run yet (`citewatch run DOC`)")
        ids = {citation.id for _, citation in found}
        if not looks_like_url and len(ids) > 1:
            raise UsageError(f"{target!r} matches several citations ({', '.join(sorted(ids))}); give more of the id")
        documents = list(dict.fromkeys(document_id for document_id, _ in found))
        summary, results = job.execute([Target(d, frozenset(ids)) for d in documents],
                                       dataclasses.replace(options, force=True), on_progress=on_progress)
        provenance = [citation_json(c) for r in results for c in r.citations if c.citation.id in ids]
        return summary, provenance


def _url_variants(canonical: str) -> list[str]:
    """A URL as given and as a document may have written it: with or without the trailing
    slash of its path (`recheck https://example.org/a/` finds a citation of `…/a`)."""
    parts = urllib.parse.urlsplit(canonical)
    path = parts.path[:-1] if parts.path.endswith("/") and parts.path != "/" else parts.path + "/"
    return [canonical, urllib.parse.urlunsplit(parts._replace(path=path))]


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
        # a run on PostgreSQL shares its work with `citewatch worker` processes (pipeline/shared.py)
        self.shares = kind == "run" and is_postgres(settings.db)
        self.began = now_iso()  # the real time, as the evidence index stamps what it is given

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
                    written = self.evidence.written_since(self.began) if self.shares else self.evidence.written
                    summary.evidence = {**written.to_json(), **summary.evidence, "folder": str(self.evidence.folder)}
                self.store.finish_run(self.run_id, summary.finished_at, status, summary.to_json())
        finally:
            try:
                if self.shares:  # the pages its pieces read for verification, whatever became of the run
                    self.store.drop_live_pages(self.run_id)
                if self.evidence is not None:
                    self.evidence.close()
            finally:
                self.store.release_lock()
                self.store.close()

    def execute(self, targets: Sequence[Target], options: RunOptions, *,
                on_check: Callable[[LinkCheck], None] | None = None,
                on_progress: Progress = no_progress) -> tuple[RunSummary, list[DocumentResults]]:
        """The stages over the targets' citations: check what is due, verify what needs it
        (and save what the archive lacks), then the documents' results (what was known,
        updated with what this run found), the summary and the reports."""
        summary = self.summary
        assert summary is not None
        known = {target.document_id: self.store.load_results(target.document_id) for target in targets}
        work = [(target.document_id, c) for target in targets for c in known[target.document_id].citations
                if target.only is None or c.citation.id in target.only]
        if self.shares:
            with Sharing(self.store, self.settings, self.run_id, self.keep, take_part=options.work) as sharing:
                checks = self._check_shared(sharing, work, options, on_check, on_progress)
                to_verify, verified = self._verify_shared(sharing, work, checks, options, on_progress)
        else:
            checks, live = self._check_due(work, options, on_check, on_progress)
            to_verify, verified = self._verify(work, checks, live, options, on_progress)
        misquoted = {c.citation.id for _, c in to_verify if c.verdict is not Verdict.MISQUOTED
                     and verified.verifications[c.citation.id].verdict is Verdict.MISQUOTED}
        verifying = {(d, c.citation.id) for d, c in to_verify}
        results = [_updated(known[t.document_id], t.document_id, checks, verified, verifying) for t in targets]
        self._summarize(results, targets, checks, options, misquoted)
        self._within_budget()
        if options.reports:
            self._write_reports(results, options.formats, on_progress)
        return summary, results

    def _check_due(self, work: Sequence[tuple[int, CitationResult]], options: RunOptions,
                   on_check: Callable[[LinkCheck], None] | None,
                   on_progress: Progress) -> tuple[_Checks, dict[str, LivePage]]:
        """Check the links that are not fresh (all with --force), each stored as it arrives."""
        settings, summary = self.settings, self.summary
        assert summary is not None
        sources, due = self._due(work, options)
        checks = _Checks(self, due, sources)
        live: dict[str, LivePage] = {}
        if due:
            self._online()
            urls = [s.ref.url for s in slowest_first([s for k, s in sources.items() if k in checks.due])]
            _, live = check_links(urls, settings, on_check=counting_checks(urls, checks.recorder(on_check), on_progress),
                                  keep=self.keep)
        summary.checked = len(due)
        return checks, live

    def _check_shared(self, sharing: Sharing, work: Sequence[tuple[int, CitationResult]], options: RunOptions,
                      on_check: Callable[[LinkCheck], None] | None, on_progress: Progress) -> _Checks:
        """`_check_due` by pieces, a host's at a time, taken by any worker: what is due is
        checked, and the live pages verification will need are read (by the host's piece, so
        that no other request goes to the host)."""
        settings, store, summary = self.settings, self.store, self.summary
        assert summary is not None
        sources, due = self._due(work, options)
        checks = _Checks(self, due, sources, history=False)
        wanted = {ref.key: ref.url for _, c in self._to_verify(work, checks, options) for ref in c.citation.urls}
        read = [url for key, url in wanted.items() if key not in checks.due
                and sources[key].status in (LinkStatus.OK.value, LinkStatus.REDIRECTED.value)]
        if due:
            self._online()
        urls = [s.ref.url for s in slowest_first([s for k, s in sources.items() if k in checks.due])]
        sharing.stage(LINKS, by_host_pieces(urls, read, settings.share_piece_links), on_progress)
        for key, row in store.run_checks(self.run_id).items():
            if key in checks.due:
                checks.done[key] = row.to_check()
                checks.states[key] = LinkState(row.state_after) if row.state_after else LinkState.UNCERTAIN
                if on_check is not None:
                    on_check(checks.done[key])
        checks.streaks = store.streaks(list(checks.done))
        # as `_Checks.record` collects them: in the order they happened (events are listed newest first)
        checks.newly_dead = [e["canonical"] for e in reversed(store.events(run_id=self.run_id))
                             if e["new_state"] == LinkState.DEAD.value and e["canonical"] in checks.due]
        summary.checked = len(due)
        return checks

    def _verify_shared(self, sharing: Sharing, work: Sequence[tuple[int, CitationResult]], checks: _Checks,
                       options: RunOptions, on_progress: Progress) -> tuple[list[tuple[int, CitationResult]], Verified]:
        """`_verify` by pieces of citations, one piece asking the archive at a time."""
        settings, store, summary = self.settings, self.store, self.summary
        assert summary is not None
        to_verify = self._to_verify(work, checks, options)
        if to_verify:
            with Archives(settings) as archive:
                problem = archive.ping()
            if problem:
                to_verify = self._archive_down(problem)
        pairs = list(dict.fromkeys((d, c.citation.id) for d, c in to_verify))
        size = settings.share_piece_citations
        sharing.stage(VERIFICATION, [("archive", {"citations": pairs[i:i + size], "verified_at": summary.started_at,
                                                  "archive_missing": options.archive_missing}, len(pairs[i:i + size]))
                                     for i in range(0, len(pairs), size)], on_progress)
        for result in store.piece_results(self.run_id, VERIFICATION):
            summary.saved += [SaveResult(s["url"], SaveState(s["state"]), s["timestamp"], s["reason"])
                              for s in result.get("saved", [])]
        summary.verified = len(to_verify)
        return to_verify, Verified(store.run_snapshots(self.run_id), store.run_matches(self.run_id))

    def _due(self, work: Sequence[tuple[int, CitationResult]],
             options: RunOptions) -> tuple[dict[str, SourceResult], list[str]]:
        """Each URL key's first source, and the keys to check: not fresh (all with --force);
        the rest are counted as reused."""
        assert self.summary is not None
        sources = _first_sources(c for _, c in work)
        due = [k for k, s in sources.items() if options.force or not self._fresh(s.check)]
        self.summary.reused = len(sources) - len(due)
        return sources, due

    def _online(self) -> None:
        """Raises Inconclusive when the canary does not answer: nothing is checked or marked."""
        if reason := canary_problem(self.settings):
            raise Inconclusive(f"the network looks unreachable (the canary {self.settings.canary_url}: {reason}); "
                               "nothing was checked or marked")

    def _archive_down(self, problem: str) -> list[tuple[int, CitationResult]]:
        """The archive did not answer: nothing is verified again, and the summary says why.
        The links checked are real evidence; verdicts without the archive would not be."""
        assert self.summary is not None
        self.summary.notes.append(f"the archive did not answer ({problem}): quotes were not verified again; "
                                  "earlier results are kept")
        return []

    def _to_verify(self, work: Sequence[tuple[int, CitationResult]], checks: _Checks,
                   options: RunOptions) -> list[tuple[int, CitationResult]]:
        """The citations to verify: never verified, a URL checked now, or --force."""
        return [(d, c) for d, c in work
                if options.force or c.verification is None or any(r.key in checks.due for r in c.citation.urls)]

    def _verify(self, work: Sequence[tuple[int, CitationResult]], checks: _Checks, live: dict[str, LivePage],
                options: RunOptions, on_progress: Progress) -> tuple[list[tuple[int, CitationResult]], Verified]:
        """Verify the citations that need it (never verified, a URL checked now, --force)
        against the archive, store each lookup and verdict, and save what the archive lacks
        (--archive-missing). Without the archive, nothing is verified again."""
        settings, store, summary = self.settings, self.store, self.summary
        assert summary is not None
        statuses = {k: checks.done[k].status.value if k in checks.done else s.status for k, s in checks.sources.items()}
        to_verify = self._to_verify(work, checks, options)
        # each archive's CDX answers kept in the store, the first's under the plain URL key as before
        with Archives(settings, cache_for=archive_cache_for(store, settings, self.now)) as archive:
            if to_verify and (problem := archive.ping()):
                to_verify = self._archive_down(problem)
            verified = verify_citations([(c.citation, c.date) for _, c in to_verify], settings, archive, live=live,
                                        statuses=statuses, checked=checks.done, verified_at=summary.started_at,
                                        keep=self.keep, on_progress=on_progress)
            pages = {**live, **verified.live}
            for (key, date), lookup in verified.lookups.items():
                store.add_snapshot(self.run_id, key, date, iso(self.now()), lookup)
                if options.archive_missing and lookup.state is ArchiveState.NONE and key in pages:
                    summary.saved.append(archive.save(pages[key].final_url or key))
        for document_id, result in to_verify:
            store.add_match(self.run_id, document_id, result.citation.id, verified.verifications[result.citation.id])
        summary.verified = len(to_verify)
        return to_verify, verified

    def _write_reports(self, results: Sequence[DocumentResults], formats: Sequence[str], on_progress: Progress) -> None:
        summary = self.summary
        assert summary is not None
        names = report_names(d["path"] for d in self.store.documents())
        for number, (document, document_results) in enumerate(zip(summary.documents, results), 1):
            on_progress("reports", number - 1, len(results))
            data = report_document(document_results)  # once, for the files and the annotations
            document.reports = write_document_reports(document_results, self.settings, formats,
                                                      names[document_results.document.path], data=data)
            if "github" in formats:  # the CLI prints them: GitHub reads workflow commands from stdout
                document.annotations = render_github(data)
            on_progress("reports", number, len(results))
        summary.index = write_index_of(self.store, {r.document.path: r for r in results}, names, self.settings,
                                       formats)

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
        summary.new_problems = cited_where(summary.newly_dead, results, chosen) + misquoted_where(misquoted, results)
        summary.failing = failing_where(results, chosen)
        summary.documents = [DocumentSummary(r.document.path, r.document.title, len(group),
                                             tally(c.verdict.value for c in group))
                             for r, group in zip(results, chosen)]
        summary.exit_code = int(exit_code(options.fail_on, states, bool(summary.newly_dead), verdicts,
                                          bool(summary.skipped)))


class _Checks:
    """This run's checks of the URLs due, recorded as they arrive: each is stored at once
    with the state it leaves its URL in (computed from the history read once up front)."""

    def __init__(self, job: Job, due: Sequence[str], sources: dict[str, SourceResult], *, history: bool = True) -> None:
        self.job = job
        self.due = set(due)
        self.sources = sources
        self.history = job.store.histories(due) if due and history else {}  # a shared run's pieces read their own
        self.done: dict[str, LinkCheck] = {}
        self.states: dict[str, LinkState] = {}
        self.streaks: dict[str, Streak] = {}
        self.newly_dead: list[str] = []

    def recorder(self, then: Callable[[LinkCheck], None] | None) -> Callable[[LinkCheck], None]:
        def record(check: LinkCheck) -> None:
            self.record(check)
            if then is not None:
                then(check)

        return record

    def record(self, check: LinkCheck) -> None:
        job = self.job
        key = url_key(check.canonical)
        check, state = checked_state(job.settings, check, self.history.get(key, []), job.now)
        old = job.store.record_check(job.run_id, check, state)
        if old and state is LinkState.DEAD:
            self.newly_dead.append(key)
        self.done[key] = check
        self.states[key] = state
        self.streaks[key] = streak_of([(check.checked_at, check.status, check.conclusive)] + self.history.get(key, []))


def slowest_first(sources: Sequence[SourceResult]) -> list[SourceResult]:
    """The sources in the order to check them: those whose last check took longest (a
    time-out, tries again) first, so that they run alongside the rest instead of trailing at
    the end; never checked ones next, in document order (the sort is stable)."""
    def cost(source: SourceResult) -> float:
        check = source.check
        if check is None:
            return 0.0
        return check.elapsed_ms * check.tries + (1e9 if check.status is LinkStatus.TIMEOUT else 0.0)

    return sorted(sources, key=cost, reverse=True)


def by_host_pieces(check: Sequence[str], read: Sequence[str], size: int) -> list[tuple[str, dict[str, Any], int]]:
    """A shared run's link pieces: each host's URLs to check and to read, `size` at most a
    piece, locked by the host's name (one piece of a host at a time, in every worker)."""
    hosts: dict[str, dict[str, list[str]]] = {}
    for kind, urls in (("check", check), ("read", read)):
        for url in urls:
            host = (urllib.parse.urlsplit(url_key(canonicalize(url))).hostname or "").lower()
            hosts.setdefault(host, {"check": [], "read": []})[kind].append(url)
    pieces = []
    for host, work in hosts.items():
        every = [("check", u) for u in work["check"]] + [("read", u) for u in work["read"]]
        for start in range(0, len(every), size):
            part = every[start:start + size]
            pieces.append((f"host:{host}", {kind: [u for k, u in part if k == kind] for kind in ("check", "read")},
                           len(part)))
    return pieces


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
                streak=checks.streaks.get(s.ref.key, s.streak),
            )
            for s in result.sources
        )
        verification = verified.verifications[result.citation.id] \
            if (document_id, result.citation.id) in verifying else result.verification
        citations.append(CitationResult(result.citation, result.date, sources, verification))
    return dataclasses.replace(known, citations=tuple(citations))


def _result_settings(settings: Settings) -> dict[str, Any]:
    """The settings that change results, for the record (no secrets)."""
    names = ("wayback_cdx_url", "wayback_replay_url", "wayback_dialect", "archive_mode", "archive_after_window_days",
             "dead_after_failures", "dead_after_days", "max_age", "check_method", "soft404_probe", "max_body_bytes",
             "verify_segment_score", "verify_partial_share", "evidence_replay_url")
    return {name: shown(settings, name) for name in names}
