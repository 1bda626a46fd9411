"""The plain data every stage takes and returns: documents, citations, passages, URLs."""

from __future__ import annotations

import dataclasses
import enum


class DocumentFormat(str, enum.Enum):
    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"


@dataclasses.dataclass(frozen=True)
class UrlRef:
    """A cited URL: `url` exactly as written, `canonical` the lookup key, where it stands."""

    url: str
    canonical: str
    line: int
    column: int = 1


@dataclasses.dataclass(frozen=True)
class Passage:
    """A stretch of quoted or claimed text, to be found in the cited source."""

    text: str
    line: int


@dataclasses.dataclass(frozen=True)
class Citation:
    """A claim and its sources: the URLs of one block and the passages they support.
    `date` keeps the precision written: YYYY, YYYY-MM or YYYY-MM-DD."""

    id: str
    index: int
    line_start: int
    date: str | None
    urls: tuple[UrlRef, ...]
    passages: tuple[Passage, ...]


@dataclasses.dataclass(frozen=True)
class Document:
    path: str
    title: str | None
    date: str | None
    sha256: str
    format: DocumentFormat
    encoding: str


@dataclasses.dataclass(frozen=True)
class Extraction:
    """What `extract` found in one document."""

    document: Document
    citations: tuple[Citation, ...]

    @property
    def url_count(self) -> int:
        return sum(len(c.urls) for c in self.citations)

    def unique_urls(self) -> list[str]:
        """Canonical URLs in order of first appearance, each once."""
        return list(dict.fromkeys(ref.canonical for c in self.citations for ref in c.urls))
