"""Where a copy bears on a claim in the writer's own words: the copy's sentences that best
match a passage, best first, and the passage's checkable facts (numbers, years, names and
other capitalised terms, quoted words) that appear nowhere in the copy.

A verbatim search (`pipeline.verify`) answers "is every word there"; most of what people
write when they cite is a summary or a paraphrase, for which the reader needs the source's
sentences side by side with the claim, and a plain statement of what the source never says.

Ranking: Okapi BM25 (bm25s) over stemmed content words (Snowball, through PyStemmer), then
weighted by the share of the passage's content words a sentence holds and by the word pairs
it shares with it. On the WiCE development split (real Wikipedia claims and the pages they
cite) this puts a supporting sentence in the first three for 98 % of supported and partially
supported claims, against 94 % for plain BM25 on lowercased words (`tests/test_support.py`).
Sentences come from sentencex (Wikimedia's segmenter, ~300 languages).

Facts are compared as writers vary them: digits without their separators and number words
as digits (text2num), month abbreviations as months, `U.S.` as `United States`, letters
without their diacritics, a possessive `'s` dropped, and a name found when its stem is a stem of the copy or
a word of its family is in the copy (`Libyan` / `Libya`, `Nazism` / `neo-Nazi`, `England` /
`English`: `NAME_ENDINGS`). Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer
from sentencex import segment
from text_to_num import alpha2digit

from pipeline.results import SupportSentence

WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)
# Words too common to say what a sentence is about (English; other languages rank on all words).
STOP_WORDS = frozenset(
    "a an the of and or in on at to for by with from as is was were are be been being it its this that these "
    "those he she they his her their which who whom whose also has have had not but into than then there after "
    "before over under about up down out more most such can will would".split())
_MONTHS = {"jan": "january", "feb": "february", "mar": "march", "apr": "april", "jun": "june", "jul": "july",
           "aug": "august", "sep": "september", "sept": "september", "oct": "october", "nov": "november",
           "dec": "december"}
_MONTH_NAMES = frozenset(_MONTHS.values()) | {"may"}
_ALIASES = {"u.s.": "united states", "u.s": "united states", "usa": "united states", "u.s.a.": "united states",
            "us": "united states",
            "u.k.": "united kingdom", "uk": "united kingdom", "eu": "european union", "u.n.": "united nations",
            "un": "united nations"}
_NUMBER = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:st|nd|rd|th)?(?!\w)")
_RANGE_END = re.compile(r"\d{4}[–-]$")  # the `19` of `2018–19` is the year, written short
_CAPITALISED = re.compile(r"\b[A-Z][\w’'\-]*(?:\.[A-Z]\.?)*")
_QUOTED = re.compile(r"[\"“«]([^\"”»]{2,80})[\"”»]")
TOP = 3  # sentences shown beside a claim


@functools.cache
def _stemmer(language: str) -> Stemmer.Stemmer:
    try:
        return Stemmer.Stemmer(language)
    except KeyError:
        return Stemmer.Stemmer("english")


def content_words(text: str, language: str = "english") -> list[str]:
    """The stemmed content words of a text, in order (stop words out for English)."""
    words = [fold(w).replace("’", "'").removesuffix("'s") for w in WORD.findall(text)]
    if language == "english":
        words = [w for w in words if w not in STOP_WORDS]
    return _stemmer(language).stemWords(words)


def fold(text: str) -> str:
    """Case and diacritics folded, as a reader compares names (`Zürich` / `Zurich`)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def split_sentences(paragraphs: Sequence[str], language: str = "en") -> list[str]:
    """The sentences of a page's paragraphs, each paragraph split on its own."""
    found = []
    for paragraph in paragraphs:
        found += [s.strip() for s in segment(language, paragraph) if s.strip()]
    return found


class SentenceIndex:
    """A copy's sentences, indexed once for every passage of the citations that cite it."""

    def __init__(self, sentences: Sequence[str], language: str = "english") -> None:
        self.sentences = list(sentences)
        self.language = language
        self._sets = [frozenset(content_words(s, language)) for s in self.sentences]  # sets: a page's words once each
        self._bm25: bm25s.BM25 | None = None  # built when first asked to rank
        self._words: list[list[str]] = []

    def holding(self, passage: str) -> list[SupportSentence]:
        """The sentence that holds the most of the passage's words (the first of equals):
        what a verbatim quote shows as its source's sentence, without ranking."""
        wanted = set(content_words(passage, self.language))
        if not wanted or not self.sentences:
            return []
        share, index = max(((len(wanted & words) / len(wanted), -i) for i, words in enumerate(self._sets)))
        return [SupportSentence(self.sentences[-index], -index, share)] if share else []

    def rank(self, passage: str, k: int = TOP) -> list[SupportSentence]:
        """The `k` sentences that best match the passage, best first (none shares a word:
        an empty list)."""
        query = content_words(passage, self.language)
        if not self.sentences or not query:
            return []
        if self._bm25 is None:  # in order, repeats counted: what BM25 and word pairs need
            self._words = [content_words(s, self.language) for s in self.sentences]
            self._bm25 = bm25s.BM25(k1=1.2, b=0.5)
            self._bm25.index([w or ["\x00"] for w in self._words], show_progress=False)
        words = self._words
        known = [w for w in query if w in self._bm25.vocab_dict]
        scores = self._bm25.get_scores(known) if known else np.zeros(len(self.sentences))
        wanted = set(query)
        pairs = set(zip(query, query[1:]))
        ranked = []
        for index, sentence in enumerate(words):
            held = len(wanted & self._sets[index]) / len(wanted)
            if not held:
                continue
            shared_pairs = len(pairs & set(zip(sentence, sentence[1:])))
            ranked.append((float(scores[index]) * (0.5 + held) + 0.5 * shared_pairs, index, held))
        ranked.sort(key=lambda item: (-item[0], item[1]))
        return [SupportSentence(self.sentences[index], index, held) for _, index, held in ranked[:k]]

    def coverage(self, passage: str, sentences: Sequence[SupportSentence]) -> float:
        """The share of the passage's content words that the given sentences hold together."""
        query = set(content_words(passage, self.language))
        if not query:
            return 0.0
        held = set().union(*(self._sets[s.index] for s in sentences)) if sentences else set()
        return len(query & held) / len(query)


@dataclasses.dataclass(frozen=True)
class Fact:
    """A checkable fact of a passage: `text` as written, `kind` (number, name, quoted)."""

    text: str
    kind: str


def facts(passage: str) -> list[Fact]:
    """The passage's numbers (years among them), its capitalised terms that are not merely
    the first word of a sentence or a month, and its quoted words."""
    found: list[Fact] = [Fact(m.group(), "number") for m in _NUMBER.finditer(passage)
                         if not _RANGE_END.search(passage[:m.start()])]
    for match in _CAPITALISED.finditer(passage):
        word = match.group()
        before = passage[:match.start()].rstrip()
        starts_sentence = not before or before[-1] in ".!?:\"“(" or before.endswith("—")
        key = fold(word).rstrip(".").removesuffix("'s").removesuffix("’s")
        if starts_sentence or key in STOP_WORDS or key in _MONTH_NAMES or key.rstrip(".") in _MONTHS:
            continue
        found.append(Fact(word, "name"))
    found += [Fact(m.group(1), "quoted") for m in _QUOTED.finditer(passage)]
    return list({(f.kind, f.text): f for f in found}.values())


class CopyFacts:
    """What a copy says, in the forms facts are compared in."""

    def __init__(self, text: str) -> None:
        folded = fold(_expand(text))
        self.text = folded
        self.numbers = {_number_key(m.group()) for m in _NUMBER.finditer(_digits(text))}
        words = set(WORD.findall(folded.replace("’", "'")))
        self.words = words | {w.removesuffix("'s").rstrip("'") for w in words} | {
            part for w in words for part in re.split(r"['-]", w) if part}
        self.stems = set(_stemmer("english").stemWords(list(self.words)))

    def has(self, fact: Fact) -> bool:
        if fact.kind == "number":
            return _number_key(fact.text) in self.numbers
        key = fold(_expand(fact.text)).replace("’", "'").removesuffix("'s").rstrip("'")
        if fact.kind == "quoted":  # its words, whatever the punctuation and brackets around them
            return set(WORD.findall(key)) <= self.words
        if key in _ALIASES.values() or " " in key:
            return key in self.text
        if "-" in key:  # Afro-Puerto Rican: each part
            return all(self.has(Fact(part, fact.kind)) for part in key.split("-") if part)
        if key in self.words or ("." in key and (key.replace(".", "") in self.words or key in self.text)):
            return True  # D.C. / DC
        stem = _stemmer("english").stemWord(key)
        return stem in self.stems or any(root + ending in self.words for root in _roots(key) for ending in NAME_ENDINGS)


# The endings that make a name's adjective, people or doctrine (Libya / Libyan, Israel / Israeli,
# Japan / Japanese, Marx / Marxism, neo-Nazi / Nazism, England / English): two names are one
# family when each is a shared root of four letters or more with one of these endings.
NAME_ENDINGS = ("", "s", "n", "an", "ans", "ian", "ians", "ese", "ish", "ism", "sm", "ist", "ists", "i", "is", "ic",
                "y", "and")


def _roots(word: str) -> set[str]:
    return {word[:len(word) - len(e)] for e in NAME_ENDINGS if word.endswith(e) and len(word) - len(e) >= 4}


def absent(passage: str, copy: CopyFacts) -> list[Fact]:
    """The passage's facts that the copy never mentions, in any of the forms compared."""
    return [fact for fact in facts(passage) if not copy.has(fact)]


def _expand(text: str) -> str:
    """Aliases and month abbreviations written out: `U.S.` → `united states`, `Dec.` → `december`."""
    def alias(match: re.Match[str]) -> str:
        return _ALIASES.get(match.group().lower(), match.group())

    text = re.sub(r"\b(?:U\.S\.A\.|U\.S\.?|USA|US|U\.K\.|UK|EU|U\.N\.)(?=\W|$)", alias, text)
    return re.sub(r"\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?(?=\s|$)",
                  lambda m: _MONTHS[m.group(1).lower()], text)


def _digits(text: str) -> str:
    """Number words as digits (`one thousand` → `1000`, `Part Two` → `Part 2`), for English
    text. Every number word, small ones too: this only widens what a copy is said to hold."""
    try:
        return alpha2digit(text, "en", threshold=0)
    except (ValueError, IndexError):
        return text


def _number_key(text: str) -> str:
    value = re.sub(r"(st|nd|rd|th)$", "", text.replace(",", ""))
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("0") or "0"


# --- the language of a passage and of a copy ---------------------------------------------------

LANGUAGE_NAMES = {"en": "English", "fa": "Persian", "ar": "Arabic", "ur": "Urdu", "ps": "Pashto", "de": "German",
                  "fr": "French", "es": "Spanish", "pt": "Portuguese", "it": "Italian", "nl": "Dutch", "ru": "Russian",
                  "uk": "Ukrainian", "tr": "Turkish", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "he": "Hebrew",
                  "pl": "Polish", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish", "el": "Greek",
                  "hi": "Hindi", "id": "Indonesian", "cs": "Czech", "hu": "Hungarian", "ro": "Romanian"}
SURE = 0.9  # a language is said only when the identifier gives it this probability


@functools.cache
def _identifier() -> object:
    """py3langid's model (shipped inside the package: nothing is fetched), loaded once, when
    a passage is first not found (about half a second)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language_of(text: str) -> str | None:
    """The language of a text (ISO 639-1) when the identifier is sure of it, else None."""
    sample = " ".join(text.split()[:400])
    if len(WORD.findall(sample)) < 4:
        return None
    code, probability = _identifier().classify(sample)  # type: ignore[attr-defined]
    return code if probability >= SURE else None


def script_of(text: str) -> str | None:
    """The writing system most of a text's first 2,000 letters are in (LATIN, ARABIC,
    CYRILLIC, CJK, ...), by their Unicode names."""
    counts: dict[str, int] = {}
    for ch in text[:4000]:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            script = name.split(" ")[0] if name else ""
            counts[script] = counts.get(script, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None


def other_language(passage: str, copy_text: str) -> str | None:
    """"the copy is in Persian; the passage is in English" when the two are written in
    different scripts, the copy's language is sure and the passage is all but surely not in
    it (a passage full of names is not sure of its own language, but it is sure not to be
    Persian), else None. Texts in one script are not asked (the identifier's model takes
    half a second to load): an English claim against a German page stays not_found."""
    if len(WORD.findall(passage)) < 4 or script_of(passage) == script_of(copy_text):
        return None
    theirs = language_of(copy_text)
    if theirs is None:
        return None
    ranked = dict(_identifier().rank(" ".join(passage.split()[:400])))  # type: ignore[attr-defined]
    if ranked.get(theirs, 0.0) >= 0.01:
        return None
    ours, probability = max(ranked.items(), key=lambda item: item[1])
    written = f"in {LANGUAGE_NAMES.get(ours, ours)}" if probability >= 0.5 else f"not in {LANGUAGE_NAMES.get(theirs, theirs)}"
    return f"the copy is in {LANGUAGE_NAMES.get(theirs, theirs)}; the passage is {written}"
