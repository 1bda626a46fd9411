"""The forward flow of a verification: link checks → copies of each source (the archived
capture closest to the claim's date, the live page) → verdicts. `verify_document` runs it
all for one document with no history; the scheduled run (`pipeline.jobs`) runs the same
stages on what is due and keeps the history. No storage and no rendering here."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pipeline.archive.many import Archives
from pipeline.archive.model import ArchiveState, Evidence, Lookup, SaveResult, SaveState, Snapshot
from pipeline.config import Settings
from pipeline.errors import UsageError
from pipeline.evidence.model import EvidenceRef, Exchange, Keep
from pipeline.extract.urls import canonicalize
from pipeline.linkstate import LinkState, link_state
from pipeline.liveness import PageRead, check_urls, invalid_reason, read_pages
from pipeline.model import Citation, Extraction, LinkCheck, LinkStatus, Verdict, url_key
from pipeline.progress import Progress, no_progress
from pipeline.results import CitationResult, Copy, DocumentResults, SourceResult, Verification
from pipeline.signals import unusable_copy
from pipeline.text import Unreadable, read_page
from pipeline.times import iso, now_iso, timestamp_to_datetime
from pipeline.verify import CopyKind, NormalizedPage, Thresholds, citation_verdict, verify_passage

T = TypeVar("T")
R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class LivePage:
    """A live page as a copy to look for quotes in."""

    final_url: str
    page: NormalizedPage | None
    reason: str
    evidence: EvidenceRef | None = None

    @classmethod
    def of(cls, read: PageRead, keep: Keep | None = None, read_at: str | None = None) -> LivePage:
        """The page as a copy; with `keep`, its bytes are kept first."""
        evidence = None
        if keep is not None and read.response is not None:
            response = read.response
            evidence = keep(Exchange(CopyKind.LIVE, response.final_url, read_at or now_iso(), response.status,
                                     response.headers, response.body, response.truncated))
        return cls(read.final_url, NormalizedPage.of(read.page, read.unusable) if read.page else None, read.reason,
                   evidence)


@dataclasses.dataclass(frozen=True)
class ArchivedCopy:
    """What the archive holds for a (URL, date), and the capture read as evidence."""

    lookup: Lookup
    location: str | None
    timestamp: str | None
    page: NormalizedPage | None
    reason: str
    evidence: EvidenceRef | None = None


# --- the stages -----------------------------------------------------------------------


def counting_checks(urls: Sequence[str], on_check: Callable[[LinkCheck], None] | None,
                    on_progress: Progress) -> Callable[[LinkCheck], None]:
    """`on_check`, and each check counted to `on_progress` as the "links" stage."""
    done = [0]
    on_progress("links", 0, len(urls))

    def counted(check: LinkCheck) -> None:
        done[0] += 1
        on_progress("links", done[0], len(urls))
        if on_check is not None:
            on_check(check)

    return counted


def check_links(urls: Sequence[str], settings: Settings, *, on_check: Callable[[LinkCheck], None] | None = None,
                keep: Keep | None = None) -> tuple[list[LinkCheck], dict[str, LivePage]]:
    """Check each URL (as written); the live page of each one alive is read in full, once,
    and kept for verification (by URL key), its bytes handed to `keep`."""
    live: dict[str, LivePage] = {}

    def on_page(check: LinkCheck, read: PageRead) -> None:
        live[url_key(check.canonical)] = LivePage.of(read, keep, check.checked_at)

    reading = dataclasses.replace(settings, check_max_bytes=settings.max_body_bytes)
    checks = check_urls(urls, reading, on_result=on_check, on_page=on_page) if urls else []
    return checks, live


def memento_exchange(lookup: Lookup, evidence: Evidence) -> Exchange:
    """A memento as the evidence store keeps it: at its original URL and its own date."""
    snapshot = evidence.snapshot
    return Exchange(CopyKind.ARCHIVE, evidence.final_url, iso(timestamp_to_datetime(snapshot.timestamp)), evidence.status,
                    evidence.headers, evidence.body, evidence.truncated, snapshot.replay_url, snapshot.raw_url,
                    lookup.archive)


def _copy_of(lookup: Lookup, evidence: Evidence, keep: Keep | None) -> ArchivedCopy:
    kept = keep(memento_exchange(lookup, evidence)) if keep is not None else None
    try:
        read = read_page(evidence.body, evidence.headers.get("Content-Type", ""))
        page, reason = NormalizedPage.of(read, unusable_copy(read, evidence.body)), ""
    except Unreadable as exc:
        page, reason = None, str(exc)
    return ArchivedCopy(lookup, evidence.snapshot.raw_url, evidence.snapshot.timestamp, page, reason, kept)


def archived_copy(archive: Archives, key: str, date: str | None, keep: Keep | None = None) -> ArchivedCopy:
    """The capture closest to the claim's date, read (and its bytes kept)."""
    lookup = archive.lookup(key, date)
    evidence = archive.evidence(key, date) if lookup.state is ArchiveState.FOUND else None
    if evidence is None and lookup.state is ArchiveState.FOUND:
        unread = archive.unread(key, date)
        lookup = _without_refused(lookup, {u.raw_url for u in unread if u.refused})
        why = "; ".join(dict.fromkeys(u.reason for u in unread))
        return ArchivedCopy(lookup, None, None, None, "the archive lists captures, but none could be read"
                            + (f": {why}" if why else ""))
    if evidence is None:
        return ArchivedCopy(lookup, None, None, None, lookup.reason or f"archive: {lookup.state.value}")
    return _copy_of(lookup, evidence, keep)


def _without_refused(lookup: Lookup, refused: set[str]) -> Lookup:
    """The lookup less the captures whose address the guard refused: a report never links
    to a copy citewatch would not open itself (a TimeMap may list mementos anywhere)."""
    if not refused:
        return lookup
    def kept(snap: Snapshot | None) -> Snapshot | None:
        return None if snap is not None and snap.raw_url in refused else snap

    return dataclasses.replace(lookup, closest=kept(lookup.closest), first=kept(lookup.first), last=kept(lookup.last),
                               reason="the guard refused the addresses of the captures the archive listed (private "
                                      "or loopback)")


def _parallel(archive: Archives, work: Callable[[T], R], items: Sequence[T],
              on_progress: Progress = no_progress, stage: str = "archive") -> list[R]:
    """`work` over items, `archive_threads` at a time; the archive's pacers pace them; each
    item done is counted to `on_progress`. On Ctrl-C (or any error) the work not started is
    dropped and the archive's requests in flight or waiting for their pace are cancelled, so
    that the threads end at once."""
    done = [0]
    lock = threading.Lock()

    def counted(item: T) -> R:
        result = work(item)
        with lock:
            done[0] += 1
            on_progress(stage, done[0], len(items))
        return result

    on_progress(stage, 0, len(items))
    pool = ThreadPoolExecutor(max_workers=archive.settings.archive_threads)
    finished = False
    try:
        results = list(pool.map(counted, items))
        finished = True
        return results
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            with _interrupts_held():  # a second Ctrl-C must not cut this short: it is what makes stopping quick
                archive.stop()
                pool.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT held back (delivered at the end) in the main thread, for a few statements."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def archived_copies(archive: Archives, wanted: Iterable[tuple[str, str | None]],
                    keep: Keep | None = None, on_progress: Progress = no_progress,
                    ) -> dict[tuple[str, str | None], ArchivedCopy]:
    """The archived copy for each (URL key, date)."""
    pairs = list(dict.fromkeys(wanted))
    return dict(zip(pairs, _parallel(archive, lambda item: archived_copy(archive, *item, keep), pairs, on_progress)))


def further_copies(archive: Archives, first: ArchivedCopy, key: str, date: str | None,
                   count: int, keep: Keep | None = None) -> list[ArchivedCopy]:
    """Further versions near the date, when the first copy did not hold a passage."""
    seen = {first.timestamp} if first.timestamp else set()
    return [_copy_of(first.lookup, evidence, keep) for evidence in archive.more_evidence(key, date, seen, count)]


def verify_citation(
    citation: Citation, date: str | None, archived: Mapping[tuple[str, str | None], Sequence[ArchivedCopy]],
    live: Mapping[str, LivePage], statuses: Mapping[str, str], thresholds: Thresholds = Thresholds(),
    verified_at: str | None = None,
) -> Verification:
    """The citation's passages against the archived copies and the live page of each of
    its URLs. `statuses` (URL key → link status) says why a live page is missing."""
    copies: list[Copy] = []
    for ref in citation.urls:
        for found in archived.get((ref.key, date), ()):
            copies.append(Copy(ref.url, ref.canonical, CopyKind.ARCHIVE, found.location, found.timestamp, found.page,
                               found.reason, found.evidence))
        if ref.key in live:
            page = live[ref.key]
            copies.append(Copy(ref.url, ref.canonical, CopyKind.LIVE, page.final_url, None, page.page, page.reason,
                               page.evidence))
        elif ref.key in statuses:
            copies.append(Copy(ref.url, ref.canonical, CopyKind.LIVE, None, None, None, f"link is {statuses[ref.key]}"))
    return verify_citation_copies([(p.text, p.line) for p in citation.passages], copies, thresholds, verified_at)


def verify_citation_copies(passages: Sequence[tuple[str, int]], copies: Sequence[Copy],
                           thresholds: Thresholds = Thresholds(), verified_at: str | None = None) -> Verification:
    """Passages (text, line) against copies: the verdicts, and the copies (without their
    pages) as the record of what they were made against."""
    matches = tuple(verify_passage(text, line, copies, thresholds) for text, line in passages)
    return Verification(citation_verdict([m.verdict for m in matches]), matches, verified_at,
                        tuple(dataclasses.replace(c, page=None) for c in copies))


@dataclasses.dataclass(frozen=True)
class Verified:
    """What the verification stages produced: each (URL key, date)'s lookup, each
    citation's verification (by id), and the live pages read here (not at a check)."""

    lookups: dict[tuple[str, str | None], Lookup]
    verifications: dict[str, Verification]
    live: dict[str, LivePage] = dataclasses.field(default_factory=dict)


def verify_citations(
    items: Sequence[tuple[Citation, str | None]], settings: Settings, archive: Archives, *,
    live: Mapping[str, LivePage], statuses: Mapping[str, str], checked: Iterable[str] = (),
    verified_at: str | None = None, keep: Keep | None = None, on_progress: Progress = no_progress,
) -> Verified:
    """Copies, then verdicts, for citations whose links were checked (`statuses`, with the
    live pages read then in `live`). An alive URL not checked now (`checked` lists those
    that were) has its live page read here, with the same rules as a check, and returned in
    `Verified.live`. Every copy read is handed to `keep`."""
    wanted_live = {ref.key: ref.url for citation, _ in items for ref in citation.urls}
    done = set(checked)
    missing = [k for k in wanted_live if k not in live and k not in done
               and statuses.get(k) in (LinkStatus.OK.value, LinkStatus.REDIRECTED.value)]
    read_here = {k: LivePage.of(read, keep) for k, read in read_pages(missing, settings).items()}
    live = {**live, **read_here}
    closest = archived_copies(archive, ((ref.key, date) for citation, date in items for ref in citation.urls), keep,
                              on_progress)
    archived = {pair: [copy] for pair, copy in closest.items()}
    thresholds = Thresholds.of(settings)

    def verify_all(chosen: Sequence[tuple[Citation, str | None]], stage: str) -> dict[str, Verification]:
        verifications = {}
        on_progress(stage, 0, len(chosen))
        for number, (citation, date) in enumerate(chosen, 1):
            verifications[citation.id] = verify_citation(citation, date, archived, live, statuses, thresholds,
                                                         verified_at)
            on_progress(stage, number, len(chosen))
        return verifications

    verifications = verify_all(items, "verification")
    # Look further before saying "not found": the next versions near the date.
    lacking = [(c, date) for c, date in items if verifications[c.id].verdict is not Verdict.VERIFIED]
    pairs = list(dict.fromkeys((ref.key, date) for c, date in lacking for ref in c.urls
                               if closest[(ref.key, date)].lookup.state is ArchiveState.FOUND))
    if pairs and settings.verify_more_captures:
        more = _parallel(archive, lambda pair: further_copies(archive, closest[pair], *pair,
                                                              settings.verify_more_captures, keep), pairs,
                         on_progress, "archive, more captures")
        for pair, copies in zip(pairs, more):
            archived[pair] += copies
        grown = {pair for pair, copies in zip(pairs, more) if copies}
        verifications.update(verify_all([(c, date) for c, date in lacking
                                         if any((ref.key, date) in grown for ref in c.urls)], "verification again"))
    return Verified({pair: copy.lookup for pair, copy in closest.items()}, verifications, read_here)


# --- whole documents ------------------------------------------------------------------


def verify_document(extraction: Extraction, settings: Settings, *, archive: Archives | None = None,
                    on_check: Callable[[LinkCheck], None] | None = None, keep: Keep | None = None,
                    on_progress: Progress = no_progress) -> DocumentResults:
    """Check every cited URL, read the archived capture closest to each citation's date and
    the live pages, and verify every passage: the whole flow, with no history (a link's
    state is what this one check says). Every copy read is handed to `keep`."""
    archive = archive or Archives(settings)
    urls = extraction.unique_urls()
    checks, live = check_links(urls, settings, on_check=counting_checks(urls, on_check, on_progress), keep=keep)
    by_key = {url_key(c.canonical): c for c in checks}
    statuses = {k: c.status.value for k, c in by_key.items()}
    items = extraction.dated()
    verified = verify_citations(items, settings, archive, live=live, statuses=statuses, checked=by_key, keep=keep,
                                on_progress=on_progress)
    citations = tuple(
        CitationResult(
            citation, date,
            tuple(SourceResult(ref, by_key.get(ref.key), state_of_one(by_key.get(ref.key)),
                               verified.lookups.get((ref.key, date))) for ref in citation.urls),
            verified.verifications[citation.id],
        )
        for citation, date in items
    )
    return DocumentResults(extraction.document, citations)


def state_of_one(check: LinkCheck | None) -> LinkState:
    """A link's state when one check is all there is: alive, else uncertain (dead takes a history)."""
    return link_state([(check.checked_at, check.status, check.conclusive)] if check else [])


def find_snapshots(url: str, settings: Settings, *, date: str | None = None, archive_missing: bool = False,
                   client: Archives | None = None) -> tuple[Lookup, SaveResult | None]:
    """The snapshots of one URL, and with `archive_missing`, a save when it has no usable
    capture and is alive now (a dead URL is never sent to be saved)."""
    canonical = canonicalize(url)
    if reason := invalid_reason(canonical):
        raise UsageError(f"{url!r}: {reason}")
    host = urllib.parse.urlsplit(canonical).hostname or ""
    if "." not in host and ":" not in host:  # `citewatch snapshots notes` is a typo, not a lookup
        raise UsageError(f"{url!r} is not a web address an archive holds (no domain): give it as https://example.org/…")
    client = client or Archives(settings)
    lookup = dataclasses.replace(client.lookup(url_key(canonical), date), url=url)
    if not archive_missing or lookup.state is not ArchiveState.NONE:
        return lookup, None
    live = check_urls([url], settings)[0]
    if not live.status.alive:
        return lookup, SaveResult(url, SaveState.NOT_SAVED, None, f"not saved: the URL is {live.status.value} ({live.reason})")
    return lookup, client.save(live.final_url or url)
