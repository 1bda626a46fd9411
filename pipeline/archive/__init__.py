"""Web archives: which captures a URL has, the one closest to a claim's date, the memento to
read as evidence, and saving (docs/archives.md). `ArchiveClient` is the whole surface the
rest of citewatch uses; the modules beside this one are its parts:

- `model`     the values: Capture, Snapshot, Lookup, Evidence, SaveResult, ArchiveState
- `choose`    which capture serves a claim (pure)
- `policy`    rate limiters, 429 pauses, retries, the circuit breaker
- `index`     CDX searches, in the Internet Archive's or pywb's dialect
- `mementos`  reading raw mementos, archived redirects followed inside the archive
- `timegate`  the closest memento first (RFC 7089)
- `save`      Save Page Now 2, pywb's record mode
- `client`    the composition
"""

from pipeline.archive.choose import into_archive, lookup_from_captures, preference, snapshot_of
from pipeline.archive.client import ArchiveClient, Cache, MemoryCache
from pipeline.archive.model import (
    ArchiveState,
    ArchiveUnavailable,
    Capture,
    Evidence,
    Excluded,
    Lookup,
    SaveResult,
    SaveState,
    Snapshot,
    Via,
)
from pipeline.archive.policy import CircuitBreaker, Endpoint, RateLimiter
from pipeline.times import date_to_timestamp, memento_timestamp

__all__ = [
    "ArchiveClient", "ArchiveState", "ArchiveUnavailable", "Cache", "Capture", "CircuitBreaker", "Endpoint", "Evidence", "Excluded", "Lookup",
    "MemoryCache", "RateLimiter", "SaveResult", "SaveState", "Snapshot", "Via", "date_to_timestamp", "into_archive",
    "lookup_from_captures", "memento_timestamp", "preference", "snapshot_of",
]
