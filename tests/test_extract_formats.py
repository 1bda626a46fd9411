"""Extraction from Markdown and HTML fixtures: every rule of the Extraction issue."""

from __future__ import annotations

import pytest

from pipeline.extract import extract, extract_bytes
from pipeline.model import DocumentFormat, Extraction
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def md() -> Extraction:
    return extract(str(FIXTURES / "links.md"))


@pytest.fixture(scope="module")
def html() -> Extraction:
    return extract(str(FIXTURES / "links.html"))


def urls(extraction: Extraction) -> list[str]:
    return [u.url for c in extraction.citations for u in c.urls]


# --- Markdown -------------------------------------------------------------------------


def test_markdown_front_matter_title_and_date(md: Extraction) -> None:
    assert md.document.format is DocumentFormat.MARKDOWN
    assert (md.document.title, md.document.date) == ("Sources on the border trade", "2017-03-30")


def test_markdown_inline_reference_autolink_and_bare_urls(md: Extraction) -> None:
    assert urls(md) == [
        "http://news.bbc.co.uk/1/hi/world/south_asia/6750785.stm",  # inline link
        "https://www.theguardian.com/world/2016/may/23/death-of-mullah-mansoor-highlights-talibans-links-with-iran",  # reference
        "https://www.rferl.org/a/1078675.html",  # autolink
        "http://www.longwarjournal.org/archives/2009/07/iran_and_the_taliban.php",  # bare, trailing "." dropped
        "https://gandhara.rferl.org/a/28399944.html",  # bare, in a blockquote
        "http://www.wsj.com/articles/iran-backs-taliban-with-cash-and-arms-1434065528",
        "https://en.wikipedia.org/wiki/Quds_Force_(Iran)",  # the URL's own parenthesis kept
    ]


def test_markdown_code_mail_js_fragment_and_relative_links_are_not_citations(md: Extraction) -> None:
    found = " ".join(urls(md))
    assert "code.example" not in found and "mailto" not in found and "javascript" not in found
    assert "#top" not in found and "/about" not in found


def test_markdown_reference_link_line_is_its_definition(md: Extraction) -> None:
    guardian = md.citations[1].urls[0]
    lines = (FIXTURES / "links.md").read_text().splitlines()
    assert lines[guardian.line - 1].startswith("[guardian]: https://www.theguardian.com")


def test_markdown_passages_quote_when_quoted_else_text(md: Extraction) -> None:
    bbc, guardian, item = md.citations[0], md.citations[1], md.citations[3]
    assert bbc.date == "2007-05-22"
    assert [p.text for p in bbc.passages] == ["British troops are being targeted, according to the BBC."]
    assert [p.text for p in guardian.passages] == [
        "Iran has always held contacts with some parties in the Taliban movement"
    ]
    assert item.passages[0].text.endswith("Its second line continues the item.")  # a list item is one citation


def test_markdown_blockquote_is_split_at_elisions_and_drops_the_source_line(md: Extraction) -> None:
    quote = md.citations[4]
    assert [p.text for p in quote.passages] == [
        "Tehran is not only openly engaging with the Taliban; it is also extending material support.",
        "The camps were close to the country's borders.",
    ]
    assert quote.line_start == 18


def test_markdown_blockquote_before_a_source_line_is_its_quote(md: Extraction) -> None:
    wsj = md.citations[5]
    assert [p.text for p in wsj.passages] == ["“Iran supplies us with whatever we need,” he said."]
    assert wsj.date == "2015-06-11"


# --- HTML -----------------------------------------------------------------------------


def test_html_title_and_published_date(html: Extraction) -> None:
    assert html.document.format is DocumentFormat.HTML
    assert (html.document.title, html.document.date) == ("Iran and the Taliban: sources", "2016-12-09")


def test_html_links_resolved_against_base_and_bare_urls(html: Extraction) -> None:
    refs = [(u.url, u.canonical) for c in html.citations for u in c.urls]
    assert refs == [
        ("http://news.bbc.co.uk/1/hi/world/south_asia/6750785.stm", "http://news.bbc.co.uk/1/hi/world/south_asia/6750785.stm"),
        ("../2015/iran-trains.html", "https://blog.example.org/2015/iran-trains.html"),
        ("http://www.rferl.org/a/1078675.html", "http://www.rferl.org/a/1078675.html"),
        ("https://www.longwarjournal.org/archives/2016/05/analysis.php?utm_source=feed",
         "https://www.longwarjournal.org/archives/2016/05/analysis.php"),
        ("https://en.wikipedia.org/wiki/Taliban", "https://en.wikipedia.org/wiki/Taliban"),
        ("https://gandhara.rferl.org/a/28399944.html", "https://gandhara.rferl.org/a/28399944.html"),
    ]


def test_html_scripts_comments_code_nav_and_non_http_links_are_not_citations(html: Extraction) -> None:
    found = " ".join(u.canonical for c in html.citations for u in c.urls)
    for absent in ("script.example", "comment.example", "code.example", "javascript", "mailto", "tel:", "data:", "#notes"):
        assert absent not in found
    assert "https://blog.example.org/" not in [u.canonical for c in html.citations for u in c.urls]  # nav "Home"


def test_html_passages_join_inline_tags_and_prefer_quotes(html: Extraction) -> None:
    bbc, _, lwj, quote = html.citations
    assert bbc.date == "2007-05-22"
    assert bbc.passages[0].text == "British troops are being targeted by missiles, says the BBC."
    assert [p.text for p in lwj.passages] == ["Iran has arranged arms shipments to select Taliban members"]
    assert [p.text for p in quote.passages] == [
        "Tehran is not only openly engaging with the Taliban; it is also extending material support.",
        "The camps were close to the borders.",
    ]
    assert bbc.urls[0].line == 13 and bbc.line_start == 12


def test_html_document_url_resolves_relative_links_without_base() -> None:
    page = b'<html><body><p>See <a href="/story/1">this</a>.</p></body></html>'
    extraction = extract_bytes(page, "page.html", base_url="https://news.example/section/")
    assert extraction.citations[0].urls[0].canonical == "https://news.example/story/1"


def test_html_without_any_base_drops_relative_links() -> None:
    page = b'<html><body><p>See <a href="/story/1">this</a> and <a href="https://a.example/">that</a>.</p></body></html>'
    extraction = extract_bytes(page, "page.html")
    assert [u.url for c in extraction.citations for u in c.urls] == ["https://a.example/"]


def test_html_is_sniffed_without_extension() -> None:
    page = b"<!DOCTYPE html><html><body><p>x <a href='https://a.example/'>a</a></p></body></html>"
    assert extract_bytes(page, "download").document.format is DocumentFormat.HTML
    assert extract_bytes(b"plain https://a.example/\nquote", "download").document.format is DocumentFormat.TEXT


def test_format_can_be_forced() -> None:
    text = b"[a](https://a.example/x)\n"
    assert extract_bytes(text, "notes.txt", fmt=DocumentFormat.MARKDOWN).citations[0].urls[0].url == "https://a.example/x"


# --- plain text beyond the sample -----------------------------------------------------


def test_hard_wrapped_text_joins_a_paragraphs_lines() -> None:
    body = "\n".join([
        "https://news.example/story",
        "12 March 2018: The minister said that the talks had been useful and",
        "that both sides had agreed to meet again next month in the capital,",
        "according to the statement.",
        "",
        "A second paragraph of the same excerpt, also wrapped at the usual",
        "width of a text file, which continues here and ends on this line.",
    ] * 3)
    extraction = extract_bytes(body.encode(), "wrapped.txt")
    first = extraction.citations[0]
    assert first.date == "2018-03-12"
    assert [p.line for p in first.passages] == [2, 6]
    assert first.passages[0].text.endswith("according to the statement.")
