"""Verdicts that claim no more than their evidence: misquotes caught, every word accounted for,
pages read whole, walls and error pages never taken as evidence of absence, and further
captures looked at before "not found"."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import Settings
from pipeline.extract import extract_bytes
from pipeline.flow import verify_document
from pipeline.model import Verdict
from pipeline.results import Copy
from pipeline.text import PageText, Unreadable, read_page
from pipeline.verify import CopyKind, NormalizedPage, verify_passage
from tests.testweb.archive import Capture
from tests.testweb.fake_ia import FakeInternetArchive
from tests.testweb.origin import OriginServer, Page


def archived(*paragraphs: str) -> Copy:
    page = NormalizedPage.of(PageText(paragraphs, "utf-8", "html"))
    return Copy("http://a.test/", "http://a.test/", CopyKind.ARCHIVE, "http://arch.test/x", "20170101000000", page)


def verdict_of(quote: str, *paragraphs: str) -> Verdict:
    return verify_passage(quote, 1, [archived(*paragraphs)]).verdict


# --- property tests: one fact changed is never verified; typography always is ----------

NAMES = ["Ahmadi", "Karzai", "Nazari", "Rahimi", "Sadr", "Mansour", "Behrami", "Gayanwal"]
NOUNS = ["convoy", "province", "ministry", "delegation", "border", "shipment", "council", "garrison"]
VERBS = ["reported", "confirmed", "announced", "denied", "estimated", "recorded"]


@st.composite
def sentence(draw: st.DrawFn) -> tuple[list[str], int, int]:
    """A sentence with a name and a number in it, and where they stand."""
    words = ["Officials", "in", "the", draw(st.sampled_from(NOUNS)), "said", draw(st.sampled_from(NAMES)),
             draw(st.sampled_from(VERBS)), str(draw(st.integers(2, 9999))), draw(st.sampled_from(NOUNS)) + "s",
             "near", "the", draw(st.sampled_from(NOUNS)), "on", "Tuesday", "and", "would", "be", "on", "duty."]
    return words, 5, 7


@settings(max_examples=200, deadline=None)
@given(sentence(), st.integers(1, 90), st.sampled_from(NAMES))
def test_one_number_name_or_negation_changed_is_never_verified(drawn, delta: int, other: str) -> None:
    words, name_at, number_at = drawn
    source = " ".join(words)
    number = list(words)
    number[number_at] = str(int(words[number_at]) + delta)
    name = list(words)
    name[name_at] = other if other != words[name_at] else "Someone"
    negation = words[:16] + ["not"] + words[16:]  # "would not be on duty"
    for changed in (number, name, negation):
        assert verdict_of(" ".join(changed), "Earlier text.", source, "Later text.") is Verdict.MISQUOTED


TYPOGRAPHY = [
    lambda s: s.replace("Officials", "OFFICIALS"),
    lambda s: s.replace(" ", "  ").replace("said", "said\n"),
    lambda s: "“" + s + "”",
    lambda s: s.replace("duty.", "duty,"),
    lambda s: s.replace("Tuesday", "Tues\u00adday"),
    lambda s: s.replace("Officials in the", "Officials in the …").split(" … ")[0] + " … on Tuesday and would be on duty.",
    lambda s: s.replace("said ", "said [the spokesman] "),
]


@settings(max_examples=200, deadline=None)
@given(sentence(), st.sampled_from(range(len(TYPOGRAPHY))))
def test_typographic_noise_and_marked_elisions_are_always_verified(drawn, which: int) -> None:
    words, _, _ = drawn
    source = " ".join(words)
    assert verdict_of(TYPOGRAPHY[which](source), "Earlier text.", source, "Later text.") is Verdict.VERIFIED


def test_a_line_end_hyphenation_is_not_a_difference() -> None:
    assert verdict_of("The international delegation arrived in Kabul on Tuesday.",
                      "The inter- national delegation arrived in Kabul on Tuesday.") is Verdict.VERIFIED


def test_an_invented_sentence_riding_along_is_never_verified() -> None:
    true = ("Iranian support to Taliban became more apparent in May 2016 when the group's top leader, Mullah "
            "Akhtar Mohammad Mansour was killed by US drone attack in Pakistan as he was returning from Iran "
            "after two months there.")
    match = verify_passage(true + " Police fired live rounds.", 1, [archived(true)])
    assert len(true) > 200 and match.score > 0.85  # most of it is there…
    assert match.verdict is Verdict.PARTIAL and match.missing == ("Police fired live rounds.",)  # …not all of it


def test_a_quote_that_starts_after_a_negation_drops_it() -> None:
    match = verify_passage("one knows what causes the mysterious bursts, astronomers say.", 1,
                           [archived("No one knows what causes the mysterious bursts, astronomers say.")])
    assert match.verdict is Verdict.MISQUOTED and [(d.quote, d.source) for d in match.differences] == [("", "no")]


# --- reading real-world page shapes -------------------------------------------------------

ARTICLE = "The minister said the talks in Doha had been useful and would continue next month."


def test_a_page_wrapped_in_one_form_keeps_its_text() -> None:
    body = (f"<html><body><form id='aspnetForm' action='/x'><div class='nav'>Home</div><div id='content'>"
            f"<p>{ARTICLE}</p></div><input type='hidden' name='__VIEWSTATE' value='abc'></form></body></html>")
    page = read_page(body.encode(), "text/html")
    assert ARTICLE in page.paragraphs


def test_an_empty_or_tiny_reading_is_unreadable_not_absence() -> None:
    with pytest.raises(Unreadable, match="no readable text"):
        read_page(b"<html><body><div id='app'></div><script>render()</script></body></html>", "text/html")
    shell = b"<html><body><div id='root'>" + b"<div class='x'></div>" * 2000 + b"<p>Loading</p></div></body></html>"
    with pytest.raises(Unreadable, match="built by script"):
        read_page(shell, "text/html")


# --- archived copies that cannot hold the article, and looking further --------------------

STORY = "http://news.test/story"
QUOTE = "The minister said the talks in Doha had been useful and would continue next month in Qatar."
FILLER = "<p>" + "Other reporting fills the rest of the article with many more words. " * 30 + "</p>"


def html(*parts: str, title: str = "Story") -> bytes:
    return f"<html><head><title>{title}</title></head><body>{''.join(parts)}</body></html>".encode()


CHALLENGE = html("<h1>Just a moment...</h1><p>Checking your browser before accessing news.test.</p>",
                 title="Just a moment...")
SOFT_404 = html("<h1>Page not found</h1><p>Sorry, we couldn't find that page.</p>", title="Page not found")
TEASER = html('<script type="application/ld+json">{"isAccessibleForFree": "False"}</script>',
              "<p>The minister spoke on Monday.</p><p>Subscribe to continue reading.</p>")
WALL = html("<p>We use cookies to improve your experience. Accept all cookies to continue.</p>")
EDITED = html(f"<p>The minister spoke on Monday.</p>{FILLER}")
ORIGINAL = html(f"<p>{QUOTE}</p>{FILLER}")


@pytest.fixture
def archive_with(request: pytest.FixtureRequest) -> Iterator[FakeInternetArchive]:
    server = FakeInternetArchive(request.param).start()
    yield server
    server.stop()


def document(date: str = "2016-05-10") -> bytes:
    return f"Notes\n\n{STORY}\n{date}: {QUOTE}\n".encode()


def settings_for(archive: FakeInternetArchive, web_settings: Settings, **more) -> Settings:
    return dataclasses.replace(web_settings, **archive.env(), archive_cdx_per_minute=0, archive_replay_per_second=0,
                               canary_url="http://canary.test/ok", soft404_probe=False, check_retries=0, **more)


def run(archive: FakeInternetArchive, web_settings: Settings, origin: OriginServer, live: Page, **more):
    origin.add_page("news.test", "/story", live)
    results = verify_document(extract_bytes(document(), "notes.txt"), settings_for(archive, web_settings, **more))
    return results.citations[0].passages[0]


@pytest.mark.parametrize(
    ("archive_with", "reason"),
    [
        ([Capture(STORY, "20160601000000", body=CHALLENGE)], "bot challenge"),
        ([Capture(STORY, "20160601000000", body=SOFT_404)], "\"not found\" page"),
        ([Capture(STORY, "20160601000000", body=TEASER)], "paywall teaser"),
        ([Capture(STORY, "20160601000000", body=WALL)], "login or cookie wall"),
    ],
    indirect=["archive_with"],
    ids=["challenge", "soft-404", "paywall", "cookie-wall"],
)
def test_an_archived_wall_or_error_page_is_not_evidence_of_absence(
        archive_with: FakeInternetArchive, reason: str, web_settings: Settings, origin: OriginServer) -> None:
    match = run(archive_with, web_settings, origin, Page(404, b"gone"))
    assert match.verdict is Verdict.UNVERIFIABLE  # never "not_found": the copy could not hold the article
    assert reason in match.note


@pytest.mark.parametrize("archive_with", [[
    Capture(STORY, "20160520000000", body=EDITED),  # closest to the date: the quote was edited out
    Capture(STORY, "20160601000000", body=EDITED),  # the same version again: not read twice
    Capture(STORY, "20160401000000", body=ORIGINAL),  # a version before the date holds it
]], indirect=True)
def test_a_quote_only_in_another_version_is_found_there(archive_with: FakeInternetArchive, web_settings: Settings,
                                                        origin: OriginServer) -> None:
    match = run(archive_with, web_settings, origin, Page(404, b"gone"))
    assert match.verdict is Verdict.VERIFIED and match.timestamp == "20160401000000"  # the copy that holds it
    assert archive_with.count("/cdx") == 1  # one CDX answer serves both reads
    reads = [path for _, path in archive_with.requests if path.startswith("/web/")]
    assert [r.split("/")[2][:14] for r in reads] == ["20160520000000", "20160401000000"]  # same digest: skipped


@pytest.mark.parametrize("archive_with", [[
    Capture(STORY, "20160601000000", body=EDITED), Capture(STORY, "20160401000000", body=ORIGINAL)]], indirect=True)
def test_looking_further_can_be_turned_off(archive_with: FakeInternetArchive, web_settings: Settings,
                                           origin: OriginServer) -> None:
    match = run(archive_with, web_settings, origin, Page(404, b"gone"), verify_more_captures=0)
    assert match.verdict is Verdict.NOT_FOUND and archive_with.count("/web/") == 1


@pytest.mark.parametrize("archive_with", [[Capture(STORY, "20160601000000", body=html(
    f"<p>{QUOTE.replace('useful', 'useless')}</p>{FILLER}"))]], indirect=True)
def test_a_misquote_on_the_test_web_names_source_copy_and_difference(
        archive_with: FakeInternetArchive, web_settings: Settings, origin: OriginServer, tmp_path: Path) -> None:
    match = run(archive_with, web_settings, origin, Page(200, html(f"<p>{QUOTE}</p>{FILLER}")))
    # the live page says it as quoted: verified_live, the archived copy's difference is not the evidence
    assert match.verdict is Verdict.VERIFIED_LIVE
    only_archive = run(archive_with, web_settings, origin, Page(404, b"gone"))
    assert only_archive.verdict is Verdict.MISQUOTED and only_archive.timestamp == "20160601000000"
    assert [(d.quote, d.source) for d in only_archive.differences] == [("useful", "useless")]
