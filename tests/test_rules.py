"""The rules people bring from other link checkers: .citewatchignore and --exclude, --accept
status ranges (globally and per domain), --include-fragments."""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from pipeline import text
from pipeline.cli import cli
from pipeline.config import Settings
from pipeline.linkstate import LinkState, link_state
from pipeline.liveness import check_urls
from pipeline.model import LinkStatus
from pipeline.rules import parse_accept, url_pattern
from tests.testweb.origin import OriginServer, Page


def test_accept_ranges_as_lychee_writes_them() -> None:
    assert parse_accept("200..=204,403") == frozenset({200, 201, 202, 203, 204, 403})
    assert parse_accept("200..204") == frozenset({200, 201, 202, 203})
    for bad in ("2xx", "300..=200", "99"):
        with pytest.raises(ValueError):
            parse_accept(bad)


def test_a_pattern_is_a_glob_or_a_regex() -> None:
    assert url_pattern("https://*.twitter.com/*").search("https://mobile.twitter.com/x/status/1")
    assert not url_pattern("https://*.twitter.com/*").search("https://twitter.example/")
    assert url_pattern(r"^https?://(www\.)?example\.com/private").search("https://www.example.com/private/1")


def test_ignore_file_and_exclude_skip_urls_with_the_reason(tmp_path: Path, monkeypatch, web_settings: Settings,
                                                           origin: OriginServer) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".citewatchignore").write_text("# social media walls\nhttps://twitter.test/*\n\n")
    settings = dataclasses.replace(web_settings, exclude=(r"internal\.test",), soft404_probe=False)
    origin.reset_counts()
    checks = check_urls(["https://twitter.test/x/status/1", "http://internal.test/ok", "http://kept.test/ok"], settings)
    assert [c.status for c in checks] == [LinkStatus.SKIPPED, LinkStatus.SKIPPED, LinkStatus.OK]
    assert ".citewatchignore line 2" in checks[0].reason and "--exclude" in checks[1].reason
    assert origin.requests_for(host="twitter.test") == [] and origin.requests_for(host="internal.test") == []


def test_accept_makes_a_status_alive_globally_or_for_one_domain(plain_settings: Settings, origin: OriginServer) -> None:
    settings = dataclasses.replace(plain_settings, accept="200..=299,403",
                                   domains={"picky.test": {"accept": "418"}})
    checks = check_urls(["http://any.test/status/403", "http://any.test/status/418", "http://picky.test/status/418"],
                        settings)
    assert [c.status for c in checks] == [LinkStatus.OK, LinkStatus.NOT_FOUND, LinkStatus.OK]


def test_include_fragments_checks_ids_and_anchor_names(web_settings: Settings, origin: OriginServer) -> None:
    origin.add_page("frag.test", "/doc", Page(body=b'<html><body><h2 id="intro">Intro</h2><a name="old">x</a></body></html>'))
    result = CliRunner().invoke(cli, [
        "check", "--json", "--include-fragments", "--no-probe", "http://frag.test/doc#intro", "http://frag.test/doc#old",
        "http://frag.test/doc#missing", "http://frag.test/doc#:~:text=Intro"],
        env={"CITEWATCH_CONNECT_TO": ",".join(web_settings.connect_to)})
    statuses = [c["status"] for c in json.loads(result.stdout)]
    assert statuses == ["ok", "ok", "fragment_not_found", "ok"] and result.exit_code == 1
    assert len(origin.requests_for(host="frag.test")) == 1  # one page, every fragment looked up in it


def test_bad_rules_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(cli, ["settings"], env={"CITEWATCH_ACCEPT": "2xx"})
    assert result.exit_code == 2 and "is not a status or a range" in result.output
    result = CliRunner().invoke(cli, ["settings"], env={"CITEWATCH_EXCLUDE": "(unclosed"})
    assert result.exit_code == 2 and "is not a regular expression" in result.output
    (tmp_path / ".citewatchignore").write_text("# fine\n(unclosed\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "http://any.test/ok"])
    assert result.exit_code == 2 and ".citewatchignore line 2: '(unclosed' is not a regular expression" in result.output


def test_a_missing_fragment_never_makes_a_page_dead() -> None:
    history = [(f"2026-01-0{day}T00:00:00Z", LinkStatus.FRAGMENT_NOT_FOUND, True) for day in (9, 5, 1)]
    assert link_state(history) == LinkState.ALIVE
    history = [("2026-01-09T00:00:00Z", LinkStatus.NOT_FOUND, True), ("2026-01-05T00:00:00Z", LinkStatus.NOT_FOUND, True),
               ("2026-01-03T00:00:00Z", LinkStatus.FRAGMENT_NOT_FOUND, True),
               ("2026-01-01T00:00:00Z", LinkStatus.NOT_FOUND, True)]
    assert link_state(history) == LinkState.UNCERTAIN  # the streak of failures stops at the page that answered


def _inside_a_script(markup: str, anchor: str) -> bool:
    """Every `id="anchor"` of the raw page stands between a `<script` and its `</script>`."""
    places = [m.start() for m in re.finditer(f'id=["\']{re.escape(anchor)}["\']', markup)]
    return bool(places) and all(markup.rfind("<script", 0, at) > markup.rfind("</script", 0, at) for at in places)


@pytest.mark.slow
def test_fragments_on_real_pages_are_their_ids_and_anchor_names() -> None:
    """46 real article pages (tests/realpages): the anchors found are those an independent
    parser (Python's html.parser, through BeautifulSoup) finds, except ids that stand only
    inside a script's text, which that parser takes for markup and a browser does not."""
    pages = sorted((Path(__file__).parent / "realpages" / "pages").glob("*.html.gz"))
    assert len(pages) == 46
    found = 0
    for page in pages:
        body = gzip.decompress(page.read_bytes())
        mine = text.anchors_of(body, "text/html")
        soup = BeautifulSoup(body, "html.parser")
        theirs = {t["id"] for t in soup.find_all(id=True)} | {t["name"] for t in soup.find_all("a", attrs={"name": True})}
        assert mine <= theirs, page.name
        assert all(_inside_a_script(body.decode("utf-8", "replace"), extra) for extra in theirs - mine), page.name
        found += len(mine)
    assert found > 3000  # pages full of anchors, not a vacuous comparison


def test_a_fragment_is_not_judged_on_part_of_a_page(plain_settings: Settings, origin: OriginServer) -> None:
    late = b"<html><body>" + b"<p>filler</p>" * 2000 + b'<h2 id="late">Late</h2></body></html>'
    origin.add_page("long.test", "/doc", Page(body=late))
    cut = dataclasses.replace(plain_settings, check_max_bytes=4096)
    check, = check_urls(["http://long.test/doc#late"], cut, fragments=True)
    assert check.status is LinkStatus.OK and "#late not looked up" in check.reason
    whole, = check_urls(["http://long.test/doc#late"], dataclasses.replace(cut, check_max_bytes=1_000_000),
                        fragments=True)
    assert whole.status is LinkStatus.OK and "not looked up" not in whole.reason
    headed, = check_urls(["http://long.test/doc#late"], dataclasses.replace(cut, check_method="head"), fragments=True)
    assert headed.status is LinkStatus.OK and "#late not looked up" in headed.reason
