"""Citations of a plain-text research post: blocks of URL lines, each followed by its excerpt.

A citation starts at a URL line once the previous citation has any excerpt, or at a line
led by a date and a colon ("3 June 2007: …") once the previous citation has a date or text;
the latter is a dated excerpt with no URL of its own. Blank lines inside an excerpt do not
end it. The lines before the first citation are the header: its first lone date is the
document's date, its first other line the title. Blog boilerplate ("No comments:") is
dropped. Lines are read one at a time, so time is linear and memory holds only the
citations found.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import statistics
from collections.abc import Iterator

from pipeline.extract.common import split_passages
from pipeline.extract.dates import date_prefix, whole_date
from pipeline.extract.urls import canonicalize, find_urls
from pipeline.model import Passage, UrlRef

BOILERPLATE = re.compile(
    r"^(no comments?:?|\d+ comments?:?|post a comment|newer post|older post|home|"
    r"subscribe to:.*|posted by .*|labels:.*|share this:?|email this|blogthis!|"
    r"share to (twitter|facebook|pinterest)|read more\.?|related posts:?)$",
    re.IGNORECASE,
)


@dataclasses.dataclass
class _Draft:
    line_start: int
    date: str | None = None
    urls: list[UrlRef] = dataclasses.field(default_factory=list)
    passages: list[Passage] = dataclasses.field(default_factory=list)

    @property
    def has_excerpt(self) -> bool:
        return self.date is not None or bool(self.passages)

    def as_tuple(self) -> tuple[int, str | None, list[UrlRef], list[Passage]]:
        return self.line_start, self.date, self.urls, self.passages


@dataclasses.dataclass
class TextResult:
    title: str | None
    date: str | None
    drafts: list[tuple[int, str | None, list[UrlRef], list[Passage]]]


def extract_text(text: str) -> TextResult:
    title: str | None = None
    doc_date: str | None = None
    drafts: list[_Draft] = []
    current: _Draft | None = None
    paragraph: list[tuple[str, int]] = []  # lines of a hard-wrapped paragraph
    stream = _lines(text)
    head = list(itertools.islice(stream, 5000))
    wrapped = _hard_wrapped(head)

    def flush() -> None:
        if paragraph and current is not None:
            text = " ".join(t.strip() for t, _ in paragraph)
            current.passages.extend(split_passages(text, paragraph[0][1]))
        paragraph.clear()

    for number, raw in enumerate(itertools.chain(head, stream), 1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if len(stripped) < 80 and BOILERPLATE.match(stripped):
            flush()
            continue
        found = list(find_urls(stripped, whole_line_fuzzy=True))
        column0 = len(line) - len(line.lstrip())
        if found and _only_urls(stripped, found):
            flush()
            if current is None or current.has_excerpt:
                current = _Draft(number)
                drafts.append(current)
            current.urls.extend(UrlRef(url, canonicalize(url), number, column0 + col + 1) for col, url in found)
            continue
        prefix = date_prefix(stripped)
        if prefix is not None:
            flush()
            if current is None or current.has_excerpt:
                current = _Draft(number)
                drafts.append(current)
            current.date, stripped = prefix[0], prefix[1].strip()
            if not stripped:
                continue
        elif current is None:
            if found:  # prose with a link before any URL block: a citation of its own
                current = _Draft(number)
                drafts.append(current)
            else:
                if doc_date is None and (value := whole_date(stripped)):
                    doc_date = value
                elif title is None:
                    title = stripped
                continue
        current.urls.extend(UrlRef(url, canonicalize(url), number, column0 + col + 1) for col, url in found)
        if wrapped:
            paragraph.append((stripped, number))
        else:
            current.passages.extend(split_passages(stripped, number))
    flush()
    return TextResult(title, doc_date, [d.as_tuple() for d in drafts])


def _lines(text: str) -> Iterator[str]:
    """The lines of `text`, ended by \n, \r\n or \r and nothing else (str.splitlines
    also splits at form feeds and U+2028, which editors do not count). No copy of the
    whole text is made when it has Unix line ends."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def _only_urls(line: str, found: list[tuple[int, str]]) -> bool:
    rest = line
    for _, url in found:
        rest = rest.replace(url, " ", 1)
    return not rest.strip(" \t<>,;")


def _hard_wrapped(lines: list[str]) -> bool:
    """True for text wrapped at a fixed width, where a paragraph runs over several lines and
    blank lines separate paragraphs; false for one paragraph a line (the sample)."""
    lengths = [len(line.rstrip()) for line in lines[:5000] if len(line.strip()) > 20]
    if len(lengths) < 5:
        return False
    return max(lengths) <= 100 and 55 <= statistics.median(lengths) <= 80
