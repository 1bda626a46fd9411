"""What a pipeline run knows of a document, as one typed value handed forward: each citation
with its sources (latest check, link state, archive lookup) and its verification. The store
persists it piece by piece and loads it back; the reports are rendered from it."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipeline.archive.model import Lookup
from pipeline.evidence.model import EvidenceRef
from pipeline.linkstate import LinkState, Streak
from pipeline.model import Citation, CopyKind, Document, LinkCheck, LinkStatus, UrlRef, Verdict

if TYPE_CHECKING:  # the type only: the matching algorithm is not loaded to read a result
    from pipeline.verify import NormalizedPage


# --- a passage against the copies of its source: what is stored and rendered ----------


@dataclasses.dataclass(frozen=True)
class Difference:
    """Words of the quote against the words of the source at the same place: `quote` empty
    when the source has words the quote dropped, `source` empty when the quote adds words."""

    quote: str
    source: str


@dataclasses.dataclass(frozen=True)
class SupportSentence:
    """A sentence of the copy, where it stands (its order in the page) and `score`: the share
    of the passage's content words it holds (0 to 1)."""

    text: str
    index: int
    score: float

    def to_json(self) -> dict[str, object]:
        return {"text": self.text, "index": self.index, "score": round(self.score, 3)}


@dataclasses.dataclass(frozen=True)
class Copy:
    """One copy of a cited source: an archived capture or the live page, read or not."""

    url: str  # the citation's URL as written
    canonical: str
    kind: CopyKind
    location: str | None  # the raw capture URL, or the live page's final URL
    timestamp: str | None  # the capture's, for an archived copy
    page: NormalizedPage | None
    reason: str = ""  # why there is no readable page
    evidence: EvidenceRef | None = None  # where the bytes read are kept

    def to_json(self) -> dict[str, Any]:
        """The copy as a verdict's record keeps it: everything but the page read, which
        its kept bytes give again."""
        return {"url": self.url, "canonical": self.canonical, "kind": self.kind.value, "location": self.location,
                "timestamp": self.timestamp, "reason": self.reason,
                "evidence": self.evidence.to_json() if self.evidence else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Copy:
        return cls(data["url"], data.get("canonical", data["url"]), CopyKind(data["kind"]), data.get("location"),
                   data.get("timestamp"), None, data.get("reason", ""), EvidenceRef.from_json(data.get("evidence")))


@dataclasses.dataclass(frozen=True)
class QuoteMatch:
    """A passage's verdict and its evidence: which source and copy, the share found and the
    alignment's similarity, the matched words in context, the segments not found and the
    words that differ."""

    text: str
    line: int
    verdict: Verdict
    score: float  # share of the passage found word for word in the copy given as evidence
    source: str | None  # the citation URL whose copy holds it
    copy: CopyKind | None
    location: str | None
    timestamp: str | None
    matched: str = ""
    context: str = ""
    missing: tuple[str, ...] = ()
    changed_since_cited: bool = False
    note: str = ""
    similarity: float | None = None  # the weakest alignment, when not every piece is verbatim
    differences: tuple[Difference, ...] = ()
    evidence: EvidenceRef | None = None  # the bytes of the copy given as evidence
    support: tuple[SupportSentence, ...] = ()  # the copy's sentences that bear on it, best first
    absent: tuple[str, ...] = ()  # its facts the copy never mentions

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["verdict"] = self.verdict.value
        data["copy"] = self.copy.value if self.copy else None
        data["missing"] = list(self.missing)
        data["differences"] = [dataclasses.asdict(d) for d in self.differences]
        data["support"] = [s.to_json() for s in self.support]
        data["absent"] = list(self.absent)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QuoteMatch:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["verdict"] = Verdict(data["verdict"])
        values["copy"] = CopyKind(data["copy"]) if data.get("copy") else None
        values["missing"] = tuple(data.get("missing", ()))
        values["differences"] = tuple(Difference(**d) for d in data.get("differences", ()))
        values["evidence"] = EvidenceRef.from_json(data.get("evidence"))
        values["support"] = tuple(SupportSentence(str(s["text"]), int(s["index"]), float(s["score"]))
                                  for s in data.get("support") or ())
        values["absent"] = tuple(str(a) for a in data.get("absent") or ())
        return cls(**values)



@dataclasses.dataclass(frozen=True)
class SourceResult:
    """One cited URL of a citation: its latest check, its state over time, and what the
    archive holds for the citation's date (None: never checked / never looked up)."""

    ref: UrlRef
    check: LinkCheck | None
    state: LinkState
    lookup: Lookup | None
    streak: Streak = Streak()  # failing since, last alive

    @property
    def status(self) -> str:
        return self.check.status.value if self.check else "unchecked"


@dataclasses.dataclass(frozen=True)
class Verification:
    """A citation's verdict, its passages' verdicts with their evidence, and when; `copies`:
    every copy the verdicts were made against (without their pages), so that they can be
    made again from the kept bytes alone."""

    verdict: Verdict
    passages: tuple[QuoteMatch, ...]
    verified_at: str | None = None
    copies: tuple[Copy, ...] = ()


@dataclasses.dataclass(frozen=True)
class CitationResult:
    citation: Citation
    date: str | None  # the date its sources are judged at: its own, else the document's
    sources: tuple[SourceResult, ...]
    verification: Verification | None  # None: not verified yet

    @property
    def verdict(self) -> Verdict:
        # never verified: no readable evidence yet
        return self.verification.verdict if self.verification else Verdict.UNVERIFIABLE

    @property
    def passages(self) -> tuple[QuoteMatch, ...]:
        return self.verification.passages if self.verification else ()


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """The run that last touched a document (for the report's record)."""

    id: int | None
    tool_version: str | None
    started_at: str | None
    finished_at: str | None
    settings: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class DocumentResults:
    document: Document
    citations: tuple[CitationResult, ...]
    run: RunInfo | None = None

    def sources_by_key(self) -> dict[str, SourceResult]:
        """Each cited URL once (by key), as first cited."""
        return first_by_key(s for c in self.citations for s in c.sources)


def first_by_key(sources: Iterable[SourceResult]) -> dict[str, SourceResult]:
    unique: dict[str, SourceResult] = {}
    for source in sources:
        unique.setdefault(source.ref.key, source)
    return unique


def tally(values: Iterable[str]) -> dict[str, int]:
    """Counts, sorted by name."""
    return dict(sorted(Counter(values).items()))


def count_by_status(checks: Sequence[LinkCheck]) -> dict[str, int]:
    """Counts per status class, in the enum's order, zeros left out."""
    counts = Counter(check.status for check in checks)
    return {status.value: counts[status] for status in LinkStatus if counts[status]}
