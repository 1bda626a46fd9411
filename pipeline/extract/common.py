"""What the format readers share: passages split at elisions, stable citation ids, and the
grouping of Markdown and HTML blocks (paragraph, list item, blockquote) into citations."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable

from pipeline.extract.dates import date_prefix, find_date
from pipeline.model import Citation, Passage, UrlRef
from pipeline.text import ELISION

# "...", "....", "....." and the ellipsis character mark elided text.
# Quoted text long enough to be a quote rather than a scare-quoted word.
QUOTED = re.compile(r"[“\"«]([^“”\"«»]{12,}?)[”\"»]")
_MIN_QUOTE_WORDS = 4
_WORD = re.compile(r"\w", re.UNICODE)
_WORD_RUN = re.compile(r"\w+", re.UNICODE)


def split_passages(text: str, line: int) -> list[Passage]:
    """The passages of one paragraph: split at elision markers, trimmed, empty ones gone."""
    return [Passage(part.strip(), line) for part in ELISION.split(text) if _WORD.search(part)]


def citation_id(urls: Iterable[UrlRef], date: str | None, passages: Iterable[Passage]) -> str:
    """Stable while the citation's URLs, date and text are unchanged, wherever it stands."""
    digest = hashlib.sha256()
    digest.update("\n".join(ref.canonical for ref in urls).encode())
    digest.update(b"\x00" + (date or "").encode() + b"\x00")
    digest.update("\n".join(p.text for p in passages).encode())
    return digest.hexdigest()[:12]


def number(drafts: Iterable[tuple[int, str | None, list[UrlRef], list[Passage]]]) -> tuple[Citation, ...]:
    """Citations from (line_start, date, urls, passages) drafts in document order: indexes
    from 1, ids from content, a suffix -2, -3 for identical citations."""
    seen: dict[str, int] = {}
    citations = []
    for index, (line_start, date, urls, passages) in enumerate(drafts, 1):
        base = citation_id(urls, date, passages)
        seen[base] = seen.get(base, 0) + 1
        cid = base if seen[base] == 1 else f"{base}-{seen[base]}"
        citations.append(Citation(cid, index, line_start, date, tuple(urls), tuple(passages)))
    return tuple(citations)


@dataclasses.dataclass
class Block:
    """A paragraph, list item or blockquote of a Markdown or HTML document."""

    kind: str  # "paragraph", "item", "blockquote", "heading"
    line: int
    paragraphs: list[tuple[str, int]]
    links: list[UrlRef]
    quotes: list[tuple[str, int]] = dataclasses.field(default_factory=list)  # <q> and the like


def quoted_passages(paragraphs: list[tuple[str, int]]) -> list[Passage]:
    """Passages from text in quotation marks, when it is long enough to be a quote."""
    found = []
    for text, line in paragraphs:
        for match in QUOTED.finditer(text):
            if len(match.group(1).split()) >= _MIN_QUOTE_WORDS:
                found.extend(split_passages(match.group(1), line))
    return found


def citations_from_blocks(blocks: list[Block]) -> list[tuple[int, str | None, list[UrlRef], list[Passage]]]:
    """A citation per block holding links. Its passages are the blockquote's text, else its
    quotes, else its text; a blockquote just before a block of links only is its quote."""
    drafts = []
    pending_quote: Block | None = None
    for block in blocks:
        if not block.links:
            pending_quote = block if block.kind == "blockquote" else None
            continue
        text = " ".join(t for t, _ in block.paragraphs)
        date = None
        paragraphs = list(block.paragraphs)
        if paragraphs and (prefix := date_prefix(paragraphs[0][0])):
            date, rest = prefix
            paragraphs[0] = (rest, paragraphs[0][1])
        else:
            date = find_date(text)
        if block.kind == "blockquote":
            passages = [p for t, line in paragraphs for p in split_passages(t, line)]
        else:
            passages = [p for t, line in block.quotes for p in split_passages(t, line)]
            passages = passages or quoted_passages(paragraphs)
            if not passages and pending_quote is not None and _only_links(paragraphs, block.links):
                passages = [p for t, line in pending_quote.paragraphs for p in split_passages(t, line)]
            passages = passages or [p for t, line in paragraphs for p in split_passages(t, line)]
        drafts.append((block.line, date, block.links, [p for p in passages if not _attribution(p, block.links)]))
        pending_quote = None
    return drafts


def _attribution(passage: Passage, links: list[UrlRef]) -> bool:
    """A passage that is only a source line ("Source: https://…") is not a claim."""
    text = passage.text
    for ref in links:
        text = text.replace(ref.url, " ")
    return text != passage.text and len(_WORD_RUN.findall(text)) < 3


def _only_links(paragraphs: list[tuple[str, int]], links: list[UrlRef]) -> bool:
    """True when a block says little beyond its links ("— Source", "[1] https://…")."""
    text = " ".join(t for t, _ in paragraphs)
    for ref in links:
        text = text.replace(ref.url, " ")
    return len(text.split()) <= 6
