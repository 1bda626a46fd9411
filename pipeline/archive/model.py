"""What the archive parts hand each other and the rest of citewatch: captures, snapshots,
lookups, mementos read, saves, and the one error that means "the archive did not answer"."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any, Protocol


class ArchiveState(str, enum.Enum):
    """What the archive said of a URL. `archive_unavailable` is never "no snapshot": the
    archive did not answer."""

    FOUND = "found"
    NONE = "none"
    EXCLUDED = "excluded"  # the archive holds it but will not show it (a site's or a rights holder's request)
    UNAVAILABLE = "archive_unavailable"


class Via(str, enum.Enum):
    """How a lookup was answered."""

    CDX = "cdx"
    TIMEGATE = "timegate"
    CACHE = "cache"


@dataclasses.dataclass(frozen=True)
class Capture:
    """One CDX row."""

    timestamp: str  # YYYYMMDDhhmmss
    original: str
    mimetype: str
    status: int | None  # None for revisit records ("-")
    digest: str
    length: str


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A capture as the report shows it: when, what status, where to read it."""

    timestamp: str
    status: int | None
    replay_url: str
    raw_url: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Snapshot | None:
        return cls(data["timestamp"], data["status"], data["replay_url"], data["raw_url"]) if data else None


@dataclasses.dataclass(frozen=True)
class Lookup:
    """What the archive holds for one URL, for a claim of one date."""

    url: str
    state: ArchiveState
    captures: int = 0
    digests: int = 0
    closest: Snapshot | None = None
    first: Snapshot | None = None
    last: Snapshot | None = None
    reason: str = ""
    queried_url: str = ""
    via: Via = Via.CDX
    archive: str = ""  # the name of the archive that answered

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "archive": self.archive,
            "state": self.state.value,
            "captures": self.captures,
            "digests": self.digests,
            "closest": self.closest.to_json() if self.closest else None,
            "first": self.first.to_json() if self.first else None,
            "last": self.last.to_json() if self.last else None,
            "reason": self.reason,
            "queried_url": self.queried_url,
            "via": self.via.value,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Lookup:
        return cls(
            data["url"], ArchiveState(data["state"]), data.get("captures", 0), data.get("digests", 0),
            Snapshot.from_json(data.get("closest")), Snapshot.from_json(data.get("first")),
            Snapshot.from_json(data.get("last")), data.get("reason", ""), data.get("queried_url", ""),
            Via(data.get("via", "cdx")), data.get("archive", ""),
        )


@dataclasses.dataclass(frozen=True)
class Evidence:
    """The raw bytes of a capture, read through the archive (`id_`), redirects followed."""

    snapshot: Snapshot
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool


class SaveState(str, enum.Enum):
    SAVED = "saved"
    PENDING = "pending"
    FAILED = "failed"
    NEEDS_KEYS = "needs_keys"
    NOT_SAVED = "not_saved"  # not sent: the URL is not alive


@dataclasses.dataclass(frozen=True)
class SaveResult:
    url: str
    state: SaveState
    timestamp: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "state": self.state.value, "timestamp": self.timestamp, "reason": self.reason}


@dataclasses.dataclass(frozen=True)
class Unread:
    """A capture the archive listed that could not be read as a copy, and why."""

    raw_url: str
    reason: str
    refused: bool  # the guard refused its address: not a copy to link to


class ArchiveUnavailable(Exception):
    """The archive could not answer: down, failing, rate limiting us, or the breaker is open.
    `refused`: the address asked for was refused by the private-address guard (a TimeMap
    may list mementos anywhere), so it must not be shown as a copy to open either."""

    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.refused = refused


class CaptureIndex(Protocol):
    """Which captures an archive holds of a URL: one implementation a kind of archive
    (`index.CdxIndex` for the Internet Archive's and pywb's CDX, `timemap.TimeMapIndex` for
    any Memento archive)."""

    def captures(self, url: str, start: str | None = None, end: str | None = None) -> list[Capture]: ...

    def ping(self) -> str | None: ...


class Excluded(Exception):
    """The archive answered that it excludes this URL (at the Internet Archive, a 403 naming
    AdministrativeAccessControlException: "Blocked Site Error")."""
