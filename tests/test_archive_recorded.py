"""The archive client against answers the real Internet Archive sent (tests/testweb/recorded_ia.py):
an excluded site, archived error pages, repeated and revisit rows, answers cut and resumed,
archived redirects in every form the Wayback Machine writes them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from pipeline.archive.client import ArchiveClient
from pipeline.archive.model import ArchiveState, Excluded
from pipeline.archive.policy import Endpoint
from pipeline.cli import cli
from pipeline.config import Settings
from tests.testweb.recorded_ia import RecordedArchive


def archive(*cassettes: str) -> Iterator[RecordedArchive]:
    server = RecordedArchive(*cassettes).start()
    yield server
    assert server.unmatched == [], "a request the real archive was never asked"
    server.stop()


@pytest.fixture
def blocked() -> Iterator[RecordedArchive]:
    yield from archive("test_search_raises_for_blocked_urls", "test_get_memento_raises_blocked_error")


def test_an_excluded_site_is_excluded_not_unavailable_and_spares_the_breaker(blocked: RecordedArchive) -> None:
    """Before: the CDX 403 was taken for the archive failing: archive_unavailable, exit 3,
    and a breaker failure, so a few excluded URLs stopped every other lookup of the run."""
    client = ArchiveClient(Settings(**blocked.settings(), archive_breaker_failures=1))
    lookup = client.lookup("https://nationalpost.com/health", "2019-10-01")
    assert lookup.state is ArchiveState.EXCLUDED and "excludes this URL" in lookup.reason
    assert client.policy.breaker.failures == 0 and not client.policy.breaker.open
    again = client.lookup("https://nationalpost.com/health", "2019-10-01")
    assert again.state is ArchiveState.EXCLUDED and blocked.count("/cdx") == 2  # the breaker never opened


def test_the_excluded_replay_page_is_not_a_memento(blocked: RecordedArchive) -> None:
    client = ArchiveClient(Settings(**blocked.settings()))
    assert client.reader.read(f"{blocked.base}/web/20170929002712id_/https://nationalpost.com/health/") is None


def test_snapshots_says_excluded_and_exits_1(blocked: RecordedArchive) -> None:
    env = {f"CITEWATCH_{k.upper()}": str(v) for k, v in blocked.settings().items()}
    result = CliRunner().invoke(cli, ["snapshots", "https://nationalpost.com/health", "--date", "2019-10-01"], env=env)
    assert result.exit_code == 1 and "excluded by the archive" in result.output


@pytest.fixture
def rate_limited_page() -> Iterator[RecordedArchive]:
    yield from archive("test_get_memento_works_on_archived_rate_limit_responses")


def test_an_archived_429_page_is_read_once_without_a_pause(rate_limited_page: RecordedArchive) -> None:
    """Before: reddit's 429 page, as captured in 2015, was taken for the archive rate
    limiting us: a 60 s pause of every replay, two retries, breaker failures."""
    client = ArchiveClient(Settings(**rate_limited_page.settings(), archive_pause_on_429=60))
    url = f"{rate_limited_page.base}/web/20150129034904id_/http://www.reddit.com/r/PokemonGiveaway"
    evidence = client.reader.read(url)
    assert evidence is not None and evidence.status == 429 and evidence.snapshot.timestamp == "20150129034904"
    assert b"Too Many Requests" in evidence.body
    assert rate_limited_page.count("/web/") == 1 and client.policy.breaker.failures == 0
    limiter = client.policy.limiters[Endpoint.REPLAY]
    assert limiter._next <= time.monotonic() + 1  # no pause was set


@pytest.fixture
def busy() -> Iterator[RecordedArchive]:
    yield from archive("test_search_multipage", "test_search_does_not_repeat_results")


def test_an_answer_cut_at_its_limit_is_resumed_and_repeated_rows_counted_once(busy: RecordedArchive) -> None:
    """cnn.com in April 2001: 14 answers of 25 rows, each ending in a resume key, with rows
    the archive repeats."""
    client = ArchiveClient(Settings(**busy.settings(), archive_window_days=0))
    captures, _, _ = client.captures("cnn.com", "2001-05-01")
    timestamps = [c.timestamp for c in captures]
    assert busy.count("/cdx") == 15  # the first answer and 14 resumptions (the last one empty)
    assert len(timestamps) == len(set(timestamps)) and len(timestamps) > 25
    lookup = client.lookup("cnn.com", "2001-05-01")
    assert lookup.closest.timestamp[:8] >= "20010501" and lookup.captures == len(captures)
    assert busy.count("/cdx") == 15  # the second lookup was the cache's


def test_revisits_take_the_status_of_the_capture_they_repeat(busy: RecordedArchive) -> None:
    """energystar.gov on 12 June 2020: half the rows are `warc/revisit` with status "-"."""
    client = ArchiveClient(Settings(**busy.settings()))
    captures, _, _ = client.captures("energystar.gov/", "2020-06-12")
    revisits = [c for c in captures if c.mimetype == "text/html" and c.original == "https://www.energystar.gov/"
                and c.timestamp in ("20200612014014", "20200612061552", "20200612101422")]
    assert [c.status for c in revisits] == [200, 200, 200]
    lookup = client.lookup("energystar.gov/", "2020-06-12")
    assert lookup.closest.timestamp == "20200612014014"  # the first 200 of the day: a revisit, resolved


@pytest.fixture
def redirects() -> Iterator[RecordedArchive]:
    yield from archive("test_get_memento_with_schemeless_redirects", "test_get_memento_with_path_based_redirects",
                       "test_get_memento_follows_historical_redirects")


@pytest.mark.parametrize(
    ("start", "final", "status", "reads"),
    [
        # Location "//web.archive.org/web/…", then a TimeGate hop to another timestamp
        ("20201102232816id_/https://www.census.gov/geography/gss-initiative.html",
         "https://www.census.gov/geo/gssi/", 404, 3),
        # Location "/web/…", then a TimeGate hop
        ("20201027215555id_/https://www.whitehouse.gov/administration/eop/ostp/about/student/faqs",
         "https://www.whitehouse.gov/ostp/about/student/faqs", 404, 3),
        # a TimeGate hop that changes the scheme and host, an archived 301, another TimeGate hop
        ("20200201020357id_/http://epa.gov/climatechange",
         "https://www.epa.gov/sites/production/files/signpost/cc.html", 200, 4),
    ],
    ids=["schemeless", "path-based", "historical"],
)
def test_archived_redirects_are_followed_inside_the_archive(redirects: RecordedArchive, start: str, final: str,
                                                             status: int, reads: int) -> None:
    client = ArchiveClient(Settings(**redirects.settings()))
    evidence = client.reader.read(f"{redirects.base}/web/{start}")
    assert evidence is not None and evidence.final_url == final and evidence.status == status
    assert evidence.snapshot.raw_url.startswith(redirects.base)  # never out of the archive
    assert redirects.count("/web/") == reads  # one read a hop, each hop inside the archive


def test_a_404_memento_at_the_end_of_a_redirect_is_never_evidence(redirects: RecordedArchive) -> None:
    client = ArchiveClient(Settings(**redirects.settings()))
    evidence = client.reader.read(
        f"{redirects.base}/web/20201102232816id_/https://www.census.gov/geography/gss-initiative.html")
    assert evidence.status == 404  # read, and then refused as evidence by its status (client.evidence)


def test_excluded_is_its_own_exception_for_whoever_asks_the_index(blocked: RecordedArchive) -> None:
    client = ArchiveClient(Settings(**blocked.settings()))
    with pytest.raises(Excluded):
        client.index.captures("https://nationalpost.com/health", "20191001000000", "20191002000000")
