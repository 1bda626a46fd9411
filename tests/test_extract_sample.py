"""Extraction of the sample document: expectations written by reading data/ by hand."""

from __future__ import annotations

import pytest

from pipeline.extract import extract
from pipeline.model import Extraction
from tests.conftest import SAMPLE

# (line of the citation's first line, date as written, lines of its URLs), read off the document.
EXPECTED = [
    (6, None, [6, 7]),
    (10, None, [10]),
    (13, None, [13]),
    (22, "2009", [22]),
    (29, "2010", [29]),
    (33, "2007-05-22", [33, 34]),
    (38, "2007-06-03", []),  # the dated excerpt with no URL of its own
    (43, "2007-09-14", [43]),
    (49, "2008-09-15", [49, 50]),
    (53, "2011-03-09", [53]),
    (60, "2011-06-07", [60, 61]),
    (65, "2012-08-01", [65, 66]),
    (73, "2015-05-22", [73]),
    (78, "2015-06-11", [78, 79]),
    (90, "2016-04-19", [90, 91]),
    (101, "2016-05-23", [101]),
    (114, "2016-05-26", [114]),
    (119, "2016-05-27", [119]),
    (125, "2016-05-29", [125]),
    (141, "2016-05-31", [141]),
    (148, "2016-06-16", [148]),
    (152, "2016-10-17", [152]),
    (159, "2016-12-09", [159, 160]),
    (167, "2016-12-14", [167, 168, 169]),
    (178, "2016-12-14", [178]),
    (184, "2016-12-29", [184, 185]),
    (192, "2017-01-23", [192]),
    (201, "2017-01-23", [201]),
    (213, "2017-03-28", [213]),
    (217, "2017-03-30", [217]),
    (237, "2017-07-25", [237]),
    (244, "2017-08-05", [244]),
    (257, "2017-09-06", [257]),
    (262, "2017-10-31", [262]),
    (267, "2018-03-12", [267]),
    (272, "2018-03-14", [272]),
]


@pytest.fixture(scope="module")
def sample() -> Extraction:
    return extract(str(SAMPLE))


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return SAMPLE.read_text(encoding="utf-8").split("\n")


def test_title_and_date(sample: Extraction) -> None:
    assert sample.document.title == "Love-hate relationship: Taliban & Iran"
    assert sample.document.date == "2016-12-09"


def test_36_citations_and_46_urls(sample: Extraction) -> None:
    assert len(sample.citations) == 36
    assert sample.url_count == 46
    assert len(sample.unique_urls()) == 46


def test_every_citation_where_dated_and_with_its_urls(sample: Extraction) -> None:
    got = [(c.line_start, c.date, [u.line for u in c.urls]) for c in sample.citations]
    assert got == EXPECTED


def test_each_url_is_its_line_as_written_minus_trailing_space(sample: Extraction, lines: list[str]) -> None:
    for citation in sample.citations:
        for ref in citation.urls:
            assert ref.url == lines[ref.line - 1].strip()


def test_schemeless_and_percent_encoded_and_tracking_fragment(sample: Extraction) -> None:
    refs = {u.url: u for c in sample.citations for u in c.urls}
    wsj = refs["www.wsj.com/articles/SB10000872396390444130304577560241242267700"]
    assert wsj.canonical == "http://www.wsj.com/articles/SB10000872396390444130304577560241242267700"
    mehr = next(u for u in refs.values() if "mehrnews" in u.url)
    assert mehr.url.endswith("%D8%AC%D8%B1%D9%85-%D8%A7%D8%B3%D8%AA") and mehr.canonical == mehr.url
    monitor = refs["http://www.al-monitor.com/pulse/originals/2016/05/iran-marriage-convenience-taliban-isis.html#ixzz4AOzmOiYb"]
    assert monitor.canonical == "http://www.al-monitor.com/pulse/originals/2016/05/iran-marriage-convenience-taliban-isis.html"


def test_passages_split_at_elisions_without_date_prefix(sample: Extraction) -> None:
    wsj_2015 = sample.citations[13]
    texts = [p.text for p in wsj_2015.passages]
    assert texts[0].startswith("When Abdullah, a Taliban commander")
    assert texts[1] == "“Iran supplies us with whatever we need,” he said."
    assert texts[2].startswith("Mr. Abdullah said smugglers")  # after the "...." line
    assert not any(t.startswith(".") or t.startswith("11 June") for t in texts)
    assert [p.line for p in wsj_2015.passages] == [80, 81, 83, 85, 86, 87, 88]


def test_leading_elision_and_inline_ellipsis_split(sample: Extraction) -> None:
    lwj = sample.citations[18]
    assert any(p.text.startswith("by late 2001, as the Americans") and p.line == 127 for p in lwj.passages)
    ara = sample.citations[2]
    assert any(p.text.endswith("107mm rockets, and plastic explosives") for p in ara.passages)
    assert any(p.text.startswith("In 2012, the Iranians shipped") for p in ara.passages)


def test_blank_lines_inside_an_excerpt_do_not_end_it(sample: Extraction) -> None:
    rferl = sample.citations[7]
    assert [p.line for p in rferl.passages] == [44, 47]


def test_persian_text_is_kept_exactly(sample: Extraction, lines: list[str]) -> None:
    bbc_persian = sample.citations[14]
    persian = [p for p in bbc_persian.passages if p.line == 93]
    assert [p.text for p in persian] == [lines[92].strip()]


def test_date_line_with_nothing_after_it(sample: Extraction) -> None:
    telegraph = sample.citations[11]
    assert telegraph.date == "2012-08-01"
    assert telegraph.passages[0].line == 68


def test_boilerplate_is_not_a_claim(sample: Extraction) -> None:
    last = sample.citations[-1]
    assert all("No comments" not in p.text for p in last.passages)
    assert [p.line for p in last.passages] == [274]


def test_ids_are_unique_and_stable_when_lines_are_added_above(sample: Extraction) -> None:
    from pipeline.extract import extract_bytes

    ids = [c.id for c in sample.citations]
    assert len(set(ids)) == 36
    edited = b"An editor's note added on top.\n\n" + SAMPLE.read_bytes()
    again = extract_bytes(edited, "edited.txt")
    assert [c.id for c in again.citations] == ids
    assert again.citations[0].line_start == sample.citations[0].line_start + 2
