"""What one piece of a shared run does (`pipeline.shared` hands them out).

A run on PostgreSQL is cut into pieces that any worker may take: a host's links (checked, and
the live pages that verification will need read, all under that host's lock, so that every
request to the host comes from the piece that holds it), and a batch of citations to verify
(under the archive's lock: one piece at a time asks the archive, so that its pace is one
budget for the whole deployment). A piece reads its work and writes its results through the
store; it can be tried again after its worker died: a URL this run has checked already is not
asked again, and a verification piece writes its results all at once, at its end.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import dataclasses
import json
import queue
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipeline.archive.many import Archives
from pipeline.archive.model import ArchiveState
from pipeline.config import Settings
from pipeline.evidence.model import EvidenceRef, Keep
from pipeline.extract.urls import canonicalize
from pipeline.flow import LivePage, verify_citations
from pipeline.linkstate import LinkState, link_state
from pipeline.liveness import check_urls_async, read_pages_async
from pipeline.model import Citation, LinkCheck, LinkStatus, url_key
from pipeline.store import ArchiveCache, Store
from pipeline.times import Clock, clock, iso
from pipeline.verify import NormalizedPage

History = list[tuple[str, LinkStatus, bool]]


class PieceStopped(Exception):
    """The worker was told to stop: the piece ends now and is handed back."""


def checked_state(settings: Settings, check: LinkCheck, history: History, now: Clock) -> tuple[LinkCheck, LinkState]:
    """A check as it is stored (under its URL key, at the run's clock) and the state it leaves
    its URL in: its history, read before the run checked it, and this check."""
    check = dataclasses.replace(check, canonical=url_key(check.canonical),
                                checked_at=iso(now()) if settings.now else check.checked_at)
    return check, link_state([(check.checked_at, check.status, check.conclusive)] + history,
                             failures=settings.dead_after_failures, days=settings.dead_after_days)


def archive_cache_for(store: Store, settings: Settings, now: Clock) -> Callable[[str, int], ArchiveCache]:
    """Each archive's CDX answers kept in the store, the first's under the plain URL key."""
    return lambda name, number: ArchiveCache(store, settings.archive_cache_days, now,
                                             prefix=f"{name} " if number else "")


# --- a live page between a link piece and a verification piece -----------------------------

def encode_page(page: LivePage) -> str:
    """A live page as text for the store: JSON, compressed (a page's text is most of it)."""
    normalized = page.page
    data = {"final_url": page.final_url, "reason": page.reason,
            "evidence": page.evidence.to_json() if page.evidence else None,
            "page": None if normalized is None else {
                "text": normalized.text, "starts": list(normalized.starts), "original_text": normalized.original_text,
                "original_starts": list(normalized.original_starts), "unusable": normalized.unusable}}
    return base64.b64encode(zlib.compress(json.dumps(data).encode(), 6)).decode("ascii")


def decode_page(text: str) -> LivePage:
    data = json.loads(zlib.decompress(base64.b64decode(text)))
    page = data["page"]
    normalized = None if page is None else NormalizedPage(
        page["text"], array.array("q", page["starts"]), page["original_text"], array.array("q", page["original_starts"]),
        page["unusable"])
    return LivePage(data["final_url"], normalized, data["reason"], EvidenceRef.from_json(data["evidence"]))


# --- the pieces ------------------------------------------------------------------------------

async def links_piece(store: Store, settings: Settings, run_id: int, work: Mapping[str, Any], *,
                      keep: Keep | None = None, should_stop: Callable[[], bool] = lambda: False,
                      not_before: float = 0.0) -> dict[str, Any]:
    """One host's URLs of a run: `check` (as written) checked and stored, each alive one's
    page kept for verification; `read` (alive, not due, cited by a citation verified now)
    only read. A URL this run has checked already is skipped, and its page read when the
    piece that checked it died before keeping the page. Nothing is asked before `not_before`
    (seconds since the epoch: the host's Retry-After, as the host's last piece left it), and
    what the host asked at the end is returned (`paused_until`) for the next piece.

    On the worker's event loop, beside its other pieces (a thread and a loop for each piece
    made them fight for the interpreter); the store's reads and writes go on threads."""
    while (wait := not_before - time.time()) > 0:
        if should_stop():
            raise PieceStopped()
        await asyncio.sleep(min(wait, 0.5))
    now = clock(settings.now)
    paused: dict[str, float] = {}
    keys = {url: url_key(canonicalize(url)) for url in [*work["check"], *work["read"]]}
    to_check, to_read, history, before, done = await asyncio.to_thread(_links_left, store, run_id, work, keys)

    with Writer(store, run_id, before) as writer:
        def on_page(check: LinkCheck, read: Any) -> None:
            writer.page(url_key(check.canonical), encode_page(LivePage.of(read, keep, check.checked_at)))

        def on_result(check: LinkCheck) -> None:
            if should_stop():
                raise PieceStopped()
            writer.check(*checked_state(settings, check, history.get(url_key(check.canonical), []), now))

        reading = dataclasses.replace(settings, check_max_bytes=settings.max_body_bytes)
        if to_check:
            await check_urls_async(to_check, reading, on_result=on_result, on_page=on_page, paused=paused)
        if should_stop():
            raise PieceStopped()
        for url, read in (await read_pages_async(to_read, settings)).items():
            writer.page(keys[url], encode_page(LivePage.of(read, keep)))
        await asyncio.to_thread(writer.close)
    return {"checked": len(to_check), "read": len(to_read), "skipped": len(done),
            "paused_until": max(paused.values(), default=0.0)}


def _links_left(store: Store, run_id: int, work: Mapping[str, Any], keys: Mapping[str, str]) -> tuple[
        list[str], list[str], dict[str, History], dict[str, str | None], set[str]]:
    """What a link piece has left to do (all of it, unless it is tried again), and what it
    needs to know first: each URL's history and state before this run."""
    done = store.checked_in_run(run_id, [keys[u] for u in work["check"]])
    kept = store.live_page_keys(run_id, list(keys.values()))
    checked = store.run_checks(run_id) if done else {}
    due = [keys[u] for u in work["check"] if keys[u] not in done]
    history = store.histories(due)
    before: dict[str, str | None] = {key: state.value for key, state in store.url_states(due).items()}
    to_check = [u for u in work["check"] if keys[u] not in done]
    to_read = [u for u in work["read"] if keys[u] not in kept] + \
        [u for u in work["check"] if keys[u] in done and keys[u] not in kept and keys[u] in checked
         and LinkStatus(checked[keys[u]].status).alive]
    return to_check, to_read, history, before, done


class Writer:
    """A link piece's results written on a thread of their own, what has come meanwhile
    written together (a few round trips for many checks): a check never waits on the event
    loop for the database. A write that fails stops the rest, and is raised at the end; a
    killed worker loses what was waiting, which its piece, tried again, checks again."""

    def __init__(self, store: Store, run_id: int, states_before: Mapping[str, str | None]) -> None:
        self.store, self.run_id, self.states_before = store, run_id, states_before
        self.queue: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="citewatch-writer", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def check(self, check: LinkCheck, state: LinkState) -> None:
        self.queue.put(("check", (check, state)))

    def page(self, key: str, text: str) -> None:
        self.queue.put(("page", (key, text)))

    def close(self) -> None:
        """Write what is waiting, then end; raise what failed."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():  # the piece failed or was stopped: what waits is still written
            self.queue.put(None)
            self.thread.join()

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            with contextlib.suppress(queue.Empty):
                while batch[-1] is not None:
                    batch.append(self.queue.get_nowait())
            items = [item for item in batch if item is not None]
            if items and self.error is None:
                try:
                    with self.store.db.batch():
                        self.store.record_checks(self.run_id, [v for kind, v in items if kind == "check"],
                                                 self.states_before)
                        self.store.put_live_pages(self.run_id, [v for kind, v in items if kind == "page"])
                except BaseException as exc:  # raised by close(); the writes after it are dropped
                    self.error = exc
            if batch[-1] is None:
                return


def verify_piece(store: Store, settings: Settings, run_id: int, work: Mapping[str, Any], *,
                 keep: Keep | None = None, should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """A batch of a run's citations verified against the archive and the live pages its link
    pieces kept (nothing here asks a cited site), the lookups and verdicts written together
    at the end, and with `archive_missing` what the archive lacks sent to be saved."""
    now = clock(settings.now)
    items: list[tuple[int, Citation, str | None]] = []
    for document_id, ids in _by_document(work["citations"]).items():
        document = store.document(document_id)
        items += [(document_id, c, c.date or document.date) for c in store.citations(document_id, sorted(ids))]
    keys = list(dict.fromkeys(ref.key for _, c, _ in items for ref in c.urls))
    live = {key: decode_page(text) for key, text in store.live_pages(run_id, keys).items()}
    statuses = {key: row.status for key, row in store.latest_checks(keys).items()}

    def stopping(stage: str, done: int, total: int) -> None:
        if should_stop():
            raise PieceStopped()

    saved = []
    with Archives(settings, cache_for=archive_cache_for(store, settings, now)) as archive:
        verified = verify_citations([(c, date) for _, c, date in items], settings, archive, live=live, statuses=statuses,
                                    checked=keys, verified_at=work["verified_at"], keep=keep, on_progress=stopping)
        if work.get("archive_missing"):
            saved = [archive.save(live[key].final_url or key).to_json() for (key, _), lookup in verified.lookups.items()
                     if lookup.state is ArchiveState.NONE and key in live]
    with store.transaction():
        for (key, date), lookup in verified.lookups.items():
            store.add_snapshot(run_id, key, date, iso(now()), lookup)
        for document_id, citation, _ in items:
            store.add_match(run_id, document_id, citation.id, verified.verifications[citation.id])
    return {"verified": len(items), "saved": saved}


def _by_document(pairs: Sequence[Sequence[Any]]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for document_id, citation_id in pairs:
        found.setdefault(int(document_id), set()).add(str(citation_id))
    return found
