"""The readable text of a page, and where each quoted passage is found in it.

Both sides are normalised the same way (Unicode NFKC, quotes, dashes, ellipses, Arabic and
Persian letter forms, invisible joiners, whitespace, case). A passage is cut into segments at
elisions, bracketed editorial insertions and sentence ends; each segment is looked up exactly,
else aligned fuzzily (rapidfuzz) in windows around its rarest words, so long pages stay fast.
The passage's verdict comes from the share of its text found. Nothing here does I/O.
"""

from __future__ import annotations

import bisect
import codecs
import dataclasses
import enum
import io
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import charset_normalizer
from bs4 import BeautifulSoup, Comment
from rapidfuzz import fuzz

# --- reading --------------------------------------------------------------------------

_DROP_TAGS = ["script", "style", "noscript", "template", "nav", "form", "button", "svg", "iframe",
              "object", "embed", "canvas", "select", "menu"]
_CHROME = ["header", "footer", "aside"]  # dropped unless inside the article itself
_BLOCKS = {"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol",
           "blockquote", "pre", "table", "tr", "td", "th", "dd", "dt", "dl", "figure", "figcaption",
           "header", "footer", "address", "hr", "caption", "details", "summary"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class PageText:
    """A page's readable text as paragraphs, and how it was read."""

    paragraphs: tuple[str, ...]
    encoding: str
    kind: str  # html, text, pdf


class Unreadable(Exception):
    """No text could be read from a copy: an image, a PDF without text, an unknown type."""


def decode_page(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Text and encoding: the header's charset, then `<meta>`, then detection; UTF-8 and
    windows-1256 Persian come out as the right letters."""
    candidates: list[str] = []
    if match := _HEADER_CHARSET.search(content_type):
        candidates.append(match.group(1))
    if match := _META_CHARSET.search(body[:8192]):
        candidates.append(match.group(1).decode("ascii"))
    if body.startswith(codecs.BOM_UTF8):
        candidates.insert(0, "utf-8-sig")
    for name in candidates:
        try:
            return body.decode(name), codecs.lookup(name).name
        except (LookupError, UnicodeDecodeError):
            continue  # a wrong label: look further
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body[:1_000_000]).best()
    if best is None:
        raise Unreadable("the page's encoding could not be told")
    return body.decode(best.encoding, errors="replace"), best.encoding


def read_page(body: bytes, content_type: str = "") -> PageText:
    """The readable text of a page: HTML without scripts, styles, navigation and
    comments, blocks kept apart and inline tags joined; plain text as is; PDF through pypdf."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/pdf" or body[:5] == b"%PDF-":
        return _read_pdf(body)
    if kind and not (kind.startswith("text/") or "html" in kind or "xml" in kind):
        raise Unreadable(f"not a text page ({kind})")
    text, encoding = decode_page(body, content_type)
    if kind == "text/plain":
        return PageText(_paragraphs(text.split("\n")), encoding, "text")
    return PageText(_paragraphs(_html_text(text).split("\n")), encoding, "html")


def _html_text(markup: str) -> str:
    soup = BeautifulSoup(markup, "lxml")
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    for tag in soup(_CHROME):
        if tag.find_parent(["article", "main"]) is None:
            tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for br in soup("br"):
        br.replace_with("\n")
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.append("\n")
    body = soup.body or soup
    return body.get_text("")


def _paragraphs(lines: Sequence[str]) -> tuple[str, ...]:
    return tuple(p for p in (_WS.sub(" ", line).strip() for line in lines) if p)


def _read_pdf(body: bytes) -> PageText:
    from pypdf import PdfReader  # imported here: only PDF sources need it
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(body))
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise Unreadable(f"PDF could not be read: {exc}") from exc
    paragraphs = _paragraphs(text.split("\n"))
    if not paragraphs:
        raise Unreadable("PDF without extractable text (a scan?)")
    return PageText(paragraphs, "pdf", "pdf")


# --- normalising ----------------------------------------------------------------------

_WS = re.compile(r"[^\S\n]+")
_SPACES = re.compile(r"\s+")
_TABLE = str.maketrans({
    **{ch: "'" for ch in "‘’‚‛′`´"},
    **{ch: '"' for ch in "“”„‟″«»‹›"},
    **{ch: "-" for ch in "‐‑‒–—―−"},
    "\u064a": "\u06cc", "\u0649": "\u06cc",  # Arabic yeh, alef maksura → Persian yeh
    "\u0643": "\u06a9",  # Arabic kaf → keheh
    "\u0629": "\u0647",  # teh marbuta → heh
    **{chr(c): None for c in range(0x064B, 0x0660)},  # harakat
    "\u0640": None,  # tatweel
    "\u200c": None, "\u200d": None, "\u200b": None, "\u200e": None, "\u200f": None, "\ufeff": None, "\u00ad": None,
})


def normalize(text: str) -> str:
    """The form both passages and pages are compared in."""
    text = unicodedata.normalize("NFKC", text).translate(_TABLE).lower()
    return _SPACES.sub(" ", text).strip()


@dataclasses.dataclass(frozen=True)
class NormalizedPage:
    """A page's paragraphs normalised and joined by spaces (a quote may run across two),
    with where each paragraph starts, to show a match in its original words."""

    page: PageText
    text: str
    starts: tuple[int, ...]

    @classmethod
    def of(cls, page: PageText) -> NormalizedPage:
        starts, parts, offset = [], [], 0
        for paragraph in page.paragraphs:
            normalized = normalize(paragraph)
            starts.append(offset)
            parts.append(normalized)
            offset += len(normalized) + 1
        return cls(page, " ".join(parts), tuple(starts))

    def context(self, start: int, end: int, around: int = 80) -> tuple[str, str]:
        """(matched text, context) in the page's own words for a normalised span."""
        index = max(0, bisect.bisect_right(self.starts, start) - 1)
        last = max(0, bisect.bisect_right(self.starts, max(start, end - 1)) - 1)
        original = " ".join(self.page.paragraphs[index:last + 1])
        local_start, local_end = start - self.starts[index], end - self.starts[index]
        mapped_start, mapped_end = _map_span(original, local_start, local_end)
        matched = original[mapped_start:mapped_end]
        lead = "…" if mapped_start > around else ""
        tail = "…" if mapped_end + around < len(original) else ""
        context = lead + original[max(0, mapped_start - around):mapped_end + around] + tail
        return matched, context


def _map_span(original: str, start: int, end: int) -> tuple[int, int]:
    """Where a span of normalize(original) lies in original (character by character, on
    one paragraph only)."""
    positions: list[int] = []
    pending_space = False
    for index, char in enumerate(original):
        piece = normalize(char) if not char.isspace() else " "
        if piece == " ":
            pending_space = bool(positions)
            continue
        if pending_space:
            positions.append(index)
            pending_space = False
        positions.extend([index] * len(piece))
    if not positions:
        return 0, 0
    start = min(start, len(positions) - 1)
    end = min(max(end, start + 1), len(positions))
    return positions[start], positions[end - 1] + 1


# --- segments and matching ------------------------------------------------------------

_ELISION = re.compile(r"\s*(?:\.{3,}|…)\s*")
_BRACKETS = re.compile(r"\s*\[[^\]]{0,200}\]\s*")
_SENTENCE = re.compile(
    r"(?<=[.!?])\s+(?=[\"“‘'(]?[A-Z\u0600-\u06FF\d])|(?<=[.!?][\"”’'])\s+(?=[\"“‘'(]?[A-Z\u0600-\u06FF])"
)
_ABBREVIATION = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Gen|Lt|Sgt|Col|Capt|Gov|Sen|Rep|Prof|Jr|Sr|No|vs|etc|Jan|Feb|Mar|Apr|"
                           r"Aug|Sept?|Oct|Nov|Dec|[A-Z])\.$")
_WORD = re.compile(r"\w+", re.UNICODE)
SHORT = 25  # normalised characters under which only an exact match counts


def segments(passage: str) -> list[str]:
    """The pieces of a passage that must each be found: split at elisions, at bracketed
    editorial insertions ("[meaning Taliban fighters]", dropped), and at sentence ends."""
    pieces: list[str] = []
    for part in _ELISION.split(passage):
        for piece in _BRACKETS.split(part):
            sentences: list[str] = []
            for sentence in _SENTENCE.split(piece):
                if sentences and _ABBREVIATION.search(sentences[-1]):  # "Mr. Abdullah", "U.S. Army"
                    sentences[-1] += " " + sentence
                else:
                    sentences.append(sentence)
            for sentence in sentences:
                cleaned = sentence.strip().strip("\"'“”‘’ ")
                if _WORD.search(cleaned):
                    pieces.append(cleaned)
    return pieces


@dataclasses.dataclass(frozen=True)
class SegmentMatch:
    text: str
    score: float  # 0 to 100
    start: int = -1  # in the normalised page
    end: int = -1


def find_segment(segment: str, page: NormalizedPage, min_score: float) -> SegmentMatch:
    """The best place for one segment: an exact match, else a fuzzy alignment around its
    rarest (longest) words."""
    needle = normalize(segment)
    hay = page.text
    if not needle:
        return SegmentMatch(segment, 0.0)
    position = hay.find(needle)
    if position >= 0:
        return SegmentMatch(segment, 100.0, position, position + len(needle))
    if len(needle) < SHORT:
        return SegmentMatch(segment, 0.0)
    best = SegmentMatch(segment, 0.0)
    for lo, hi in _windows(needle, hay):
        alignment = fuzz.partial_ratio_alignment(needle, hay[lo:hi], score_cutoff=min(min_score, best.score or min_score))
        if alignment is not None and alignment.score > best.score:
            best = SegmentMatch(segment, alignment.score, lo + alignment.dest_start, lo + alignment.dest_end)
            if best.score >= 99.5:
                break
    return best


def _windows(needle: str, hay: str, anchors: int = 4, per_anchor: int = 40) -> list[tuple[int, int]]:
    """Stretches of the page worth aligning against: around each occurrence of the
    needle's longest words, or the whole page when it is short."""
    span = len(needle)
    if len(hay) <= max(4 * span, 20_000):
        return [(0, len(hay))]
    words = sorted(set(_WORD.findall(needle)), key=len, reverse=True)[:anchors]
    found: list[tuple[int, int]] = []
    for word in words:
        if len(word) < 4:
            continue
        offset_in_needle = needle.find(word)
        start = hay.find(word)
        count = 0
        while start >= 0 and count < per_anchor:
            lo = max(0, start - offset_in_needle - span // 2)
            found.append((lo, min(len(hay), lo + 2 * span)))
            start = hay.find(word, start + 1)
            count += 1
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(found):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


class Verdict(str, enum.Enum):
    """A passage's or citation's verdict (DESIGN.md, "Quote verdicts")."""

    VERIFIED = "verified"
    VERIFIED_LIVE = "verified_live"
    PARTIAL = "partial"
    NOT_FOUND = "not_found"
    UNVERIFIABLE = "unverifiable"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    segment: float = 90.0  # a segment scoring this (0-100) is found
    verified: float = 0.9  # share of the passage's text found for "verified"
    partial: float = 0.3  # share for "partial"

    @classmethod
    def of(cls, settings: Any) -> Thresholds:
        return cls(settings.verify_segment_score, settings.verify_verified_share, settings.verify_partial_share)


@dataclasses.dataclass(frozen=True)
class PassageScore:
    """How much of a passage one copy holds."""

    share: float  # of the passage's characters, in found segments
    matched: str
    context: str
    missing: tuple[str, ...]
    found: tuple[str, ...]


def score_passage(passage: str, page: NormalizedPage, thresholds: Thresholds = Thresholds()) -> PassageScore:
    pieces = segments(passage)
    if not pieces:
        return PassageScore(0.0, "", "", (), ())
    total = sum(len(p) for p in pieces)
    found_length = 0
    matches: list[SegmentMatch] = []
    missing: list[str] = []
    for piece in pieces:
        match = find_segment(piece, page, thresholds.segment)
        if match.score >= thresholds.segment:
            found_length += len(piece)
            matches.append(match)
        else:
            missing.append(piece)
    matched, context = "", ""
    if matches:
        longest = max(matches, key=lambda m: m.end - m.start)
        matched, context = page.context(longest.start, longest.end)
    return PassageScore(round(found_length / total, 3), matched, context, tuple(missing), tuple(m.text for m in matches))


def passage_verdict(archived: float | None, live: float | None, thresholds: Thresholds = Thresholds()) -> Verdict:
    """From the best share found in an archived copy and in the live page (None: no
    readable copy of that kind)."""
    if archived is None and live is None:
        return Verdict.UNVERIFIABLE
    if archived is not None and archived >= thresholds.verified:
        return Verdict.VERIFIED
    if live is not None and live >= thresholds.verified:
        return Verdict.VERIFIED_LIVE
    if max(archived or 0.0, live or 0.0) >= thresholds.partial:
        return Verdict.PARTIAL
    return Verdict.NOT_FOUND


def citation_verdict(verdicts: Sequence[Verdict]) -> Verdict:
    """A citation's verdict from its passages' (DESIGN.md, report.json)."""
    if not verdicts or all(v is Verdict.UNVERIFIABLE for v in verdicts):
        return Verdict.UNVERIFIABLE
    if all(v is Verdict.VERIFIED for v in verdicts):
        return Verdict.VERIFIED
    if all(v in (Verdict.VERIFIED, Verdict.VERIFIED_LIVE) for v in verdicts):
        return Verdict.VERIFIED_LIVE
    if any(v in (Verdict.VERIFIED, Verdict.VERIFIED_LIVE, Verdict.PARTIAL) for v in verdicts):
        return Verdict.PARTIAL
    return Verdict.NOT_FOUND


# --- a citation against its copies ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Copy:
    """One copy of a cited source: the archived capture or the live page, read or not."""

    url: str  # the citation's URL as written
    canonical: str
    kind: str  # "archive" or "live"
    location: str | None  # the raw capture URL, or the live page's final URL
    timestamp: str | None  # the capture's, for an archived copy
    page: NormalizedPage | None
    reason: str = ""  # why there is no readable page


@dataclasses.dataclass(frozen=True)
class QuoteMatch:
    """A passage's verdict and its evidence: which source and copy, the score, the
    matched words in context, and the segments not found."""

    text: str
    line: int
    verdict: Verdict
    score: float  # share of the passage found in the copy given as evidence
    source: str | None  # the citation URL whose copy holds it
    copy: str | None  # "archive" or "live"
    location: str | None
    timestamp: str | None
    matched: str = ""
    context: str = ""
    missing: tuple[str, ...] = ()
    changed_since_cited: bool = False
    note: str = ""

    def to_json(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data["verdict"] = self.verdict.value
        data["missing"] = list(self.missing)
        return data


NOTES = {
    Verdict.VERIFIED: "found in the archived copy",
    Verdict.VERIFIED_LIVE: "found in the live page only: no archived copy holds it",
    Verdict.PARTIAL: "only part of it was found",
    Verdict.NOT_FOUND: "not found verbatim in any readable copy (a paraphrase, a translation or the author's own words?)",
}


def verify_passage(text: str, line: int, copies: Sequence[Copy], thresholds: Thresholds = Thresholds()) -> QuoteMatch:
    """The passage against every readable copy of every source of its citation: any
    source may verify it; an archived copy is preferred as evidence."""
    scored = [(copy, score_passage(text, copy.page, thresholds)) for copy in copies if copy.page is not None]
    archived = [pair for pair in scored if pair[0].kind == "archive"]
    live = [pair for pair in scored if pair[0].kind == "live"]
    best_archived = max(archived, key=lambda pair: pair[1].share, default=None)
    best_live = max(live, key=lambda pair: pair[1].share, default=None)
    verdict = passage_verdict(best_archived[1].share if best_archived else None,
                              best_live[1].share if best_live else None, thresholds)
    if verdict is Verdict.UNVERIFIABLE:
        reasons = "; ".join(sorted({f"{c.kind} copy of {c.url}: {c.reason}" for c in copies if c.reason})) or "no source URL"
        return QuoteMatch(text, line, verdict, 0.0, None, None, None, None, note=f"no readable copy ({reasons})")
    if verdict is Verdict.VERIFIED:
        evidence = best_archived
    elif verdict is Verdict.VERIFIED_LIVE:
        evidence = best_live
    else:
        evidence = max((p for p in (best_archived, best_live) if p), key=lambda pair: pair[1].share)
    copy, score = evidence
    changed = (verdict is Verdict.VERIFIED and best_live is not None and best_live[1].share < thresholds.verified)
    note = NOTES[verdict] + ("; the live page no longer holds it (changed since cited)" if changed else "")
    return QuoteMatch(
        text, line, verdict, score.share, copy.url, copy.kind, copy.location, copy.timestamp,
        score.matched, score.context, score.missing, changed, note,
    )
