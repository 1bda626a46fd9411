"""Verdicts on real web pages, not pages written for the tests.

46 real pages (news, blogs, reference; English, German, French) with the sentences an
independent extractor takes to be their article text (tests/realpages/README.md says where
they come from). Each page is read as citewatch reads an archived copy, and quotes are
checked against it: the true sentences, the same with typographic noise or marked elisions,
sentences of other pages, and true sentences with one fact changed.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from pipeline.model import Verdict
from pipeline.results import Copy
from pipeline.signals import unusable_copy
from pipeline.text import read_page
from pipeline.verify import CopyKind, NormalizedPage, verify_passage

pytestmark = pytest.mark.slow  # the real-page corpus

HERE = Path(__file__).parent / "realpages"
CORPUS = json.loads((HERE / "corpus.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pages() -> dict[str, Copy]:
    copies = {}
    for entry in CORPUS:
        body = gzip.decompress((HERE / "pages" / entry["page"]).read_bytes())
        read = read_page(body, "text/html")
        page = NormalizedPage.of(read, unusable_copy(read, body))
        copies[entry["page"]] = Copy(entry["page"], entry["page"], CopyKind.ARCHIVE, entry["page"], "20200101000000", page)
    return copies


def verdicts(quotes: list[tuple[str, str]], pages: dict[str, Copy]) -> Counter:
    return Counter(verify_passage(quote, 1, [pages[page]]).verdict for page, quote in quotes)


TRUE = [(entry["page"], sentence) for entry in CORPUS for sentence in entry["sentences"]]


def test_the_corpus_is_what_the_readme_says() -> None:
    assert len(CORPUS) == 46 and len(TRUE) >= 250
    assert {entry["page"].split(".")[0] for entry in CORPUS} >= {"theguardian", "spiegel", "reuters"}


def test_true_quotes_are_verified(pages: dict[str, Copy]) -> None:
    counts = verdicts(TRUE, pages)
    rate = counts[Verdict.VERIFIED] / len(TRUE)
    print(f"true quotes: {counts[Verdict.VERIFIED]} of {len(TRUE)} verified ({rate:.1%}); {dict(counts)}")
    assert rate >= 0.99


def noisy(sentence: str, rng: random.Random) -> str:
    """The same words, typed differently: curly quotes, dashes, a ligature, a soft hyphen,
    doubled spaces and a line break, a different case, an author's elision."""
    words = sentence.split(" ")
    choice = rng.randrange(5)
    if choice == 0:
        return sentence.replace('"', "“").replace("'", "’").replace(" - ", " – ")
    if choice == 1:
        return sentence.replace("fi", "ﬁ").replace(" ", "  ", 2).replace(" ", "\n", 1)
    if choice == 2:
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        word = words[longest]
        words[longest] = word[: len(word) // 2] + "\u00ad" + word[len(word) // 2:]
        return " ".join(words)
    if choice == 3:
        return sentence.upper() if rng.random() < 0.5 else sentence.lower()
    third = max(1, len(words) // 3)
    return " ".join(words[:third]) + " … " + " ".join(words[-third:])  # an elision the author marked


def test_typographic_noise_and_marked_elisions_stay_verified(pages: dict[str, Copy]) -> None:
    rng = random.Random(7)
    quotes = [(page, noisy(sentence, rng)) for page, sentence in TRUE]
    counts = verdicts(quotes, pages)
    rate = counts[Verdict.VERIFIED] / len(quotes)
    print(f"noisy true quotes: {counts[Verdict.VERIFIED]} of {len(quotes)} verified ({rate:.1%}); {dict(counts)}")
    assert rate >= 0.99


def test_quotes_from_other_pages_are_never_verified(pages: dict[str, Copy]) -> None:
    names = [entry["page"] for entry in CORPUS]
    quotes = [(names[(names.index(page) + 1) % len(names)], sentence) for page, sentence in TRUE]
    counts = verdicts(quotes, pages)
    print(f"quotes from another page: {dict(counts)}")
    assert counts[Verdict.VERIFIED] == 0 and counts[Verdict.VERIFIED_LIVE] == 0


NEGATIONS = {"is": "is not", "was": "was not", "are": "are not", "were": "were not", "has": "has not",
             "have": "have not", "will": "will not", "would": "would not", "can": "cannot", "could": "could not",
             "ist": "ist nicht", "war": "war nicht", "sind": "sind nicht", "hat": "hat nicht", "wird": "wird nicht",
             "est": "n'est pas"}
DROP_NEGATION = re.compile(r"\b(not|nicht|never|nie|kein|no|pas)\s", re.IGNORECASE)


def one_fact_changed(sentence: str, others: list[str], rng: random.Random) -> tuple[str, str]:
    """The sentence with one fact changed: a number, a negation, a name or another word."""
    if numbers := list(re.finditer(r"\d+", sentence)):
        match = rng.choice(numbers)
        changed = str(int(match.group()) + rng.choice((1, 2, 9, 10)))
        return "number", sentence[:match.start()] + changed + sentence[match.end():]
    if found := DROP_NEGATION.search(sentence):
        return "negation", sentence[:found.start()] + sentence[found.end():]
    words = sentence.split(" ")
    for index, word in enumerate(words):
        if word.lower() in NEGATIONS:
            words[index] = NEGATIONS[word.lower()]
            return "negation", " ".join(words)
    names = [i for i, w in enumerate(words) if i > 0 and w[:1].isupper() and w.isalpha()]
    pool = [w for other in others for w in other.split(" ") if w[:1].isupper() and w.isalpha() and len(w) > 3]
    if names and pool:
        index = rng.choice(names)
        words[index] = rng.choice([w for w in pool if w != words[index]])
        return "name", " ".join(words)
    index = max(range(len(words)), key=lambda i: len(words[i]))
    words[index] = rng.choice([w for other in others for w in other.split(" ") if len(w) > 6 and w != words[index]])
    return "word", " ".join(words)


def test_quotes_with_one_fact_changed_are_not_verified(pages: dict[str, Copy]) -> None:
    rng = random.Random(11)
    others = [sentence for _, sentence in TRUE]
    altered = [(page, *one_fact_changed(sentence, others, rng)) for page, sentence in TRUE]
    counts = Counter()
    by_kind: dict[str, Counter] = {}
    for page, kind, quote in altered:
        verdict = verify_passage(quote, 1, [pages[page]]).verdict
        counts[verdict] += 1
        by_kind.setdefault(kind, Counter())[verdict] += 1
    caught = 1 - counts[Verdict.VERIFIED] / len(altered)
    print(f"one fact changed: {caught:.1%} not verified; {dict(counts)}; "
          + "; ".join(f"{kind}: {dict(c)}" for kind, c in by_kind.items()))
    assert caught >= 0.9
    assert counts[Verdict.MISQUOTED] >= 0.8 * len(altered)  # most are shown as misquotes, with the difference


def test_a_misquote_names_the_word_that_differs(pages: dict[str, Copy]) -> None:
    page, sentence = next((p, s) for p, s in TRUE if re.search(r"\d{2,}", s))
    number = re.search(r"\d{2,}", sentence).group()
    quote = sentence.replace(number, str(int(number) + 1), 1)
    match = verify_passage(quote, 1, [pages[page]])
    assert match.verdict is Verdict.MISQUOTED
    assert [(d.quote, d.source) for d in match.differences] == [(str(int(number) + 1), number)]
