"""Verification: pages built for the test web, archived in pywb, and a document quoting them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.extract import extract_bytes
from pipeline.flow import verify_document
from pipeline.model import Verdict
from pipeline.report.document import report_document
from pipeline.results import Copy
from pipeline.results import DocumentResults as Verification
from pipeline.text import PageText, Unreadable, normalize, read_page
from pipeline.verify import CopyKind, NormalizedPage, _windows, citation_verdict, score_passage, segments, verify_passage
from tests.testweb.archive import Capture, PywbArchive
from tests.testweb.origin import PERSIAN, PERSIAN_1256, OriginServer, Page
from tests.testweb.pdf import make_pdf

HOST = "quotes.test"
ZWNJ_PERSIAN = PERSIAN.replace("خبرگزاری", "خبرگزاری\u200c")  # a joiner inside the page's word
FILLER = "<p>" + "Other news of the day fills this very long page with many words. " * 40 + "</p>\n"


def html(body: str, charset: str = "utf-8") -> bytes:
    return f"<!doctype html><html><head><meta charset='{charset}'><title>t</title></head><body>{body}</body></html>".encode(
        charset if charset != "windows-1256" else "windows-1256"
    )


BIG = ("<html><head><meta charset='utf-8'></head><body>" + FILLER * 1000
       + "<p>The needle sentence sits deep inside a very large page full of other words.</p>"
       + FILLER * 1000 + "</body></html>").encode()

ARCHIVED_PAGES = {
    "/exact": html("<nav>Home World</nav><p>The minister said the talks in Doha had been useful and would continue "
                   "next month.</p>"),
    "/inline": html("<p>Officers in the <a href='/x'>Iranian</a> <em>Revolutionary Guard</em> are supplying</p>"
                    "<p>hundreds of weapons to the insurgents in the south.</p>"),
    "/curly": html("<p>&ldquo;We don&rsquo;t have a relationship,&rdquo; the ambassador said &mdash; "
                   "&ldquo;our contact is aimed at controlling them.&rdquo;</p>"),
    "/elided": html("<p>&ldquo;Iran supplies us with whatever we need,&rdquo; he said.</p><p>Unrelated middle paragraph "
                    "about the weather.</p><p>Smugglers hired by Iran ferry supplies across the lawless borderlands.</p>"),
    "/insertion": html("<p>Iranians have provided support on the ground by organising transports for injured "
                       "people to Tehran, the report claims.</p>"),
    "/paraphrase": html("<p>Officials claim that Tehran is supplying the group with arms and cash.</p>"),
    "/changed": html("<p>The governor said the rockets bore Iranian markings and were fired at the provincial capital.</p>"),
    "/persian-utf8": html(f"<p>{ZWNJ_PERSIAN} به تهران خبر داد</p>"),
    "/persian-1256": html(f"<p>{PERSIAN_1256} به تهران خبر داد</p>", "windows-1256"),
    "/translation": html(f"<p>{PERSIAN}</p>"),
    "/big": BIG,
}
LIVE_PAGES = {
    "/exact": ARCHIVED_PAGES["/exact"],
    "/changed": html("<p>This story has been updated and no longer mentions any markings.</p>"),
    "/live-only": html("<p>This sentence exists only on the live page today.</p>"),
}

DOCUMENT = f"""Verification fixtures

http://{HOST}/exact
1 May 2016: The minister said the talks in Doha had been useful and would continue next month.

http://{HOST}/inline
2 May 2016: Officers in the Iranian Revolutionary Guard are supplying hundreds of weapons to the insurgents in the south.

http://{HOST}/curly
3 May 2016: "We don't have a relationship," the ambassador said - "our contact is aimed at controlling them."

http://{HOST}/elided
4 May 2016: "Iran supplies us with whatever we need," he said.
....
Smugglers hired by Iran ferry supplies across the lawless borderlands.

http://{HOST}/insertion
5 May 2016: provided support on the ground by organising transports for injured people [meaning Taliban fighters] to Tehran

http://{HOST}/paraphrase
6 May 2016: Tehran is giving weapons and money to the group, officials say.

http://{HOST}/changed
7 May 2016: The governor said the rockets bore Iranian markings and were fired at the provincial capital.

http://{HOST}/persian-utf8
8 May 2016: {PERSIAN} به تهران خبر داد

http://{HOST}/persian-1256
9 May 2016: {PERSIAN} به تهران خبر داد

http://{HOST}/big
10 May 2016: The needle sentence sits deep inside a very large page full of other words.

http://{HOST}/report.pdf
11 May 2016: The annual report describes arms shipments in detail.

http://{HOST}/image.png
12 May 2016: A picture says nothing a quote could be found in.

http://{HOST}/live-only
13 May 2016: This sentence exists only on the live page today.

http://{HOST}/translation
14 May 2016: Tasnim News Agency in Erdebehesht last year unveiled a trip by Tayeb Agha to Tehran.
"""


@pytest.fixture(scope="module")
def quote_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PywbArchive]:
    captures = [Capture(f"http://{HOST}{path}", "20160601000000", body=body,
                        content_type="text/html; charset=windows-1256" if "1256" in path else "text/html; charset=utf-8")
                for path, body in ARCHIVED_PAGES.items()]
    captures.append(Capture(f"http://{HOST}/report.pdf", "20160601000000", body=make_pdf(
        ["Chapter 3.", "The annual report describes arms shipments in detail."]), content_type="application/pdf"))
    captures.append(Capture(f"http://{HOST}/image.png", "20160601000000", body=b"\x89PNG\r\n\x1a\n" + bytes(100),
                            content_type="image/png"))
    server = PywbArchive(tmp_path_factory.mktemp("quotes"), captures).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def verification(quote_archive: PywbArchive, origin: OriginServer, ca_file: Path) -> Verification:
    for path, body in LIVE_PAGES.items():
        origin.add_page(HOST, path, Page(body=body))
    settings = Settings(
        connect_to=origin.connect_to(), ca_bundle=str(ca_file),
        wayback_cdx_url=quote_archive.cdx_url, wayback_replay_url=quote_archive.replay_url, wayback_dialect="pywb",
        archive_cdx_per_minute=0, archive_replay_per_second=0, canary_url="http://canary.test/ok",
        check_backoff=0.01, max_body_bytes=8_000_000,
    )
    extraction = extract_bytes(DOCUMENT.encode(), "quotes.txt")
    assert len(extraction.citations) == 14
    return verify_document(extraction, settings)


def result(verification: Verification, path: str):
    return next(r for r in verification.citations if r.citation.urls[0].url.endswith(path))


@pytest.mark.parametrize(
    ("path", "verdict"),
    [
        ("/exact", Verdict.VERIFIED),
        ("/inline", Verdict.VERIFIED),  # across <a>, <em> and two paragraphs
        ("/curly", Verdict.VERIFIED),  # curly quotes, entities, a dash
        ("/elided", Verdict.VERIFIED),
        ("/insertion", Verdict.VERIFIED),  # [meaning Taliban fighters] dropped
        ("/paraphrase", Verdict.PARTIAL),  # in other words, and only some of them the source's
        ("/changed", Verdict.VERIFIED),
        ("/persian-utf8", Verdict.VERIFIED),
        ("/persian-1256", Verdict.VERIFIED),
        ("/big", Verdict.VERIFIED),
        ("/report.pdf", Verdict.VERIFIED),
        ("/image.png", Verdict.UNVERIFIABLE),
        ("/live-only", Verdict.VERIFIED_LIVE),
        ("/translation", Verdict.UNVERIFIABLE),  # an English rendering of a Persian page: not compared
    ],
)
def test_citation_verdicts(verification: Verification, path: str, verdict: Verdict) -> None:
    got = result(verification, path)
    assert got.verdict is verdict, [m.note for m in got.passages]


def test_evidence_names_source_snapshot_score_and_context(verification: Verification) -> None:
    match = result(verification, "/exact").passages[0]
    assert match.source == f"http://{HOST}/exact" and match.copy == "archive"
    assert match.timestamp == "20160601000000" and match.location.endswith(f"20160601000000id_/http://{HOST}/exact")
    assert match.score == 1.0
    assert match.matched == "The minister said the talks in Doha had been useful and would continue next month."
    assert "Home" not in match.context  # navigation dropped


def test_changed_since_cited_is_flagged(verification: Verification) -> None:
    changed = result(verification, "/changed").passages[0]
    assert changed.changed_since_cited and "changed since cited" in changed.note
    assert not result(verification, "/exact").passages[0].changed_since_cited


def test_a_passage_in_other_words_shows_the_sources_sentence_and_keeps_missing_segments(
        verification: Verification) -> None:
    match = result(verification, "/paraphrase").passages[0]
    assert "its best sentences hold 43% of its words" in match.note
    assert match.missing == ("Tehran is giving weapons and money to the group, officials say.",)
    assert [s.text for s in match.support] == ["Officials claim that Tehran is supplying the group with arms and cash."]
    assert match.absent == ()


def test_a_page_in_another_language_is_not_compared(verification: Verification) -> None:
    match = result(verification, "/translation").passages[0]
    assert match.verdict is Verdict.UNVERIFIABLE
    assert "the copy is in Persian; the passage is in English" in match.note


def test_unverifiable_says_why(verification: Verification) -> None:
    match = result(verification, "/image.png").passages[0]
    assert "not a text page (image/png)" in match.note


def test_persian_context_is_in_the_pages_own_letters(verification: Verification) -> None:
    match = result(verification, "/persian-1256").passages[0]
    assert PERSIAN_1256 in match.context


def test_json_document(verification: Verification) -> None:
    document = report_document(verification)
    assert document["summary"]["citations"] == 14
    first = document["citations"][0]
    assert set(first) >= {"id", "index", "date", "verdict", "passages", "sources"}
    assert set(first["passages"][0]) >= {"text", "verdict", "score", "source", "context", "missing"}
    assert first["sources"][0]["status"] == "ok"


# --- pure parts -----------------------------------------------------------------------


def page(*paragraphs: str) -> NormalizedPage:
    return NormalizedPage.of(PageText(paragraphs, "utf-8", "html"))


def test_normalize_folds_quotes_dashes_case_and_arabic_forms() -> None:
    assert normalize("“Don’t” — WAIT…") == "\"don't\" - wait..."  # NFKC: … is ...
    assert normalize("ي ك") == normalize("ی ک")
    assert normalize("می\u200cگوید") == normalize("میگوید")
    assert normalize("ﬁne\u00a0\u00a0 print") == "fine print"


def test_segments_split_at_elisions_brackets_and_sentences() -> None:
    text = "Mr. Abdullah said U.S. forces left. They came back … later [in 2009] that year."
    assert segments(text) == ["Mr. Abdullah said U.S. forces left.", "They came back", "later", "that year."]


def test_short_segments_need_an_exact_match() -> None:
    assert score_passage("the war ended", page("the war is over")).share == 0.0
    assert score_passage("the war ended", page("then the war ended")).share == 1.0


def test_fuzzy_alignment_is_then_compared_word_for_word() -> None:
    # Before misquotes were caught, a 90-alike alignment counted as found, so "targetted" was
    # verified. Now a changed word is a difference (the verdict says misquoted); a dash for a
    # space, a trailing comma for a full stop are not.
    source = page("British troops in Afghanistan are being targeted by surface-to-air missiles, he said.")
    same = score_passage("British troops in Afghanistan are being targeted by surface to air missiles.", source)
    near = score_passage("British troops in Afghanistan are being targetted by surface to air missiles", source)
    far = score_passage("British troops in Afghanistan are being attacked with weapons from abroad", source)
    assert same.complete and same.share == 1.0 and same.differences == ()
    assert near.share == 0.0 and [(d.quote, d.source) for d in near.differences] == [("targetted", "targeted")]
    assert far.share == 0.0 and far.missing and not far.differences


def test_long_page_aligns_only_around_the_passages_rare_words() -> None:
    paragraphs = ("Filler words about the weather and the markets today. " * 20,) * 3000 + (
        "The rare quotation about Zahedan smugglers appears exactly once here.",)
    big = page(*paragraphs)
    near = "The rare quotation, about Zahedan smugglers, appears exactly once"  # not verbatim: aligned fuzzily
    score = score_passage(near, big)
    miss = score_passage("A wholly different sentence about Kandahar convoys that is nowhere", big)
    assert score.share == 1.0 and miss.share == 0.0
    windows = _windows(normalize(near), big.text)
    assert windows and sum(hi - lo for lo, hi in windows) < len(big.text) / 100  # not the 3.3 MB page
    assert any(lo <= big.text.find("zahedan") < hi for lo, hi in windows)


def copy(kind: CopyKind, *paragraphs: str, unusable: str | None = None) -> Copy:
    return Copy(f"http://{kind.value}.test/", f"http://{kind.value}.test/", kind, f"http://{kind.value}.test/x",
                "20160101000000" if kind is CopyKind.ARCHIVE else None,
                NormalizedPage.of(PageText(paragraphs, "utf-8", "html"), unusable))


QUOTE = "The minister said the talks in Doha had been useful. They will continue next month in Qatar."


def test_passage_verdicts_from_copies() -> None:
    whole = ("The minister said the talks in Doha had been useful. They will continue next month in Qatar.",)
    first_half = ("The minister said the talks in Doha had been useful.",)
    changed = ("The minister said the talks in Doha had been useless. They will continue next month in Qatar.",)
    verdict = lambda *copies: verify_passage(QUOTE, 1, copies).verdict  # noqa: E731
    assert verdict(copy(CopyKind.ARCHIVE, *whole)) is Verdict.VERIFIED
    assert verdict(copy(CopyKind.ARCHIVE, *first_half), copy(CopyKind.LIVE, *whole)) is Verdict.VERIFIED_LIVE
    assert verdict(copy(CopyKind.ARCHIVE, *changed)) is Verdict.MISQUOTED
    assert verdict(copy(CopyKind.ARCHIVE, *first_half)) is Verdict.PARTIAL  # never verified: half is missing
    assert verdict(copy(CopyKind.ARCHIVE, "Nothing of the kind.")) is Verdict.NOT_FOUND
    assert verdict(Copy("u", "u", CopyKind.ARCHIVE, None, None, None, "archive: none")) is Verdict.UNVERIFIABLE
    # a wall saved as the page is no evidence of absence, but it verifies what it holds
    assert verdict(copy(CopyKind.ARCHIVE, "Log in to continue.", unusable="a wall")) is Verdict.UNVERIFIABLE
    assert verdict(copy(CopyKind.ARCHIVE, *whole, unusable="a teaser")) is Verdict.VERIFIED


def test_citation_verdicts_sum_their_passages() -> None:
    assert citation_verdict([Verdict.VERIFIED, Verdict.VERIFIED_LIVE]) is Verdict.VERIFIED_LIVE
    assert citation_verdict([Verdict.VERIFIED, Verdict.MISQUOTED, Verdict.PARTIAL]) is Verdict.MISQUOTED
    assert citation_verdict([Verdict.VERIFIED, Verdict.NOT_FOUND]) is Verdict.PARTIAL
    assert citation_verdict([Verdict.NOT_FOUND, Verdict.UNVERIFIABLE]) is Verdict.NOT_FOUND
    assert citation_verdict([]) is Verdict.UNVERIFIABLE


def test_read_page_refuses_binary_types_and_reads_text_plain() -> None:
    with pytest.raises(Unreadable):
        read_page(b"\x89PNG....", "image/png")
    assert read_page(b"line one\n\nline two", "text/plain").paragraphs == ("line one", "line two")


def test_read_page_drops_scripts_comments_and_keeps_blocks() -> None:
    text = read_page(b"<html><body><script>var hidden=1</script><!-- note --><h1>Title</h1><p>One <b>two</b></p>"
                     b"<p>three</p></body></html>", "text/html")
    assert text.paragraphs == ("Title", "One two", "three")
