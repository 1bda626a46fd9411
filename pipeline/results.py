"""What a pipeline run knows of a document, as one typed value handed forward: each citation
with its sources (latest check, link state, archive lookup) and its verification. The store
persists it piece by piece and loads it back; the reports are rendered from it."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.archive.model import Lookup
from pipeline.linkstate import LinkState
from pipeline.model import Citation, Document, LinkCheck, UrlRef, Verdict
from pipeline.verify import Copy, QuoteMatch


@dataclasses.dataclass(frozen=True)
class SourceResult:
    """One cited URL of a citation: its latest check, its state over time, and what the
    archive holds for the citation's date (None: never checked / never looked up)."""

    ref: UrlRef
    check: LinkCheck | None
    state: LinkState
    lookup: Lookup | None

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
