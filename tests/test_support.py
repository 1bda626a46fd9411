"""Claims in the writer's own words: the source's sentences that bear on a passage, and the
passage's facts the source never mentions, measured on real claims and the pages they cite
(the WiCE development split, tests/fixtures/wice/: its README and licence are there)."""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path

import bm25s
import pytest

from pipeline.support import CopyFacts, SentenceIndex, absent, facts, fold, split_sentences

pytestmark = pytest.mark.slow  # the WiCE corpus

WICE = Path(__file__).parent / "fixtures" / "wice"


@functools.cache
def wice(name: str = "claims-dev.jsonl.gz") -> list[dict]:
    with gzip.open(WICE / name, "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


def _supporting(row: dict) -> set[int]:
    return {index for group in row["supporting_sentences"] for index in group}


def _top3(rank) -> float:
    rows = [r for r in wice() if r["label"] != "not_supported" and _supporting(r)]
    return sum(bool(_supporting(r) & set(rank(r["claim"], r["evidence"]))) for r in rows) / len(rows)


def _plain_bm25(claim: str, sentences: list[str]) -> list[int]:
    """Plain BM25: lowercased words, the library's defaults."""
    words = [[w.lower() for w in re.findall(r"\w+", s)] or ["\x00"] for s in sentences]
    index = bm25s.BM25()
    index.index(words, show_progress=False)
    query = [w for w in (w.lower() for w in re.findall(r"\w+", claim)) if w in index.vocab_dict]
    scores = index.get_scores(query) if query else [0.0] * len(sentences)
    return sorted(range(len(sentences)), key=lambda i: -scores[i])[:3]


def test_a_supporting_sentence_is_among_the_first_three_and_beats_plain_bm25() -> None:
    """Measured 98.0 % (300 of 306 supported and partially supported claims); plain BM25 94.1 % (288).
    The thresholds sit below what was measured, so that a regression fails."""
    ours = _top3(lambda claim, sentences: [s.index for s in SentenceIndex(sentences).rank(claim)])
    plain = _top3(_plain_bm25)
    assert ours >= 0.97
    assert ours > plain + 0.02


def test_few_supported_claims_have_a_fact_called_absent() -> None:
    """Measured 8.7 % of the 115 supported claims (10): all are facts the page's text really
    lacks (a year the page writes as "last year", a title it abbreviates, a name it spells in
    another alphabet). 12.2 % (14) before small number words (`Part Two`) and names' families
    (`English` / `England`); the goal is 10 %."""
    rows = [r for r in wice() if r["label"] == "supported"]
    flagged = sum(bool(absent(r["claim"], CopyFacts("\n".join(r["evidence"])))) for r in rows)
    assert flagged / len(rows) <= 0.10


def test_what_absent_names_is_what_the_page_does_not_support() -> None:
    """Token precision on the non-supported-token file: of the claim's words that `absent`
    names, the share the annotators marked as not supported by the page. Measured 92.9 %
    (79 of 85); 90.9 % (80 of 88) when a name's first five letters were enough."""
    predicted = right = 0
    for row in wice("non-supported-tokens-dev.jsonl.gz"):
        named = {fold(w) for fact in absent(row["claim"], CopyFacts("\n".join(row["evidence"])))
                 for w in re.findall(r"\w+", fact.text)}
        for token, unsupported in zip(row["claim_tokens"], row["non_supported_spans"]):
            if fold(token) in named:
                predicted += 1
                right += unsupported
    assert predicted >= 50 and right / predicted >= 0.90


PAGE = CopyFacts("On 3 December 2019 the United States sent one thousand troops to Zürich, the "
                 "ministry said in its \u201cannual review\u201d. Prices rose 8.5 percent. Part Two of the "
                 "report, on the English game and neo-Nazi groups, quotes a Japanese envoy, an Australian judge and Mr Johnson.")


@pytest.mark.parametrize("claim", [
    "The U.S. sent 1,000 troops to Zurich on Dec. 3, 2019.",
    "In December 2019 the US sent 1000 troops to Zürich.",
    "The ministry's annual review said prices rose 8.5 percent.",
    'The ministry called it an "annual review".',
    "Part 2 of the report quotes an envoy from Japan.",  # a small number word, a name's family
    "The report is on football in England and on Nazism.",
])
def test_a_fact_written_in_another_form_is_not_absent(claim: str) -> None:
    assert absent(claim, PAGE) == []


@pytest.mark.parametrize("claim, missing", [
    ("The U.S. sent 2,000 troops to Zurich on Dec. 3, 2019.", "2,000"),
    ("In December 2018 the US sent 1000 troops to Zürich.", "2018"),
    ("The United States sent 1000 troops to Geneva.", "Geneva"),
    ('The ministry called it a "secret review".', "secret review"),
    ("Part 4 of the report quotes Mr Johnson.", "4"),
    ("The report quotes Mr Johnston.", "Johnston"),  # a root and an ending that makes no family
    ("The report is on football in Scotland.", "Scotland"),
    ("The ministry said troops went to Austria.", "Austria"),  # not Australia: not one family
])
def test_a_changed_fact_is_named_absent(claim: str, missing: str) -> None:
    assert [f.text for f in absent(claim, PAGE)] == [missing]


def test_facts_leave_out_sentence_starts_and_months() -> None:
    found = {(f.kind, f.text) for f in facts("The report came out in May. Officials in Kabul said 12 died in 2007–08.")}
    assert found == {("name", "Kabul"), ("number", "12"), ("number", "2007")}


def test_sentences_come_from_each_paragraph_and_rank_best_first() -> None:
    sentences = split_sentences(["Dr. Smith went to Kabul. He met the governor on Monday.",
                                 "The talks failed. Troops left the city in 2007."])
    assert sentences == ["Dr. Smith went to Kabul.", "He met the governor on Monday.", "The talks failed.",
                         "Troops left the city in 2007."]
    ranked = SentenceIndex(sentences).rank("In 2007 the troops left the city")
    assert ranked[0].index == 3 and ranked[0].score == 1.0
    assert SentenceIndex(sentences).rank("nothing shared here whatsoever") == []
