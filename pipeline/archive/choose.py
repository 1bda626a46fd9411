"""Which capture serves as evidence for a claim, computed locally from one CDX answer.
Pure functions: no I/O, no settings object."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from datetime import timedelta

from pipeline.archive.model import ArchiveState, Capture, Lookup, Snapshot, Via
from pipeline.times import date_to_timestamp, datetime_to_timestamp, timestamp_to_datetime


def preference(captures: Sequence[Capture], date: str | None, after_window_days: int) -> list[Capture]:
    """The captures that may serve as evidence for a claim dated `date`, best first: 200
    captures on or after the date within the window (nearest first), then before it
    (nearest first), then after the window; then, in the same order, redirect captures
    (followed inside the archive when read). Without a date, newest first. 4xx and 5xx
    captures never serve."""
    target = date_to_timestamp(date)

    def ordered(group: list[Capture]) -> list[Capture]:
        if target is None:
            return sorted(group, key=lambda c: c.timestamp, reverse=True)
        horizon = timestamp_to_datetime(target) + timedelta(days=after_window_days)
        after = sorted((c for c in group if c.timestamp >= target), key=lambda c: c.timestamp)
        before = sorted((c for c in group if c.timestamp < target), key=lambda c: c.timestamp, reverse=True)
        near_after = [c for c in after if timestamp_to_datetime(c.timestamp) <= horizon]
        far_after = [c for c in after if timestamp_to_datetime(c.timestamp) > horizon]
        return near_after + before + far_after

    # a capture known only from a TimeMap has no status until read: it may serve, then be judged
    ok = [c for c in captures if c.status == 200 or (c.status is None and c.mimetype == "memento")]
    redirects = [c for c in captures if c.status is not None and 300 <= c.status < 400]
    return ordered(ok) + ordered(redirects)


def snapshot_of(capture: Capture, replay_prefix: str) -> Snapshot:
    """Replay and raw URLs built from the configured prefix, never waybackpy's archive_url
    (always web.archive.org); a memento from a TimeMap keeps the URI the archive gave."""
    if capture.mimetype == "memento":
        return Snapshot(capture.timestamp, None, capture.original, raw_memento_url(capture.original))
    return Snapshot(
        timestamp=capture.timestamp,
        status=capture.status,
        replay_url=f"{replay_prefix}{capture.timestamp}/{capture.original}",
        raw_url=f"{replay_prefix}{capture.timestamp}id_/{capture.original}",
    )


def raw_memento_url(uri: str) -> str:
    """The memento as captured, when the archive has a raw mode: Wayback-style archives take
    `id_` after the timestamp (`…/20160101000000id_/http://…`); other URIs are read as given."""
    return re.sub(r"/(\d{14})/(?=https?:)", r"/\1id_/", uri, count=1)


def lookup_from_captures(
    url: str, captures: Sequence[Capture], date: str | None, *, replay_prefix: str, after_window_days: int,
    queried_url: str = "", via: Via = Via.CDX,
) -> Lookup:
    """The lookup for a claim dated `date`: the closest usable capture, the first and the
    last, how many captures and how many versions."""
    if not captures:
        return Lookup(url, ArchiveState.NONE, reason="no captures", queried_url=queried_url, via=via)
    ordered = sorted(captures, key=lambda c: c.timestamp)
    best = preference(captures, date, after_window_days)
    return Lookup(
        url=url,
        state=ArchiveState.FOUND if best else ArchiveState.NONE,
        captures=len(captures),
        digests=len({c.digest for c in captures if c.digest and c.digest != "-"}),
        closest=snapshot_of(best[0], replay_prefix) if best else None,
        first=snapshot_of(ordered[0], replay_prefix),
        last=snapshot_of(ordered[-1], replay_prefix),
        reason="" if best else f"{len(captures)} captures, none usable (no 200 or redirect)",
        queried_url=queried_url,
        via=via,
    )


def query_window(date: str | None, days: int) -> tuple[str | None, str | None]:
    """CDX `from`/`to` around the claim's date, when queries are bounded (`days` > 0)."""
    target = date_to_timestamp(date)
    if not days or target is None:
        return None, None
    moment, span = timestamp_to_datetime(target), timedelta(days=days)
    return datetime_to_timestamp(moment - span), datetime_to_timestamp(moment + span)


def into_archive(location: str, current: str, replay_prefix: str, timestamp: str) -> str:
    """Where an archived redirect leads, kept inside the archive: a Location that points at
    the live web is mapped back to `<prefix><timestamp>id_/<location>`."""
    target = urllib.parse.urljoin(current, location)
    if target.startswith(replay_prefix):
        return target
    return f"{replay_prefix}{timestamp}id_/{target}"
