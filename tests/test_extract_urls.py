"""Finding and canonicalising URLs: the tricky cases, and a property test over arbitrary text."""

from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.extract import extract_bytes
from pipeline.extract.urls import canonicalize, find_urls, is_citable


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("see http://a.example/x.", ["http://a.example/x"]),
        ("see http://a.example/x, then", ["http://a.example/x"]),
        ("(see http://a.example/x)", ["http://a.example/x"]),
        ("https://en.wikipedia.org/wiki/Foo_(bar) is", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ("(https://en.wikipedia.org/wiki/Foo_(bar))", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ('he said "http://a.example/q".', ["http://a.example/q"]),
        ("“http://a.example/curly”", ["http://a.example/curly"]),
        ("«http://a.example/guillemets»", ["http://a.example/guillemets"]),
        ("http://a.example/x?b=1&c=2#frag!", ["http://a.example/x?b=1&c=2#frag"]),
        ("https://münchen.example/straße", ["https://münchen.example/straße"]),
        ("http://user:secret@host.example:8080/p", ["http://user:secret@host.example:8080/p"]),
        ("www.wsj.com/articles/SB1 and more", ["www.wsj.com/articles/SB1"]),
        ("Amazon.com is a shop", []),
        ("mailto:someone@example.org", []),
        ("ftp://files.example/x", []),
        ("two http://a.example/1 http://b.example/2", ["http://a.example/1", "http://b.example/2"]),
        ("http://a.example/%D8%B3%D8%AE", ["http://a.example/%D8%B3%D8%AE"]),
    ],
)
def test_find_urls(text: str, urls: list[str]) -> None:
    assert [url for _, url in find_urls(text)] == urls


def test_a_schemeless_domain_alone_on_a_line_is_a_url() -> None:
    assert [u for _, u in find_urls("ara.tv/28pa5", whole_line_fuzzy=True)] == ["ara.tv/28pa5"]
    assert [u for _, u in find_urls("read ara.tv/28pa5 now", whole_line_fuzzy=True)] == []


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("www.wsj.com/articles/X", "http://www.wsj.com/articles/X"),
        ("HTTP://WWW.Example.COM/Path", "http://www.example.com/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com/a?utm_source=x&id=7&utm_medium=y", "http://example.com/a?id=7"),
        ("http://example.com/a?fbclid=abc", "http://example.com/a"),
        ("http://example.com/a?gclid=1&b=2", "http://example.com/a?b=2"),
        ("http://example.com/p.html#ixzz4AOzmOiYb", "http://example.com/p.html"),
        ("http://example.com/p#section-2", "http://example.com/p#section-2"),
        ("http://example.com/%7euser/%c3%a9", "http://example.com/~user/%C3%A9"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("http://user:pw@example.com/", "http://example.com/"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ],
)
def test_canonicalize(url: str, canonical: str) -> None:
    assert canonicalize(url) == canonical


@pytest.mark.parametrize("href", ["javascript:alert(1)", "mailto:a@b.c", "tel:+123", "data:text/html,x", "#top", ""])
def test_not_citations(href: str) -> None:
    assert not is_citable(href)


# Arbitrary text with URLs, links and entities mixed in, so that every format finds some.
_PIECES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30),  # NUL: binary
    st.sampled_from([
        "http://a.example/x", "https://b.example/p?q=1&amp;r=2", "see www.c.example/y.", "(https://d.example/z)",
        '<a href="http://e.example/a&amp;b">e</a>', "<a href='https://f.example/'>f</a>", "[g](http://g.example/g)",
        "<http://h.example/>", "<p>", "</p>", "&amp;", "&lt;", "\n\n", "<blockquote>", "22 May 2007: ",
    ]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_extraction_never_raises_and_every_url_is_in_the_input(text: str) -> None:
    for name in ("doc.txt", "doc.md", "doc.html"):
        extraction = extract_bytes(text.encode("utf-8"), name)
        # HTML decodes entities and line ends where it reads markup (not inside what it takes for
        # a broken tag); the other formats read text as is
        decoded = html.unescape(text.replace("\r\n", "\n").replace("\r", "\n")) if name.endswith(".html") else text
        for citation in extraction.citations:
            for ref in citation.urls:
                assert ref.url in text or ref.url in decoded, (name, ref.url)


def test_the_mixed_input_of_the_property_test_does_hold_urls_in_every_format() -> None:
    text = 'x <a href="http://e.example/a&amp;b">e</a> y [g](http://g.example/g) z\n\nhttp://a.example/x\n'
    found = {name: [r.url for c in extract_bytes(text.encode(), name).citations for r in c.urls]
             for name in ("doc.txt", "doc.md", "doc.html")}
    assert "http://a.example/x" in found["doc.txt"] and "http://g.example/g" in found["doc.md"]
    assert "http://e.example/a&b" in found["doc.html"]


url_chars = st.sampled_from(list("abcxyz0123/._-?=&#%()") + ["é", "ß", " ", ".", ",", ")", '"', "”"])


@settings(max_examples=300, deadline=None)
@given(st.lists(url_chars, max_size=40).map("".join), st.sampled_from(["", " ", ".", ",", ")", "\n"]))
def test_urls_in_prose_are_substrings_and_canonicalize(tail: str, after: str) -> None:
    text = f"Source: https://news.example/{tail}{after} end"
    for _, url in find_urls(text):
        assert url in text
        assert canonicalize(url).startswith("https://news.example/")
