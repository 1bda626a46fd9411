"""The run: stages, concurrency, incremental re-checks, the lock, resuming.

`run_documents` is what a cron line runs every night: extract, check what is not fresh,
look up snapshots (cached in the store), verify what changed, store everything as it
arrives, write the reports. One run per database at a time; a run killed midway loses only
the requests in flight, and the next one resumes: what was checked is fresh, what failed is
checked again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.archive import ArchiveClient, ArchiveState, Capture
from pipeline.config import Settings, parse_duration
from pipeline.errors import CannotRunError, ExitCode, UsageError
from pipeline.extract import extract
from pipeline.extract.urls import canonicalize
from pipeline.extract.urls import url_key as key
from pipeline.http import FetchError, Fetcher, Response, run_sync
from pipeline.linkstate import LinkState, link_state
from pipeline.liveness import NetworkUnreachable, check_urls
from pipeline.model import Citation, LinkCheck, LinkStatus, Passage, UrlRef
from pipeline.report import write_reports
from pipeline.sources import LivePage, archived_copies, live_page, verify_citation
from pipeline.store import Store
from pipeline.verify import Thresholds, Verdict

FAIL_ON = ("dead", "new-dead", "unverified", "never")


class Inconclusive(CannotRunError):
    """The network (or the archive) did not answer: nothing was marked."""


@dataclasses.dataclass(frozen=True)
class RunOptions:
    force: bool = False
    archive_missing: bool = False
    fail_on: str = "new-dead"
    reports: bool = True
    formats: tuple[str, ...] = ("html", "json", "md")


@dataclasses.dataclass(frozen=True)
class Item:
    """A citation to work on, with the document it belongs to."""

    document_id: int
    document_date: str | None
    citation: Citation

    @property
    def date(self) -> str | None:
        return self.citation.date or self.document_date


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
    checked: int = 0
    reused: int = 0
    verified: int = 0
    saved: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def clock(settings: Settings) -> Callable[[], datetime]:
    """Now, or the time the `now` setting pretends it is (for tests and backfills)."""
    if settings.now:
        fixed = datetime.fromisoformat(settings.now.replace("Z", "+00:00"))
        fixed = fixed if fixed.tzinfo else fixed.replace(tzinfo=timezone.utc)
        return lambda: fixed
    return lambda: datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class StoreCache:
    """The archive client's cache of CDX answers, kept in the store for `archive_cache_days`."""

    def __init__(self, store: Store, settings: Settings, now: Callable[[], datetime]) -> None:
        self.store, self.now = store, now
        self.max_age = timedelta(days=settings.archive_cache_days)
        self._lock = threading.Lock()

    def get(self, key_: str) -> tuple[list[Capture], str] | None:
        with self._lock:
            found = self.store.cached_captures(key_, iso(self.now() - self.max_age))
        if found is None:
            return None
        return [Capture(**c) for c in found[0]], found[1]

    def put(self, key_: str, captures: list[Capture], queried_url: str) -> None:
        with self._lock:
            self.store.cache_captures(key_, iso(self.now()), queried_url, [dataclasses.asdict(c) for c in captures])


# --- entry points ---------------------------------------------------------------------


def run_documents(
    paths: Sequence[str], settings: Settings, options: RunOptions = RunOptions(), *,
    on_check: Callable[[LinkCheck], None] | None = None,
) -> RunSummary:
    """The scheduled job over documents. Unreadable documents fail (exit 2) before the
    database is touched."""
    if options.fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    extractions = [extract(path) for path in paths]
    with Job(settings, "run") as job:
        items, document_ids = [], []
        for extraction in extractions:
            document_id = job.store.save_document(
                extraction.document.path, extraction.document.title, extraction.document.date,
                extraction.document.sha256, extraction.document.format.value, job.run_id,
            )
            job.store.replace_citations(document_id, [_citation_record(c) for c in extraction.citations])
            items += [Item(document_id, extraction.document.date, c) for c in extraction.citations]
            document_ids.append(document_id)
        return job.execute(items, options, on_check=on_check, document_ids=document_ids)


def recheck(target: str, settings: Settings, options: RunOptions = RunOptions()) -> tuple[RunSummary, list[dict[str, Any]]]:
    """Re-run one citation now, by its id (a prefix will do) or one of its URLs: check its
    URLs ignoring max-age, look up snapshots, verify its passages, store, write reports.
    Returns the summary and the citations' provenance."""
    _require_database(settings)
    with Job(settings, "recheck") as job:
        looks_like_url = "://" in target or target.startswith("www.")
        found = job.store.find_citations(canonical=canonicalize(target)) if looks_like_url else \
            job.store.find_citations(citation_id=target)
        if not found:
            what = "URL" if looks_like_url else "citation id"
            raise UsageError(f"no citation with {what} {target!r} in {settings.db}; run `citewatch run` on its document first")
        if not looks_like_url and len({c["id"] for c in found}) > 1:
            raise UsageError(f"{target!r} matches several citations ({', '.join(sorted({c['id'] for c in found}))}); give more of the id")
        documents = {d["id"]: d for d in job.store.documents()}
        items = [Item(c["document_id"], documents[c["document_id"]]["date"], _citation_from_record(c)) for c in found]
        summary = job.execute(items, dataclasses.replace(options, force=True))
        provenance = [_provenance(job.store, item) for item in items]
        return summary, provenance


def url_history(url: str, settings: Settings) -> dict[str, Any]:
    """Every past check of one URL (newest first) and its changes of state."""
    _require_database(settings)
    store = Store.open(settings.db)
    try:
        canonical = key(canonicalize(url))
        checks = store.checks(canonical)
        if not checks and key(url) != canonical:
            checks = store.checks(key(url))
        return {
            "url": url,
            "canonical": canonical,
            "state": store.url_state(canonical),
            "checks": [dataclasses.asdict(c) for c in checks],
            "events": store.events(canonical=canonical),
        }
    finally:
        store.close()


def build_reports(settings: Settings, formats: Sequence[str], *, only: Sequence[str] = (),
                  robust_links: bool = False) -> list[str]:
    """Rebuild reports from the database alone (no network, no lock: it only reads)."""
    _require_database(settings)
    store = Store.open(settings.db)
    try:
        documents = store.documents()
        if only:
            wanted = {str(Path(p)) for p in only}
            documents = [d for d in documents if str(Path(d["path"])) in wanted]
            if not documents:
                raise UsageError(f"no document {', '.join(only)} in {settings.db}")
        try:
            return write_reports(store, [d["id"] for d in documents], settings.reports_dir, formats,
                                 robust_links=robust_links)
        except OSError as exc:
            raise CannotRunError(f"cannot write reports to {settings.reports_dir}: {exc.strerror or exc}") from exc
    finally:
        store.close()


# --- the job --------------------------------------------------------------------------


class Job:
    """A run of the job against one database: the lock, the run's row, its work."""

    def __init__(self, settings: Settings, kind: str) -> None:
        self.settings = settings
        self.kind = kind
        self.now = clock(settings)
        self.store = Store.open(settings.db)
        self.run_id = 0
        self.summary: RunSummary | None = None

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
                self.store.finish_run(self.run_id, summary.finished_at, status, summary.to_json())
        finally:
            self.store.release_lock()
            self.store.close()

    # -- the stages --------------------------------------------------------------------
    def execute(self, items: Sequence[Item], options: RunOptions, *,
                on_check: Callable[[LinkCheck], None] | None = None,
                document_ids: Sequence[int] = ()) -> RunSummary:
        """The stages over `items`; reports for `document_ids` (default: the items' documents,
        so a document without citations still gets its report)."""
        settings, store, summary = self.settings, self.store, self.summary
        assert summary is not None
        first_url: dict[str, str] = {}
        for item in items:
            for ref in item.citation.urls:
                first_url.setdefault(key(ref.canonical), ref.url)
        max_age = timedelta(seconds=parse_duration(settings.max_age))
        due = [k for k in first_url if options.force or not self._fresh(k, max_age)]
        summary.reused = len(first_url) - len(due)

        live: dict[str, LivePage] = {}
        checked: dict[str, LinkCheck] = {}
        if due:
            reason = canary_problem(settings)
            if reason:
                raise Inconclusive(f"the network looks unreachable ({reason}); nothing was checked or marked")

            def record(check: LinkCheck) -> None:
                checked[key(check.canonical)] = check
                self._record_check(check)
                if on_check is not None:
                    on_check(check)

            def keep(check: LinkCheck, response: Response) -> None:
                live[key(check.canonical)] = live_page(response)

            reading = dataclasses.replace(settings, check_max_bytes=settings.max_body_bytes)
            check_urls([first_url[k] for k in due], reading, on_result=record, on_page=keep)
        summary.checked = len(due)

        archive = ArchiveClient(settings, cache=StoreCache(store, settings, self.now))
        to_verify = [item for item in items if options.force or self._needs_verification(item, set(due))]
        if to_verify and (problem := archive.ping()):
            # The links checked are real evidence; verdicts without the archive would not be.
            summary.notes.append(f"the archive did not answer ({problem}): quotes were not verified again; "
                                 "earlier results are kept")
            to_verify = []
        self._fetch_missing_live_pages(to_verify, live, checked)
        wanted = [(key(ref.canonical), item.date) for item in to_verify for ref in item.citation.urls]
        archived = archived_copies(archive, wanted)
        for url_key, date in dict.fromkeys(wanted):
            lookup = archive.lookup(url_key, date)
            store.add_snapshot(self.run_id, url_key, date, iso(self.now()), lookup.to_json())
            if options.archive_missing and lookup.state is ArchiveState.NONE and url_key in live:
                saved = archive.save(live[url_key].final_url or url_key)
                summary.saved.append(saved.to_json())
        statuses = {k: self._latest_status(k) for k in first_url}
        thresholds = Thresholds.of(settings)
        for item in to_verify:
            result = verify_citation(item.citation, item.date, archived, live, statuses, thresholds)
            store.add_match(self.run_id, item.document_id, item.citation.id, result.verdict.value,
                            [m.to_json() for m in result.passages])
        summary.verified = len(to_verify)
        document_ids = list(document_ids) or list(dict.fromkeys(i.document_id for i in items))
        self._summarize(items, first_url, statuses, options, document_ids)
        if options.reports:
            for document_id, document in zip(document_ids, summary.documents):
                try:
                    document["reports"] = write_reports(store, [document_id], settings.reports_dir, options.formats)
                except OSError as exc:
                    raise CannotRunError(f"cannot write reports to {settings.reports_dir}: {exc.strerror or exc}") from exc
        return summary

    def _fresh(self, url_key: str, max_age: timedelta) -> bool:
        """Checked alive within max-age. A failed check is never fresh: caching failures
        makes every later run fail."""
        latest = self.store.latest_check(url_key)
        if latest is None or not LinkStatus(latest.status).alive or max_age.total_seconds() <= 0:
            return False
        return datetime.fromisoformat(latest.checked_at.replace("Z", "+00:00")) >= self.now() - max_age

    def _record_check(self, check: LinkCheck) -> None:
        row = check.to_json()
        row["canonical"] = key(check.canonical)
        row["checked_at"] = iso(self.now()) if self.settings.now else check.checked_at
        history = [(row["checked_at"], check.status, check.conclusive)] + [
            (c.checked_at, LinkStatus(c.status), c.conclusive) for c in self.store.checks(row["canonical"])
            if c.run_id != self.run_id
        ]
        state = link_state(history, failures=self.settings.dead_after_failures, days=self.settings.dead_after_days)
        self.store.add_check(self.run_id, row, state.value)
        self.store.set_state(self.run_id, row["canonical"], state.value, row["checked_at"])

    def _needs_verification(self, item: Item, due: set[str]) -> bool:
        if any(key(ref.canonical) in due for ref in item.citation.urls):
            return True
        return self.store.latest_match(item.document_id, item.citation.id) is None

    def _fetch_missing_live_pages(self, items: Iterable[Item], live: dict[str, LivePage],
                                  checked: dict[str, LinkCheck]) -> None:
        """Live pages of alive URLs not checked in this run but cited by a citation that
        must be verified (a new citation of a fresh URL)."""
        wanted = {key(ref.canonical): ref.url for item in items for ref in item.citation.urls}
        missing = [k for k in wanted if k not in live and k not in checked
                   and self._latest_status(k) in (LinkStatus.OK.value, LinkStatus.REDIRECTED.value)]
        if not missing:
            return

        async def fetch_all() -> None:
            async with Fetcher(self.settings, concurrency=self.settings.check_concurrency,
                               per_host=self.settings.check_per_host) as fetcher:
                async def one(url_key: str) -> None:
                    try:
                        live[url_key] = live_page(await fetcher.fetch(url_key))
                    except FetchError as error:
                        live[url_key] = LivePage(url_key, None, error.reason)

                await asyncio.gather(*(one(k) for k in missing))

        run_sync(fetch_all())

    def _latest_status(self, url_key: str) -> str:
        latest = self.store.latest_check(url_key)
        return latest.status if latest else "unchecked"

    def _summarize(self, items: Sequence[Item], first_url: dict[str, str], statuses: dict[str, str],
                   options: RunOptions, document_ids: Sequence[int]) -> None:
        store, summary = self.store, self.summary
        assert summary is not None
        states = {k: store.url_state(k) or LinkState.UNCERTAIN.value for k in first_url}
        summary.links = {s.value: sum(1 for v in states.values() if v == s.value) for s in LinkState}
        summary.classes = dict(sorted(Counter(statuses.values()).items()))
        summary.newly_dead = [e["canonical"] for e in store.events(run_id=self.run_id) if e["new_state"] == LinkState.DEAD.value]
        verdicts = []
        for item in items:
            match = store.latest_match(item.document_id, item.citation.id)
            verdicts.append(match["verdict"] if match else Verdict.UNVERIFIABLE.value)
        summary.citations = len(items)
        summary.verdicts = dict(sorted(Counter(verdicts).items()))
        documents = {d["id"]: d for d in store.documents()}
        summary.documents = [
            {"path": documents[d]["path"], "title": documents[d]["title"],
             "citations": sum(1 for i in items if i.document_id == d)}
            for d in document_ids
        ]
        problem = {
            "dead": any(v == LinkState.DEAD.value for v in states.values()),
            "new-dead": bool(summary.newly_dead),
            "unverified": any(v not in (Verdict.VERIFIED.value, Verdict.VERIFIED_LIVE.value) for v in verdicts),
            "never": False,
        }[options.fail_on]
        summary.exit_code = int(ExitCode.PROBLEMS if problem else ExitCode.OK)


def _require_database(settings: Settings) -> None:
    """Commands that read history need one: a missing file is a mistake, not a new database."""
    if settings.db != ":memory:" and not Path(settings.db).is_file():
        raise UsageError(f"{settings.db}: no such database; run `citewatch run` first or give --db")


def canary_problem(settings: Settings) -> str | None:
    """Why the canary URL cannot be fetched, or None when the network answers."""
    async def probe() -> None:
        async with Fetcher(settings, trusted_urls=[settings.canary_url], concurrency=1, per_host=1) as fetcher:
            await fetcher.fetch(settings.canary_url, max_bytes=1024)

    try:
        run_sync(probe())
    except FetchError as error:
        return f"the canary {settings.canary_url}: {error.reason}"
    return None


def _result_settings(settings: Settings) -> dict[str, Any]:
    """The settings that change results, for the record (no secrets)."""
    names = ("wayback_cdx_url", "wayback_replay_url", "wayback_dialect", "archive_mode", "archive_after_window_days",
             "dead_after_failures", "dead_after_days", "max_age", "check_method", "soft404_probe", "max_body_bytes")
    return {name: getattr(settings, name) for name in names}


def _citation_record(citation: Citation) -> dict[str, Any]:
    return {
        "id": citation.id, "index": citation.index, "line_start": citation.line_start, "date": citation.date,
        "urls": [dataclasses.asdict(u) for u in citation.urls],
        "passages": [dataclasses.asdict(p) for p in citation.passages],
    }


def _citation_from_record(record: dict[str, Any]) -> Citation:
    return Citation(
        record["id"], record["index"], record["line_start"], record["date"],
        tuple(UrlRef(**u) for u in record["urls"]), tuple(Passage(**p) for p in record["passages"]),
    )


def _provenance(store: Store, item: Item) -> dict[str, Any]:
    match = store.latest_match(item.document_id, item.citation.id) or {}
    sources = []
    for ref in item.citation.urls:
        url_key = key(ref.canonical)
        latest = store.latest_check(url_key)
        sources.append({
            "url": ref.url, "canonical": ref.canonical, "state": store.url_state(url_key),
            "status": latest.status if latest else None, "reason": latest.reason if latest else None,
            "snapshot": (store.latest_snapshot(url_key, item.date) or {}).get("closest"),
        })
    return {"id": item.citation.id, "index": item.citation.index, "date": item.citation.date,
            "verdict": match.get("verdict"), "passages": match.get("passages", []), "sources": sources}
