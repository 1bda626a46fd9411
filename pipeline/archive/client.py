"""One archive, as the rest of citewatch sees it: which captures a URL has, the snapshot
closest to a claim's date, the memento to read as evidence, and saving. It composes the
parts (index, reader, TimeGate, saver, request policy); the dialect and the mode are chosen
here once."""

from __future__ import annotations

import dataclasses
from collections.abc import MutableMapping
from typing import Protocol

from pipeline.archive.choose import lookup_from_captures, preference, query_window, snapshot_of
from pipeline.archive.index import DIALECTS, CdxIndex
from pipeline.archive.mementos import MementoReader
from pipeline.archive.model import (
    ArchiveState,
    ArchiveUnavailable,
    Capture,
    CaptureIndex,
    Evidence,
    Excluded,
    Lookup,
    SaveResult,
    Unread,
    Via,
)
from pipeline.archive.policy import RequestPolicy
from pipeline.archive.save import Saver, saver_for
from pipeline.archive.timegate import TimeGate
from pipeline.archive.timemap import TimeMapIndex
from pipeline.config import ArchiveConfig, ArchiveKind, Settings
from pipeline.http import BlockingFetcher


class Cache(Protocol):
    """Where CDX answers are kept: for one invocation (`MemoryCache`) or across runs (the store)."""

    def get(self, key: str) -> tuple[list[Capture], str] | None: ...
    def put(self, key: str, captures: list[Capture], queried_url: str) -> None: ...


class MemoryCache:
    def __init__(self) -> None:
        self._data: MutableMapping[str, tuple[list[Capture], str]] = {}

    def get(self, key: str) -> tuple[list[Capture], str] | None:
        return self._data.get(key)

    def put(self, key: str, captures: list[Capture], queried_url: str) -> None:
        self._data[key] = (captures, queried_url)


class ArchiveClient:
    """A Wayback-compatible archive (the Internet Archive by default, pywb-based archives
    with the `pywb` dialect)."""

    def __init__(self, settings: Settings, config: ArchiveConfig | None = None, *, cache: Cache | None = None,
                 fetcher: BlockingFetcher | None = None) -> None:
        self.settings = settings
        self.config = config = config or settings.archive_configs()[0]
        self.name = config.name
        self.replay_url = config.replay_url
        self.policy = RequestPolicy(settings, config, fetcher=fetcher)
        self.cache = cache if cache is not None else MemoryCache()
        memento = config.kind is ArchiveKind.MEMENTO
        self.index: CaptureIndex = (
            TimeMapIndex(config.index_url, self.policy) if memento else
            CdxIndex(config.index_url, DIALECTS[config.kind], self.policy, max_captures=settings.archive_max_captures))
        self.reader = MementoReader(config.replay_url, self.policy)
        self.unread: dict[tuple[str, str | None], list[Unread]] = {}  # captures listed but not read, and why
        self.saver: Saver = saver_for(config, self.policy)
        # a TimeGate of the Wayback form (<prefix><timestamp>/<url>); a Memento archive's differs
        self.timegate = TimeGate(self.reader) if settings.archive_mode == "timegate" and not memento else None

    @property
    def requests_made(self) -> int:
        return self.policy.requests_made

    def lookup(self, url: str, date: str | None = None) -> Lookup:
        """The snapshots of `url` for a claim dated `date` (YYYY[-MM[-DD]]); with a TimeGate,
        the closest memento is asked for first and CDX used only when it is unusable."""
        if self.timegate is not None and self.cache.get(url) is None and not self.policy.breaker.open:
            fast = self.timegate.lookup(url, date)
            if fast is not None:
                return dataclasses.replace(fast, archive=self.name)
        try:
            captures, queried, via = self.captures(url, date)
        except Excluded as exc:
            return Lookup(url, ArchiveState.EXCLUDED, reason=str(exc), queried_url=url, archive=self.name)
        except ArchiveUnavailable as exc:
            return Lookup(url, ArchiveState.UNAVAILABLE, reason=str(exc), queried_url=url, archive=self.name)
        return dataclasses.replace(
            lookup_from_captures(url, captures, date, replay_prefix=self.replay_url,
                                 after_window_days=self.settings.archive_after_window_days, queried_url=queried, via=via),
            archive=self.name)

    def captures(self, url: str, date: str | None = None) -> tuple[list[Capture], str, Via]:
        """Every capture of `url`: (captures, URL queried, how). One CDX query a URL per
        cache age, and no variants: the Internet Archive and pywb key captures by SURT,
        which already folds the scheme, `www.`, the default port, a trailing slash and the
        order of the query (docs/archives.md, "CDX")."""
        start, end = query_window(date, self.settings.archive_window_days)
        key = url if start is None else f"{url} {start}-{end}"
        cached = self.cache.get(key)
        if cached is not None:
            return cached[0], cached[1], Via.CACHE
        captures = self.index.captures(url, start, end)
        if not captures and start is not None:  # nothing in the window is not "no capture": widen
            captures, queried, via = self.captures(url, None)
            self.cache.put(key, captures, queried)
            return captures, queried, via
        self.cache.put(key, captures, url)
        return captures, url, Via.CDX

    def evidence(self, url: str, date: str | None = None, *, tries: int = 3) -> Evidence | None:
        """The raw copy of the best capture for the claim: when the archive errors on it,
        the next in preference from the same CDX answer (no new query); 4xx/5xx captures
        and archive errors are never evidence. None when no capture can be read. With a
        TimeGate, the memento it gave is the evidence (no CDX query)."""
        if self.timegate is not None:
            if not self.timegate.asked(url, date):
                self.lookup(url, date)
            memento = self.timegate.take_memento(url, date)
            if memento is not None:
                return memento
        try:
            captures, _, _ = self.captures(url, date)
        except (ArchiveUnavailable, Excluded):
            return None
        unread = self.unread.setdefault((url, date), [])
        for capture in preference(captures, date, self.settings.archive_after_window_days)[:tries]:
            snapshot = snapshot_of(capture, self.replay_url)
            try:
                found = self.reader.read(snapshot.raw_url)
            except ArchiveUnavailable as exc:
                unread.append(Unread(snapshot.raw_url, str(exc), exc.refused))
                continue
            if found is not None and found.status == 200:
                return found
            unread.append(Unread(snapshot.raw_url, f"answered {found.status}" if found else "not a memento", False))
        return None

    def more_evidence(self, url: str, date: str | None, seen: set[str], count: int) -> list[Evidence]:
        """Up to `count` further captures for the claim, next in preference after those
        whose timestamps are in `seen`, each a version (digest) not read yet: for a passage
        the closest capture lacks (an edited article, a wall saved as the page). At most
        `count` + 1 reads; the CDX answer is the one already cached."""
        try:
            captures, _, _ = self.captures(url, date)
        except (ArchiveUnavailable, Excluded):
            return []
        digests = {c.digest for c in captures if c.timestamp in seen}
        found: list[Evidence] = []
        reads = 0
        for capture in preference(captures, date, self.settings.archive_after_window_days):
            if len(found) >= count or reads > count:
                break
            if capture.timestamp in seen or capture.digest in digests:
                continue
            digests.add(capture.digest)
            reads += 1
            try:
                evidence = self.reader.read(snapshot_of(capture, self.replay_url).raw_url)
            except ArchiveUnavailable:
                continue
            if evidence is not None and evidence.status == 200 and evidence.snapshot.timestamp not in seen:
                found.append(evidence)
        return found

    def save(self, url: str) -> SaveResult:
        """Ask the archive to capture `url` now. The caller makes sure the URL is alive."""
        return self.saver.save(url)

    def ping(self) -> str | None:
        """Why the archive does not answer, or None when it does (asked once before a run
        relies on it)."""
        return self.index.ping()

    def close(self) -> None:
        """Close the archive's connections."""
        self.policy.close()

    def stop(self) -> None:
        """Ctrl-C: cancel what is in flight or waiting for the archive's pace."""
        self.policy.stop()

