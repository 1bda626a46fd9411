"""The provenance report: JSON against its schema, Markdown and HTML escaping, Robust Links,
and the HTML report in a real browser (headless Chromium driven by Playwright)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, sync_playwright

from pipeline.cli import FORMATS as CLI_FORMATS
from pipeline.cli import cli
from pipeline.jobs import run_documents
from pipeline.report import RENDERERS
from pipeline.report import html_format as html
from pipeline.report import markdown_format as markdown
from pipeline.summary import RunOptions
from tests.testweb.archive import Capture
from tests.testweb.fake_ia import FakeInternetArchive
from tests.testweb.origin import OriginServer, Page

pytestmark = pytest.mark.slow  # headless Chromium

ROOT = Path(__file__).parent.parent
SCHEMA = json.loads((ROOT / "pipeline" / "report" / "report.schema.json").read_text())
CHROMIUM = os.environ.get("CITEWATCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
XSS = '<script>window.pwned = 1; alert(1)</script> "an <img src=x onerror="window.pwned=2"> quote"'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def sample_html(sample_run) -> Path:
    _, _, summary = sample_run
    return Path(summary.documents[0].reports[0])


@pytest.fixture(scope="module")
def sample_data(sample_run) -> dict:
    _, _, summary = sample_run
    return json.loads(Path(summary.documents[0].reports[1]).read_text())


def open_report(browser: Browser, path: Path, **context):
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    requests, problems = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return ctx, page, requests, problems


def visible_cards(page) -> int:
    return page.locator("article.card:visible").count()


# --- in the browser -------------------------------------------------------------------


def test_report_renders_offline_without_errors_or_requests(browser: Browser, sample_html: Path, sample_data: dict,
                                                           tmp_path: Path) -> None:
    ctx, page, requests, problems = open_report(browser, sample_html, viewport={"width": 1200, "height": 900})
    assert page.locator("h1").inner_text() == "Love-hate relationship: Taliban & Iran"
    citations = len(sample_data["citations"])  # a card a citation, every one shown
    assert citations > 0 and page.locator("article.card").count() == citations == visible_cards(page)
    assert problems == []
    assert requests == [sample_html.as_uri()]  # nothing but the file itself: no script, style, font or image
    first = page.locator("article.card").first.bounding_box()
    assert first is not None and first["width"] > 600  # the cards use the width
    assert page.locator("svg").first.is_visible()  # the summary bars are drawn
    ctx.close()


def test_the_first_screen_shows_what_is_broken(browser: Browser, sample_html: Path, sample_data: dict) -> None:
    """Before: a citation backed by an archived copy kept a green badge while its source's red
    badge sat at the bottom of its card, and nothing said "failing since"; what was wrong had
    to be scrolled for. Now "Needs a look" is on the first screen, worst first, each item a
    link to its card, whose header shows the source's state."""
    ctx, page, _, problems = open_report(browser, sample_html, viewport={"width": 1200, "height": 900})
    items = page.locator(".attention li")
    wanted = [c for c in sample_data["citations"]
              if c["verdict"] not in ("verified", "verified_live") or any(s["failing_since"] for s in c["sources"])]
    assert items.count() == min(12, len(wanted)) > 0
    box = items.first.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 900  # seen without scrolling
    failing = [c for c in sample_data["citations"] if any(s["failing_since"] and s["state"] != "dead" for s in c["sources"])]
    assert failing and "source failing since" in page.locator(".attention").inner_text()
    card = failing[0]["index"]
    page.locator(f'.attention a[href="#citation-{card}"]').first.click()
    header = page.locator(f"#citation-{card} h2")
    assert header.is_visible() and "source failing since" in header.inner_text()
    assert problems == []
    ctx.close()


def test_filters_change_what_is_shown(browser: Browser, sample_html: Path, sample_data: dict) -> None:
    ctx, page, _, problems = open_report(browser, sample_html)
    unverified = sum(1 for c in sample_data["citations"] if c["verdict"] not in ("verified", "verified_live"))
    page.get_by_role("button", name="Not verified").click()
    assert visible_cards(page) == unverified == 6
    assert page.locator("#filter-status").inner_text() == f"{unverified} of 36 citations shown"
    page.get_by_role("button", name="Changed since cited").click()
    assert visible_cards(page) == 1
    page.get_by_role("button", name="Dead sources").click()
    assert visible_cards(page) == 0  # one run: nothing is dead yet
    page.get_by_role("button", name="All").click()
    assert visible_cards(page) == 36
    assert page.get_by_role("button", name="All").get_attribute("aria-pressed") == "true"
    assert problems == []
    ctx.close()


def test_filters_work_from_the_keyboard(browser: Browser, sample_html: Path) -> None:
    ctx, page, _, _ = open_report(browser, sample_html)
    page.get_by_role("button", name="Not verified").focus()
    page.keyboard.press("Enter")
    assert visible_cards(page) == 6
    page.keyboard.press("Shift+Tab")  # to "Dead sources"
    page.keyboard.press("Enter")
    assert visible_cards(page) == 0
    page.keyboard.press("Shift+Tab")  # to "All"
    page.keyboard.press(" ")
    assert visible_cards(page) == 36
    ctx.close()


def test_without_javascript_everything_is_shown_and_no_filters(browser: Browser, sample_html: Path) -> None:
    ctx, page, _, _ = open_report(browser, sample_html, java_script_enabled=False)
    assert visible_cards(page) == 36
    assert page.locator("#filters").is_hidden()
    ctx.close()


def test_readable_on_a_phone(browser: Browser, sample_html: Path, tmp_path: Path) -> None:
    ctx, page, _, _ = open_report(browser, sample_html, viewport={"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    boxes = page.locator("article.card").evaluate_all("els => els.map(e => e.getBoundingClientRect().right)")
    assert len(boxes) == 36 and max(boxes) <= 375  # every card within the screen, none cut off
    ctx.close()


def test_badges_are_labelled_and_headings_ordered(browser: Browser, sample_html: Path, sample_data: dict) -> None:
    ctx, page, _, _ = open_report(browser, sample_html)
    # one h1; an h2 for "Needs a look" and one a card
    assert page.locator("h1").count() == 1 and page.locator("h2").count() == 1 + len(sample_data["citations"])
    assert page.locator("h2").first.inner_text() == "Needs a look"
    labels = page.locator(".badge").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert labels and all(labels)
    ctx.close()


def test_links_to_copies_carry_a_text_fragment(sample_html: Path) -> None:
    text = sample_html.read_text()
    assert text.count("#:~:text=") >= 30
    assert 'rel="noopener noreferrer"' in text


def test_hostile_passages_and_javascript_urls_stay_inert(browser: Browser, sample_data: dict, tmp_path: Path) -> None:
    data = copy.deepcopy(sample_data)
    citation = data["citations"][0]
    citation["passages"][0]["text"] = XSS
    citation["passages"][0]["context"] = XSS
    citation["sources"][0]["url"] = "javascript:window.pwned=3"
    citation["sources"][0]["canonical"] = "javascript:window.pwned=3"
    if citation["sources"][0]["snapshot"] is None:
        citation["sources"][0]["snapshot"] = {"timestamp": "20160101000000", "status": 200,
                                              "replay_url": "javascript:window.pwned=4", "raw_url": "javascript:x"}
    data["document"]["title"] = "<script>window.pwned=5</script>"
    rendered = html.render(data)
    assert "<script>window.pwned" not in rendered and 'href="javascript:' not in rendered
    assert "&lt;script&gt;window.pwned = 1" in rendered
    path = tmp_path / "hostile.html"
    path.write_text(rendered)
    ctx, page, requests, problems = open_report(browser, path)
    assert page.evaluate("window.pwned") is None
    assert problems == [] and requests == [path.as_uri()]
    assert page.locator("a[href^='javascript']").count() == 0
    assert XSS.split(" quote")[0][:40] in page.locator("blockquote").first.inner_text()
    ctx.close()


def test_a_misquote_shows_its_differences_and_has_a_filter(browser: Browser, sample_data: dict, tmp_path: Path) -> None:
    data = copy.deepcopy(sample_data)
    citation = data["citations"][2]
    citation["verdict"] = "misquoted"
    citation["passages"][0].update(verdict="misquoted", similarity=96.5,
                                   differences=[{"quote": "343", "source": "243"}, {"quote": "not", "source": ""}])
    jsonschema.validate(data, SCHEMA)
    path = tmp_path / "misquote.html"
    path.write_text(html.render(data))
    ctx, page, _, problems = open_report(browser, path)
    card = page.locator(f"#citation-{citation['index']}")
    words = lambda texts: [" ".join(t.split()) for t in texts]  # noqa: E731  (a screen reader's reading)
    assert words(card.locator("del").all_inner_texts()) == ["quote: 343", "quote: not"]
    assert words(card.locator("ins").all_inner_texts()) == ["source: 243"]
    assert card.locator("del").first.evaluate("e => getComputedStyle(e).textDecorationLine") == "line-through"
    page.get_by_role("button", name="Misquoted").click()
    assert visible_cards(page) == 1 and card.is_visible()
    assert problems == []
    ctx.close()
    text = markdown.render(data)
    assert "~~343~~ → source: **243**" in text


# --- JSON and Markdown ----------------------------------------------------------------


def test_every_format_renders_the_report_document(sample_data: dict) -> None:
    citation = sample_data["citations"][5]
    problem = next(c for c in sample_data["citations"] if c["verdict"] == "not_found")
    for name, (filename, render) in RENDERERS.items():
        text = render(sample_data)
        assert filename.startswith("report.") and text.strip()
        if name in ("html", "json", "md"):  # the whole document
            assert citation["id"] in text and citation["verdict"] in text, name
        else:  # CI formats: the problems, at their lines
            assert f"citation {problem['index']} is not_found" in text and str(problem["line_start"]) in text, name
    assert json.loads(RENDERERS["json"][1](sample_data)) == sample_data
    assert set(RENDERERS) == set(CLI_FORMATS)  # the command line offers exactly these


def test_the_format_option_refuses_what_has_no_renderer(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "--db", str(tmp_path / "none.sqlite"), "--format", "pdf"])
    assert result.exit_code == 2 and "unknown format pdf" in result.output


def test_report_json_validates_and_has_run_metadata(sample_data: dict) -> None:
    jsonschema.validate(sample_data, SCHEMA)
    assert sample_data["run"]["tool_version"] and sample_data["run"]["settings"]["wayback_dialect"] == "pywb"
    assert sample_data["summary"]["link_classes"]["blocked"] == 3
    source = sample_data["citations"][3]["sources"][0]
    assert {"first", "last", "captures", "checked_at", "final_url"} <= set(source)


def test_markdown_escapes_document_text_and_links_only_http(sample_data: dict) -> None:
    data = copy.deepcopy(sample_data)
    data["citations"][0]["passages"][0]["text"] = XSS + " | *bold* [x](javascript:alert(1))"
    data["citations"][0]["sources"][0]["url"] = "javascript:alert(1)"
    text = markdown.render(data)
    assert "<script>" not in text and "\\<script\\>" in text
    assert "](javascript:" not in text and "](<javascript:" not in text
    assert "\\*bold\\*" in text and "\\|" in text
    assert "| [36](#citation-36) |" in text and "## Citation 36" in text


# --- the report command and Robust Links ------------------------------------------------

LINKED_HTML = """<!doctype html><html><head><title>Linked</title></head><body>
<p>22 May 2007: British troops are being targeted, says <a href="http://robust.test/story">the story</a>.</p>
</body></html>"""
LINKED_MD = """# Linked

22 May 2007: British troops are being targeted, says [the story](http://robust.test/story) and <http://robust.test/story>.

Also http://robust.test/story in prose, and [a reference][ref].

[ref]: http://robust.test/story
"""


@pytest.fixture
def robust_web(tmp_path: Path, web_settings, origin: OriginServer):
    origin.add_page("robust.test", "/story", Page(body=b"<p>British troops are being targeted, says the story.</p>"))
    server = FakeInternetArchive([Capture("http://robust.test/story", "20070601000000",
                                          body=b"<p>British troops are being targeted, says the story.</p>")]).start()
    settings = dataclasses.replace(web_settings, **server.env(), archive_cdx_per_minute=0, archive_replay_per_second=0,
                                   canary_url="http://canary.test/ok", db=str(tmp_path / "db.sqlite"),
                                   reports_dir=str(tmp_path / "reports"), soft404_probe=False)
    yield settings
    server.stop()


def test_report_command_rebuilds_without_network_and_writes_robust_links(robust_web, tmp_path: Path) -> None:
    html_doc, md_doc = tmp_path / "linked.html", tmp_path / "notes.md"
    html_doc.write_text(LINKED_HTML)
    md_doc.write_text(LINKED_MD)
    run_documents([str(html_doc), str(md_doc)], robust_web, RunOptions(reports=False))
    out = tmp_path / "rebuilt"
    env = {"CITEWATCH_DB": robust_web.db, "CITEWATCH_CONNECT_TO": ":80:127.0.0.1:9"}  # no network needed
    result = CliRunner().invoke(cli, ["report", "--out", str(out), "--robust-links", "--format", "json,md"], env=env)
    assert result.exit_code == 0, result.output
    written = sorted(Path(line).relative_to(out).as_posix() for line in result.output.split())
    assert written == ["index.json", "index.md",  # the index report lists both (since folders of documents)
                       "linked/report.json", "linked/report.md", "linked/robust.html",
                       "notes/report.json", "notes/report.md", "notes/robust.md"]
    robust_html = (out / "linked" / "robust.html").read_text()
    assert 'data-versiondate="2007-06-01"' in robust_html
    assert 'data-versionurl="' in robust_html and "20070601000000/http://robust.test/story" in robust_html
    robust_md = (out / "notes" / "robust.md").read_text()
    assert robust_md.count("([archived 2007-06-01](<") == 3  # inline link, autolink, bare URL
    assert "[ref]: http://robust.test/story\n" in robust_md  # a reference definition stays as it is
    jsonschema.validate(json.loads((out / "notes" / "report.json").read_text()), SCHEMA)
    one = tmp_path / "one-only"  # a new folder: its index lists only the report written there
    result = CliRunner().invoke(cli, ["report", "--out", str(one), "--document", str(md_doc), "--format", "json"],
                                env=env)
    assert result.exit_code == 0, result.output
    index = json.loads((one / "index.json").read_text())
    assert [entry["report"] for entry in index["documents"]] == ["notes/report.html"]
    assert all((one / entry["report"]).parent.is_dir() for entry in index["documents"])


def test_report_command_without_database_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "--db", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 2 and "no such database" in result.output


def test_report_files_honour_the_umask(tmp_path: Path) -> None:
    from pipeline.report import write_file
    old = os.umask(0o022)
    try:
        path = Path(write_file(tmp_path / "r" / "report.html", "<p>x</p>"))
        assert oct(path.stat().st_mode & 0o777) == oct(0o644)
        assert oct((tmp_path / "r").stat().st_mode & 0o777) == oct(0o755)
    finally:
        os.umask(old)


def test_dates_read_as_dates_with_the_archive_timestamp_kept_in_a_tooltip(sample_data: dict) -> None:
    import re
    page = html.render(sample_data)
    shown = re.findall(r'<time title="(\d{14})">([^<]+)</time>', page)
    assert shown and all(re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}", text) for _, text in shown)
    assert not re.search(r"archived copy (of |closest to the date \()\d{8}", page)  # no raw 20160601 in the text


def test_a_link_class_reads_in_words_of_its_own_not_a_verdicts(sample_data: dict) -> None:
    from pipeline.model import LinkStatus
    from pipeline.report.html_format import LINK_WORDS
    assert set(LINK_WORDS) == {status.value for status in LinkStatus}  # every class has its words
    page = html.render(sample_data)
    assert "page gone (404)" in page and ">not_found (404)" not in page


def test_a_citation_without_a_date_of_its_own_shows_the_documents(sample_data: dict) -> None:
    data = copy.deepcopy(sample_data)
    data["document"]["date"] = "2016-12-09"
    data["citations"][0]["date"] = None
    page = html.render(data)
    assert "Dated 2016-12-09 (the document&#39;s date" in page or "Dated 2016-12-09 (the document's date" in page


def test_a_verified_passage_is_one_line_and_a_misquote_reads_as_one(sample_data: dict) -> None:
    """Before: every verified passage repeated "100% found word for word — every word found in
    the archived copy." and a line of its own for the kept bytes (the sample's report: 259 KB);
    a misquote read "0% found word for word, 94.6% alike"."""
    html_text = html.render(sample_data)
    verdicts = [p["verdict"] for c in sample_data["citations"] for p in c["passages"]]
    assert verdicts.count("verified") > 10
    assert "every word found in the archived copy" not in html_text and "100% found word for word" not in html_text
    assert html_text.count("Judged on the bytes") == sum(
        1 for c in sample_data["citations"] for p in c["passages"]
        if p["evidence"] and (p["verdict"] not in ("verified", "verified_live") or p["differences"]))
    assert "0% found word for word, " not in html_text
    misquoted = [p for c in sample_data["citations"] for p in c["passages"] if p["verdict"] == "misquoted"]
    assert all(f"{p['similarity']}% alike, not the same words" in html_text for p in misquoted if p["similarity"] is not None)


def test_the_markdown_report_leads_with_what_needs_a_look(sample_data: dict) -> None:
    """The Markdown report had no such section (the HTML one only)."""
    text = markdown.render(sample_data)
    section = text.split("## Needs a look\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    wanted = [c for c in sample_data["citations"]
              if c["verdict"] not in ("verified", "verified_live") or any(s["failing_since"] for s in c["sources"])]
    assert len(section) == len(wanted) > 0
    assert text.index("## Needs a look") < text.index("## Citation 1")
    assert any("source failing since" in line for line in section)
    assert all(re.match(r"- \[Citation \d+\]\(#citation-\d+\) \(line \d+\): \S", line) for line in section)
