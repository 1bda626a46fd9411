"""Where each quoted passage is found in a page's text, and the verdicts that follow.

Pages are read by `pipeline.text`; both sides are normalised the same way (Unicode NFKC, quotes, dashes, ellipses, Arabic and
Persian letter forms, invisible joiners, whitespace, case). A passage is cut into segments at
elisions, bracketed editorial insertions and sentence ends; each segment is looked up exactly,
else aligned fuzzily (rapidfuzz) in windows around its rarest words, so long pages stay fast.
The passage's verdict comes from the share of its text found. Nothing here does I/O.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rapidfuzz import fuzz

from pipeline.model import Verdict
from pipeline.text import ELISION, PageText, normalize

# --- the page as compared ------------------------------------------------------------


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
    for part in ELISION.split(passage):
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
    """A citation's verdict from its passages' (docs/architecture.md, "Closed sets")."""
    if not verdicts or all(v is Verdict.UNVERIFIABLE for v in verdicts):
        return Verdict.UNVERIFIABLE
    if all(v is Verdict.VERIFIED for v in verdicts):
        return Verdict.VERIFIED
    if all(v.is_verified for v in verdicts):
        return Verdict.VERIFIED_LIVE
    if any(v.found_any for v in verdicts):
        return Verdict.PARTIAL
    return Verdict.NOT_FOUND


# --- a citation against its copies ----------------------------------------------------


class CopyKind(str, enum.Enum):
    ARCHIVE = "archive"
    LIVE = "live"


@dataclasses.dataclass(frozen=True)
class Copy:
    """One copy of a cited source: the archived capture or the live page, read or not."""

    url: str  # the citation's URL as written
    canonical: str
    kind: CopyKind
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
    copy: CopyKind | None
    location: str | None
    timestamp: str | None
    matched: str = ""
    context: str = ""
    missing: tuple[str, ...] = ()
    changed_since_cited: bool = False
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["verdict"] = self.verdict.value
        data["copy"] = self.copy.value if self.copy else None
        data["missing"] = list(self.missing)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QuoteMatch:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["verdict"] = Verdict(data["verdict"])
        values["copy"] = CopyKind(data["copy"]) if data.get("copy") else None
        values["missing"] = tuple(data.get("missing", ()))
        return cls(**values)


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
    archived = [pair for pair in scored if pair[0].kind is CopyKind.ARCHIVE]
    live = [pair for pair in scored if pair[0].kind is CopyKind.LIVE]
    best_archived = max(archived, key=lambda pair: pair[1].share, default=None)
    best_live = max(live, key=lambda pair: pair[1].share, default=None)
    verdict = passage_verdict(best_archived[1].share if best_archived else None,
                              best_live[1].share if best_live else None, thresholds)
    if verdict is Verdict.UNVERIFIABLE:
        reasons = "; ".join(sorted({f"{c.kind.value} copy of {c.url}: {c.reason}" for c in copies if c.reason})) or "no source URL"
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
