"""Where each quoted passage is found in a page's text, word for word, and the verdicts that follow.

Pages are read by `pipeline.text`; both sides are normalised the same way (Unicode NFKC,
quotes, dashes, ellipses, Arabic and Persian letter forms, invisible joiners and soft hyphens,
white space, case). A passage is cut into segments at the author's marked elisions, at
bracketed editorial insertions and at sentence ends. Each segment is looked up exactly, else
aligned fuzzily (rapidfuzz) in windows around its rarest words, and the alignment is then
compared word for word: a segment counts as found only when every word is there. Words
that differ (a number, a negation, a name, anything added, dropped or replaced) make the
passage `misquoted`, with the differences as evidence; a line-end hyphenation is not a
difference. Nothing here does I/O.
"""

from __future__ import annotations

import array
import bisect
import dataclasses
import difflib
import itertools
import re
from collections.abc import Sequence
from typing import Any

from rapidfuzz import fuzz

from pipeline.model import CopyKind, Verdict
from pipeline.results import Copy, Difference, QuoteMatch, SupportSentence
from pipeline.support import (
    CopyFacts,
    SentenceIndex,
    absent,
    other_language,
    split_sentences,
)
from pipeline.text import ELISION, PageText, normalize, normalize_lines

# --- the page as compared ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NormalizedPage:
    """A page's paragraphs normalised and joined by spaces (a quote may run across two),
    with where each paragraph starts, and the original paragraphs (joined by newlines) to
    show a match in the page's own words. Two strings and two arrays of offsets, not a
    string per paragraph: a run keeps every live page until its citations are verified.
    `unusable` says why the copy cannot be evidence that a passage is absent (a challenge
    page, an error page saved as a page, a teaser, a wall)."""

    text: str
    starts: array.array
    original_text: str
    original_starts: array.array
    unusable: str | None = None

    @classmethod
    def of(cls, page: PageText, unusable: str | None = None) -> NormalizedPage:
        parts = normalize_lines(page.paragraphs)
        starts = array.array("q", itertools.accumulate((len(p) + 1 for p in parts[:-1]), initial=0)) if parts \
            else array.array("q")
        original_starts = array.array("q", itertools.accumulate(
            (len(p) + 1 for p in page.paragraphs[:-1]), initial=0)) if parts else array.array("q")
        return cls(" ".join(parts), starts, "\n".join(page.paragraphs), original_starts, unusable)

    def _paragraphs(self, start: int, end: int) -> tuple[int, str]:
        """The first paragraph a normalised span lies in, and the original paragraphs it covers, joined."""
        index = max(0, bisect.bisect_right(self.starts, start) - 1)
        last = max(0, bisect.bisect_right(self.starts, max(start, end - 1)) - 1)
        finish = self.original_starts[last + 1] - 1 if last + 1 < len(self.original_starts) else len(self.original_text)
        return index, self.original_text[self.original_starts[index]:finish].replace("\n", " ") if self.starts else ""

    def original(self, start: int, end: int) -> tuple[str, str]:
        """(the paragraphs the normalised span lies in, joined; the span's own words there)."""
        index, original = self._paragraphs(start, end)
        mapped_start, mapped_end = _map_span(original, start - self.starts[index], end - self.starts[index])
        return original, original[mapped_start:mapped_end]

    def context(self, start: int, end: int, around: int = 80) -> tuple[str, str]:
        """(matched text, context) in the page's own words for a normalised span."""
        index, original = self._paragraphs(start, end)
        mapped_start, mapped_end = _map_span(original, start - self.starts[index], end - self.starts[index])
        lead = "…" if mapped_start > around else ""
        tail = "…" if mapped_end + around < len(original) else ""
        context = lead + original[max(0, mapped_start - around):mapped_end + around] + tail
        return original[mapped_start:mapped_end], context


_ASCII = {chr(c): normalize(chr(c)) for c in range(33, 127)}  # what normalize does to each printable ASCII letter


def _map_span(original: str, start: int, end: int) -> tuple[int, int]:
    """Where a span of normalize(original) lies in original (character by character, on
    one paragraph only, stopping once the span is passed)."""
    positions: list[int] = []
    pending_space = False
    for index, char in enumerate(original):
        if char.isspace():
            pending_space = bool(positions)
            continue
        piece = _ASCII.get(char)
        if piece is None:
            piece = normalize(char)
            if not piece or piece == " ":
                pending_space = pending_space or (piece == " " and bool(positions))
                continue
        if pending_space:
            positions.append(index)
            pending_space = False
        positions.extend([index] * len(piece))
        if len(positions) > end + 1:
            break
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
    score: float  # the alignment's similarity, 0 to 100 (100: verbatim)
    start: int = -1  # in the normalised page
    end: int = -1
    differences: tuple[Difference, ...] = ()

    def aligned(self, min_score: float) -> bool:
        return self.start >= 0 and self.score >= min_score

    def found(self, min_score: float) -> bool:
        """Every word of the segment is there."""
        return self.aligned(min_score) and not self.differences


def find_segment(segment: str, page: NormalizedPage, min_score: float) -> SegmentMatch:
    """The best place for one segment: an exact match, else a fuzzy alignment around its
    rarest (longest) words, compared word for word."""
    needle = normalize(segment)
    hay = page.text
    if not needle:
        return SegmentMatch(segment, 0.0)
    position = hay.find(needle)
    if position >= 0:
        return SegmentMatch(segment, 100.0, position, position + len(needle), _negation_before(page, position))
    if len(needle) < SHORT:
        return SegmentMatch(segment, 0.0)
    best: tuple[float, int, int] | None = None
    for lo, hi in _windows(needle, hay):
        cutoff = min(min_score, best[0]) if best else min_score
        alignment = fuzz.partial_ratio_alignment(needle, hay[lo:hi], score_cutoff=cutoff)
        if alignment is not None and (best is None or alignment.score > best[0]):
            best = (alignment.score, lo + alignment.dest_start, lo + alignment.dest_end)
            if best[0] >= 99.5:
                break
    if best is None:
        return SegmentMatch(segment, 0.0)
    score, start, end = best
    start, end, differences = _compare_words(segment, needle, page, start, end)
    return SegmentMatch(segment, score, start, end, differences + _negation_before(page, start))


# Words that, just before where a quote starts, turn the sentence the other way: a quote
# that begins after "not" (or "No one knows" quoted as "one knows") drops a negation.
NEGATIONS = frozenset({
    "not", "no", "never", "without", "nor", "neither", "none", "nobody", "nothing", "hardly",
    "nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals", "ohne", "weder",
    "ne", "pas", "jamais", "sans", "aucun", "aucune", "ni", "non", "nunca", "sin", "nem", "niet", "geen",
})
_CONTRACTED = frozenset({"don", "doesn", "didn", "isn", "wasn", "aren", "weren", "can", "couldn", "won", "wouldn",
                         "shouldn", "hasn", "haven", "hadn", "mustn", "needn", "ain"})


def _negation_before(page: NormalizedPage, start: int) -> tuple[Difference, ...]:
    """A negation in the source right before the quote's first word, as a difference."""
    head = page.text[max(0, start - 40):start]
    if not head or head[-1:].isalnum():  # the quote starts inside a word: no word before it
        return ()
    head = re.split(r"[.!?;:]\s", head)[-1]  # a negation in the sentence before is not this one's
    words = re.findall(r"\w+", head)
    if not words:
        return ()
    last = words[-1]
    if last in NEGATIONS or (last == "t" and len(words) > 1 and words[-2] in _CONTRACTED):
        shown = f"{words[-2]}'t" if last == "t" else last
        return (Difference("", shown),)
    return ()


def _compare_words(segment: str, needle: str, page: NormalizedPage, start: int,
                   end: int) -> tuple[int, int, tuple[Difference, ...]]:
    """The words of the segment against the words of the page around an alignment: the
    span the segment's words cover in the page, and where they differ."""
    hay = page.text
    margin = max(20, len(needle) // 4)
    region_start, region_end = max(0, start - margin), min(len(hay), end + margin)
    quote_words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(needle)]
    page_words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(hay, region_start, region_end)]
    ours = [w for w, _, _ in quote_words]
    theirs = [w for w, _, _ in page_words]
    matcher = difflib.SequenceMatcher(None, ours, theirs, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return start, end, (Difference(segment, page.original(start, end)[1]),)
    # the page's words that stand where the quote's first and last words should be
    first, last = blocks[0], blocks[-1]
    lo = max(0, first.b - first.a)
    hi = min(len(theirs), last.b + last.size + (len(ours) - last.a - last.size))
    window = theirs[lo:hi]
    differences = []
    for tag, a1, a2, b1, b2 in difflib.SequenceMatcher(None, ours, window, autojunk=False).get_opcodes():
        if tag == "equal" or "".join(ours[a1:a2]) == "".join(window[b1:b2]):  # a hyphenated or split word
            continue
        quote_side = _original_words(segment, needle, quote_words[a1:a2])
        source_side = page.original(page_words[lo + b1][1], page_words[lo + b2 - 1][2])[1] if b2 > b1 else ""
        differences.append(Difference(quote_side, source_side))
    span_start = page_words[lo][1] if window else start
    span_end = page_words[hi - 1][2] if window else end
    return span_start, span_end, tuple(differences)


def _original_words(segment: str, needle: str, words: list[tuple[str, int, int]]) -> str:
    if not words:
        return ""
    begin, finish = _map_span(segment, words[0][1], words[-1][2])
    return segment[begin:finish]


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


# Words whose leaving out turns what a source says: a negation, a number or its size, a limit.
_NOT_TO_LEAVE_OUT = NEGATIONS | {"million", "millions", "billion", "billions", "trillion", "thousand", "thousands",
                                 "hundred", "hundreds", "percent", "per", "cent", "only", "than", "except", "unless"}
MAX_GAP = 25  # page words left out at most between two words of a quote


def _may_leave_out(words: Sequence[str]) -> bool:
    return not any(w in _NOT_TO_LEAVE_OUT or any(c.isdigit() for c in w) for w in words)


@dataclasses.dataclass(frozen=True)
class Shortened:
    """A segment found word for word in order with words of the page left out between its
    words: where, what was left out, and whether leaving it out turns what the page says
    (a negation, a number or its size, a limit: a misquote, not an abridgement)."""

    start: int
    end: int
    left_out: tuple[Difference, ...]
    turns_meaning: bool


def find_abridged(segment: str, page: NormalizedPage) -> Shortened | None:
    """Every word of the segment, in order, within one stretch of the page, with words of
    the page left out between them (a parenthetical, a clause) and no word added. None when
    a word is missing or out of order. What a parenthetical leaves out may hold numbers (its
    own: `(21–24 centimeters)`); elsewhere a number, a negation or a word that limits
    (`only`, `than`) left out turns the meaning."""
    needle = normalize(segment)
    ours = _WORD.findall(needle)
    if len(ours) < 4:
        return None
    best: Shortened | None = None
    for lo, hi in _windows(needle, page.text):
        words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(page.text, lo, hi)]
        for first, (word, _, _) in enumerate(words):
            if word != ours[0]:
                continue
            found = _subsequence(ours, words, first)
            if found is None or (best is not None and words[found[-1]][2] - words[found[0]][1] >= best.end - best.start):
                continue
            left_out = []
            turns = crosses = False
            for previous, current in zip(found, found[1:]):
                if current - previous > 1:
                    skipped = [w for w, _, _ in words[previous + 1:current]]
                    between = page.text[words[previous][2]:words[current][1]].strip(" ,;")
                    crosses |= bool(re.search(r"[.!?]\s", between))  # one stretch is one sentence
                    aside = between[:1] in "([" and between[-1:] in ")]"  # a parenthetical: its numbers are its own
                    turns |= not (_may_leave_out(skipped) or aside and not NEGATIONS & set(skipped))
                    shown = page.original(words[previous + 1][1], words[current - 1][2])[1]
                    left_out.append(Difference("", f"({shown})" if aside and not shown.startswith(("(", "[")) else shown))
            if left_out and not crosses:
                best = Shortened(words[found[0]][1], words[found[-1]][2], tuple(left_out), turns)
    return best


def _subsequence(ours: Sequence[str], words: Sequence[tuple[str, int, int]], first: int) -> list[int] | None:
    """Where each of `ours` stands in `words` from `first` on, each within MAX_GAP of the
    one before (the nearest occurrence), or None."""
    found = [first]
    for word in ours[1:]:
        at = next((i for i in range(found[-1] + 1, min(len(words), found[-1] + 2 + MAX_GAP)) if words[i][0] == word),
                  None)
        if at is None:
            return None
        found.append(at)
    return found


@dataclasses.dataclass(frozen=True)
class Thresholds:
    segment: float = 90.0  # a segment aligning this well (0-100) is compared word for word
    partial: float = 0.3  # share of the passage found for "partial"

    @classmethod
    def of(cls, settings: Any) -> Thresholds:
        return cls(settings.verify_segment_score, settings.verify_partial_share)


@dataclasses.dataclass(frozen=True)
class PassageScore:
    """What one copy holds of a passage."""

    share: float  # of the passage's characters, in segments found word for word
    similarity: float  # the weakest alignment among the segments aligned (100: all verbatim)
    matched: str
    context: str
    missing: tuple[str, ...]  # segments not found at all
    found: tuple[str, ...]
    differences: tuple[Difference, ...]  # where aligned segments differ from the copy
    left_out: tuple[Difference, ...] = ()  # words of the copy an abridged segment leaves out

    @property
    def complete(self) -> bool:
        """Every segment found, word for word."""
        return not self.missing and not self.differences and not self.left_out and bool(self.found)

    @property
    def abridged(self) -> bool:
        """Every word of every segment found in order, some words of the copy left out."""
        return not self.missing and not self.differences and bool(self.left_out)

    @property
    def misquotes(self) -> bool:
        return bool(self.differences)


def score_passage(passage: str, page: NormalizedPage, thresholds: Thresholds = Thresholds()) -> PassageScore:
    pieces = segments(passage)
    if not pieces:
        return PassageScore(0.0, 0.0, "", "", (), (), ())
    total = sum(len(p) for p in pieces)
    found_length = 0
    aligned: list[SegmentMatch] = []
    missing: list[str] = []
    found: list[str] = []
    left_out: list[Difference] = []
    before = ""  # the last word of the piece before: a quote split after "not" keeps its "not"
    for piece in pieces:
        match = find_segment(piece, page, thresholds.segment)
        if match.differences and before:
            kept = tuple(d for d in match.differences if d.quote or _WORD.findall(normalize(d.source)) != [before])
            match = dataclasses.replace(match, differences=kept)
        before = (_WORD.findall(normalize(piece)) or [""])[-1]
        if match.aligned(thresholds.segment) and not match.differences:
            aligned.append(match)
            found_length += len(piece)
            found.append(piece)
        elif (shorter := find_abridged(piece, page)) is not None and not shorter.turns_meaning:
            aligned.append(SegmentMatch(piece, match.score if match.start >= 0 else 0.0, shorter.start, shorter.end))
            found_length += len(piece)
            left_out += shorter.left_out
        elif shorter is not None:  # what was left out turns the meaning: a misquote, with what it dropped
            aligned.append(SegmentMatch(piece, max(match.score, thresholds.segment), shorter.start, shorter.end,
                                        shorter.left_out))
        elif match.aligned(thresholds.segment):
            aligned.append(match)
        else:
            missing.append(piece)
    matched, context = "", ""
    if aligned:
        longest = max(aligned, key=lambda m: m.end - m.start)
        matched, context = page.context(longest.start, longest.end)
    return PassageScore(
        round(found_length / total, 3), min((m.score for m in aligned), default=0.0), matched, context,
        tuple(missing), tuple(found), tuple(d for m in aligned for d in m.differences), tuple(left_out),
    )


def citation_verdict(verdicts: Sequence[Verdict]) -> Verdict:
    """A citation's verdict from its passages' (docs/architecture.md, "Closed sets")."""
    if not verdicts or all(v is Verdict.UNVERIFIABLE for v in verdicts):
        return Verdict.UNVERIFIABLE
    if all(v is Verdict.VERIFIED for v in verdicts):
        return Verdict.VERIFIED
    if all(v.is_verified for v in verdicts):
        return Verdict.VERIFIED_LIVE
    if any(v is Verdict.MISQUOTED for v in verdicts):
        return Verdict.MISQUOTED
    if all(v.is_verified or v is Verdict.ABRIDGED for v in verdicts):
        return Verdict.ABRIDGED
    if all(v.is_verified or v in (Verdict.ABRIDGED, Verdict.PARAPHRASE) for v in verdicts):
        return Verdict.PARAPHRASE
    if any(v.found_any for v in verdicts):
        return Verdict.PARTIAL
    return Verdict.NOT_FOUND


# --- a citation against its copies ----------------------------------------------------


NOTES = {
    Verdict.VERIFIED: "every word found in the archived copy",
    Verdict.VERIFIED_LIVE: "every word found in the live page only: no archived copy holds it",
    Verdict.ABRIDGED: "every word found in order, but words of the source were left out without an ellipsis",
    Verdict.PARAPHRASE: "the source says it in other words: check the sentences beside it",
    Verdict.MISQUOTED: "the copy says something close but different: see the differences",
    Verdict.PARTIAL: "only part of it was found",
    Verdict.NOT_FOUND: "nothing in any readable copy comes close",
}
PARAPHRASE_SHARE = 0.55  # of a passage's content words the best sentences hold for "paraphrase"
PARTIAL_SHARE = 0.35  # ... for "partial"; below, "not found"


def verify_passage(text: str, line: int, copies: Sequence[Copy], thresholds: Thresholds = Thresholds()) -> QuoteMatch:
    """The passage against every readable copy of every source of its citation: any
    source may verify it, an archived copy is preferred as evidence, and a copy that
    cannot hold the article (a challenge, an error page, a wall) never counts as evidence
    that it is absent."""
    scored = [(copy, score_passage(text, copy.page, thresholds)) for copy in copies if copy.page is not None]
    # a copy that cannot hold the article only counts when it holds every word
    scored = [(copy, score) for copy, score in scored if not _page(copy).unusable or score.complete]
    archived = [pair for pair in scored if pair[0].kind is CopyKind.ARCHIVE]
    live = [pair for pair in scored if pair[0].kind is CopyKind.LIVE]
    complete_archived = [pair for pair in archived if pair[1].complete]
    complete_live = [pair for pair in live if pair[1].complete]
    said = ""
    sentences: tuple[SupportSentence, ...] = ()
    missing_facts: tuple[str, ...] = ()
    if complete_archived:
        verdict, evidence = Verdict.VERIFIED, complete_archived[0]
    elif complete_live:
        verdict, evidence = Verdict.VERIFIED_LIVE, complete_live[0]
    elif abridged := [pair for pair in archived + live if pair[1].abridged]:
        verdict, evidence = Verdict.ABRIDGED, abridged[0]
        said = "; left out: " + " / ".join(f"“{d.source}”" for d in evidence[1].left_out)
    elif misquoting := [pair for pair in archived + live if pair[1].misquotes]:
        verdict, evidence = Verdict.MISQUOTED, max(misquoting, key=lambda pair: (pair[1].share, pair[1].similarity))
    elif scored:
        verdict, evidence, sentences, missing_facts, said = _in_other_words(text, archived + live, thresholds)
        if verdict is Verdict.UNVERIFIABLE:
            return QuoteMatch(text, line, verdict, 0.0, None, None, None, None, note=said, support=sentences)
    else:
        reasons = sorted({f"{c.kind.value} copy of {c.url}: {c.reason or (c.page.unusable if c.page else '')}"
                          for c in copies if c.reason or (c.page is not None and c.page.unusable)})
        return QuoteMatch(text, line, Verdict.UNVERIFIABLE, 0.0, None, None, None, None,
                          note=f"no readable copy ({'; '.join(reasons) or 'no source URL'})")
    copy, score = evidence
    changed = verdict is Verdict.VERIFIED and bool(live) and not complete_live
    note = NOTES[verdict] + said + ("; the live page no longer holds it (changed since cited)" if changed else "")
    if not sentences and copy.page is not None:
        index = _sentences_of(copy.page)
        sentences = tuple(index.holding(text) if verdict.is_verified else index.rank(text))
    if verdict is Verdict.NOT_FOUND and (skipped := [c for c in copies if c.page is not None and c.page.unusable]):
        note += "; not counted: " + "; ".join(sorted({f"{c.kind.value} copy of {c.url}: {_page(c).unusable}"
                                                        for c in skipped}))
    return QuoteMatch(
        text, line, verdict, score.share, copy.url, copy.kind, copy.location, copy.timestamp,
        score.matched, score.context, score.missing, changed, note,
        None if score.similarity >= 100 or not (score.found or score.differences) else round(score.similarity, 1),
        score.differences + score.left_out, copy.evidence, sentences, missing_facts,
    )


def _page(copy: Copy) -> NormalizedPage:
    """The page of a copy that was read (only those are scored)."""
    assert copy.page is not None
    return copy.page


def _in_other_words(text: str, scored: Sequence[tuple[Copy, PassageScore]], thresholds: Thresholds
                    ) -> tuple[Verdict, tuple[Copy, PassageScore], tuple[SupportSentence, ...], tuple[str, ...], str]:
    """A passage found nowhere word for word, judged as a claim in the writer's own words
    against each copy (archived first): the copy's best sentences, the share of the passage's
    content words they hold, and its facts the copy never mentions. A passage part of which
    a copy holds word for word is a quote, never a paraphrase: the words it adds are not the
    source's (partial). (verdict, evidence, sentences, absent facts, what to add to the note)."""
    judged = []
    for copy, score in scored:
        index = _sentences_of(_page(copy))
        best = index.rank(text)
        share = index.coverage(text, best)
        lacking = tuple(dict.fromkeys(f.text for f in absent(text, _facts_of(_page(copy)))))
        in_other_words = not score.found and not lacking and share >= PARAPHRASE_SHARE
        judged.append((in_other_words, share - len(lacking), copy, score, best, share, lacking))
    judged.sort(key=lambda item: (not item[0], -item[1]))  # stable: an archived copy first among equals
    in_other_words, _, copy, score, best, share, lacking = judged[0]
    evidence = (copy, score)
    words = f"; its best sentences hold {share:.0%} of its words"
    if in_other_words:
        return Verdict.PARAPHRASE, evidence, tuple(best), (), words
    if score.share >= thresholds.partial and score.found:
        return Verdict.PARTIAL, evidence, tuple(best), lacking, ""
    if not score.share and (language := other_language(text, _page(copy).text)):
        return Verdict.UNVERIFIABLE, evidence, (), (), f"not compared: {language}"
    if lacking:
        return Verdict.NOT_FOUND, evidence, tuple(best), lacking, \
            "; the source never mentions " + ", ".join(f"\u201c{fact}\u201d" for fact in lacking)
    if share >= PARTIAL_SHARE:
        return Verdict.PARTIAL, evidence, tuple(best), (), words + ": only part of it is there"
    return Verdict.NOT_FOUND, evidence, tuple(best), (), words


@dataclasses.dataclass
class _Derived:
    """What is worked out of a page once for every passage that cites it."""

    page: NormalizedPage
    sentences: SentenceIndex
    facts: CopyFacts | None = None  # when a passage is first judged in other words


_DERIVED: dict[int, _Derived] = {}  # by id(page): the last few pages only
_KEPT_PAGES = 8  # citations of one source come together; more would hold pages past their use


def _derived(page: NormalizedPage) -> _Derived:
    known = _DERIVED.get(id(page))
    if known is None or known.page is not page:
        if len(_DERIVED) >= _KEPT_PAGES:
            _DERIVED.pop(next(iter(_DERIVED)))
        known = _DERIVED[id(page)] = _Derived(page, SentenceIndex(split_sentences(page.original_text.split("\n"))))
    return known


def _sentences_of(page: NormalizedPage) -> SentenceIndex:
    """A page's sentences, indexed once for all the passages that cite it."""
    return _derived(page).sentences


def _facts_of(page: NormalizedPage) -> CopyFacts:
    """What a page says, in the forms a passage's facts are compared in."""
    known = _derived(page)
    if known.facts is None:
        known.facts = CopyFacts(page.original_text)
    return known.facts
