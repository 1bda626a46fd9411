"""What the evidence store takes and hands back: a copy as read (`Exchange`) and where its
bytes are kept (`EvidenceRef`). Plain values; the store (`pipeline.evidence.store`) does the I/O."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from pipeline.errors import CannotRunError, UsageError
from pipeline.model import CopyKind


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One copy of a source as verification read it: an archived memento (its original
    URL, the memento's own date, the raw `id_` bytes and headers, the replay URL) or a
    live page (the final URL, when it was fetched)."""

    kind: CopyKind
    url: str  # WARC-Target-URI
    date: str  # ISO 8601 UTC: the memento's datetime, or when the live page was fetched
    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False
    replay_url: str | None = None  # an archived copy's page in the archive
    raw_url: str | None = None  # where its raw bytes were read
    archive: str = ""  # the archive's name

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclasses.dataclass(frozen=True)
class EvidenceRef:
    """Where the bytes of one copy are kept: the SHA-256 of the payload, the WARC file
    (relative to the evidence folder) and the id of the record that holds the payload
    (`offset`: where that record starts, a hint; the id decides), and the copy's own URL
    and date. A copy read again with the same bytes names the first record that holds
    them; `revisit` is the record id written for this reading then. `content_type` is the
    Content-Type the bytes were read as (it decides the charset and whether the payload is
    HTML, text or PDF): it is checked on reading back, as the hash is (None in references
    written before it was recorded)."""

    sha256: str
    warc: str
    record_id: str
    offset: int
    url: str
    date: str
    revisit: str | None = None
    content_type: str | None = None

    @property
    def short(self) -> str:
        return self.sha256[:12]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> EvidenceRef | None:
        if not data:
            return None
        content_type = data.get("content_type")
        revisit = data.get("revisit")
        return cls(str(data["sha256"]), str(data["warc"]), str(data["record_id"]), int(data.get("offset", 0)),
                   str(data.get("url", "")), str(data.get("date", "")), None if revisit is None else str(revisit),
                   None if content_type is None else str(content_type))


@dataclasses.dataclass(frozen=True)
class Payload:
    """A kept copy read back: the HTTP status and headers recorded, and the payload."""

    ref: EvidenceRef
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == "content-type"), "")


# A sink for copies as they are read: keeps the bytes, says where (None: not kept).
Keep = Callable[[Exchange], "EvidenceRef | None"]


class EvidenceError(CannotRunError):
    """The evidence folder cannot be opened, read or written."""


class NoEvidenceStore(UsageError):
    """There is no evidence folder where one was to be read."""


class EvidenceMissing(UsageError):
    """A record a verdict rests on is not in the evidence folder."""


class EvidenceAltered(UsageError):
    """A record's payload no longer has the SHA-256 the verdict recorded."""
