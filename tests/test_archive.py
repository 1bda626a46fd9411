"""The archive client against pywb (dialect pywb) and a loopback server in the Internet
Archive's formats (dialect ia): choice of snapshot, variants, limits, breaker, saving."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from pipeline.archive.choose import into_archive, preference
from pipeline.archive.client import ArchiveClient
from pipeline.archive.model import ArchiveState, Capture
from pipeline.config import Settings
from pipeline.http import Pacer
from pipeline.times import date_to_timestamp, memento_timestamp
from tests.conftest import ARCHIVED
from tests.testweb import archive as testarchive
from tests.testweb.fake_ia import FakeInternetArchive
from tests.testweb.origin import OriginServer

# --- against pywb ---------------------------------------------------------------------


def test_closest_after_the_date_within_the_window(archive_settings: Settings) -> None:
    lookup = ArchiveClient(archive_settings).lookup(ARCHIVED, "2015-03-01")
    assert lookup.state is ArchiveState.FOUND
    assert lookup.closest.timestamp == "20150601000000"
    assert lookup.closest.raw_url == f"{archive_settings.wayback_replay_url}20150601000000id_/{ARCHIVED}"
    assert lookup.closest.replay_url == f"{archive_settings.wayback_replay_url}20150601000000/{ARCHIVED}"


def test_falls_back_to_closest_before_when_after_is_beyond_the_window(archive_settings: Settings) -> None:
    lookup = ArchiveClient(archive_settings).lookup(ARCHIVED, "2016-01-01")
    assert lookup.closest.timestamp == "20150601000000"  # 2020 is more than 365 days after


def test_first_last_count_and_digests(archive_settings: Settings) -> None:
    lookup = ArchiveClient(archive_settings).lookup(ARCHIVED, "2012")
    assert (lookup.first.timestamp, lookup.last.timestamp) == ("20100101000000", "20200101000000")
    assert (lookup.captures, lookup.digests) == (3, 3)


def test_a_404_capture_is_never_the_closest(archive_settings: Settings) -> None:
    lookup = ArchiveClient(archive_settings).lookup("http://archived.test/gone", "2012-01-01")
    assert lookup.state is ArchiveState.NONE and lookup.closest is None
    assert lookup.first.status == 404 and lookup.captures == 1


def test_a_redirect_capture_is_followed_inside_the_archive(archive_settings: Settings) -> None:
    client = ArchiveClient(archive_settings)
    lookup = client.lookup("http://archived.test/old", "2011-01-01")
    assert lookup.state is ArchiveState.FOUND and lookup.closest.status == 301
    evidence = client.evidence("http://archived.test/old", "2011-01-01")
    assert evidence is not None and evidence.status == 200
    assert evidence.final_url == ARCHIVED and b"version 2010" in evidence.body


def test_no_capture_and_fuzzy_only_are_none(archive_settings: Settings) -> None:
    client = ArchiveClient(archive_settings)
    assert client.lookup("http://never.test/page").state is ArchiveState.NONE
    fuzzy = client.lookup("http://archived.test/story?id=2")
    assert fuzzy.state is ArchiveState.NONE and fuzzy.captures == 0


def test_pywb_keys_a_trailing_slash_alike_so_no_variant_is_needed(archive_settings: Settings) -> None:
    client = ArchiveClient(archive_settings)
    lookup = client.lookup("http://archived.test/section")
    assert lookup.state is ArchiveState.FOUND and lookup.queried_url == "http://archived.test/section"
    assert client.requests_made == 1


def test_evidence_is_the_raw_capture_with_memento_datetime(archive_settings: Settings) -> None:
    evidence = ArchiveClient(archive_settings).evidence(ARCHIVED, "2015-03-01")
    assert evidence.body == b"<html><body><p>version 2015</p></body></html>"
    assert evidence.snapshot.timestamp == "20150601000000"


def test_timegate_mode_finds_the_closest_memento_without_cdx(archive_settings: Settings) -> None:
    client = ArchiveClient(dataclasses.replace(archive_settings, archive_mode="timegate"))
    lookup = client.lookup(ARCHIVED, "2016-01-01")
    assert lookup.via == "timegate" and lookup.closest.timestamp == "20150601000000"
    assert client.requests_made == 1


def test_archive_down_is_unavailable_not_none(archive_settings: Settings) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = dataclasses.replace(archive_settings, wayback_cdx_url=f"http://127.0.0.1:{port}/cdx",
                               wayback_replay_url=f"http://127.0.0.1:{port}/", archive_breaker_failures=2)
    client = ArchiveClient(down)
    results = [client.lookup(f"http://a.test/{n}") for n in range(4)]
    assert {r.state for r in results} == {ArchiveState.UNAVAILABLE}
    assert "unreachable" in results[0].reason
    assert "not asking again" in results[3].reason
    assert client.requests_made == 2  # the breaker opened after two failures


# --- against the Internet Archive's formats -------------------------------------------

IA_CAPTURES = [
    testarchive.Capture("http://news.test/story", "20090101000000", body=b"<p>first</p>"),
    testarchive.Capture("http://news.test/story", "20120601000000", body=b"<p>second</p>"),
    testarchive.Capture("http://news.test/story", "20180101000000", body=b"<p>third</p>"),
    testarchive.Capture("http://news.test/gone", "20150101000000", status=404, body=b"gone"),
]


@pytest.fixture
def fake_ia() -> Iterator[FakeInternetArchive]:
    server = FakeInternetArchive(IA_CAPTURES).start()
    yield server
    server.stop()


@pytest.fixture
def ia_settings(fake_ia: FakeInternetArchive) -> Settings:
    return Settings(**fake_ia.env(), archive_cdx_per_minute=0, archive_replay_per_second=0,
                    archive_save_per_minute=0, archive_pause_on_429=0.5, archive_retries=2,
                    ia_access_key="access", ia_secret_key="secret", save_timeout=10)


def test_ia_dialect_reads_seven_field_lines_and_asks_for_them(ia_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    lookup = ArchiveClient(ia_settings).lookup("http://news.test/story", "2012-01-01")
    assert lookup.closest.timestamp == "20120601000000" and lookup.captures == 3
    asked = [path for _, path in fake_ia.requests if path.startswith("/cdx")]
    assert len(asked) == 1 and "fl=urlkey,timestamp,original,mimetype,statuscode,digest,length" in asked[0]
    assert "allowFuzzy" not in asked[0]


def test_one_cdx_request_per_url_because_the_archive_folds_its_variants(ia_settings: Settings,
                                                                        fake_ia: FakeInternetArchive) -> None:
    # Before, a URL with no capture of its own asked for its scheme, www. and slash variants
    # (4 requests): the Internet Archive keys captures by SURT, which folds them already.
    client = ArchiveClient(ia_settings)
    for url in ("http://news.test/story", "https://news.test/story", "https://www.news.test/story/"):
        found = client.lookup(url)
        assert found.state is ArchiveState.FOUND and found.captures == 3, url
    assert client.lookup("http://news.test/never").state is ArchiveState.NONE
    assert fake_ia.count("/cdx") == 4  # one a URL, captured or not


def test_one_query_per_url_and_none_within_the_cache(ia_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    client = ArchiveClient(ia_settings)
    client.lookup("http://news.test/story", "2012-01-01")
    again = client.lookup("http://news.test/story", "2018-01-01")
    assert again.via == "cache" and again.closest.timestamp == "20180101000000"
    assert fake_ia.count("/cdx") == 1


@pytest.mark.slow
def test_429_pauses_the_class_then_succeeds(ia_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    fake_ia.controls.rate_limit = 1
    client = ArchiveClient(ia_settings)
    started = time.monotonic()
    lookup = client.lookup("http://news.test/story")
    second = client.lookup("http://news.test/gone")
    assert lookup.state is ArchiveState.FOUND and second.state is ArchiveState.NONE
    assert fake_ia.count("/cdx") == 3  # the 429, its retry, the second URL
    assert time.monotonic() - started >= 0.5


@pytest.mark.slow
def test_429_without_end_is_unavailable(ia_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    fake_ia.controls.rate_limit = 100
    lookup = ArchiveClient(dataclasses.replace(ia_settings, archive_pause_on_429=0.05)).lookup("http://news.test/story")
    assert lookup.state is ArchiveState.UNAVAILABLE and "429" in lookup.reason
    assert fake_ia.count("/cdx") == 3  # one try and two retries, then it stops asking


def test_timegate_redirect_to_the_closest_memento(ia_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    client = ArchiveClient(dataclasses.replace(ia_settings, archive_mode="timegate"))
    lookup = client.lookup("http://news.test/story", "2017-06-01")
    assert lookup.via == "timegate" and lookup.closest.timestamp == "20180101000000"
    assert fake_ia.count("/cdx") == 0 and fake_ia.count("/web/") == 2  # the TimeGate, the memento


def test_timegate_mode_evidence_is_the_memento_it_read(ia_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    client = ArchiveClient(dataclasses.replace(ia_settings, archive_mode="timegate"))
    evidence = client.evidence("http://news.test/story", "2017-06-01")
    lookup = client.lookup("http://news.test/story", "2017-06-01")
    assert evidence.body == b"<p>third</p>" and lookup.closest.timestamp == "20180101000000"
    assert fake_ia.count("/cdx") == 0 and fake_ia.count("/web/") == 2


def test_timegate_falls_back_to_cdx_when_the_memento_is_not_a_200(ia_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    client = ArchiveClient(dataclasses.replace(ia_settings, archive_mode="timegate"))
    lookup = client.lookup("http://news.test/gone", "2015-01-01")
    assert lookup.via == "cdx" and lookup.state is ArchiveState.NONE and lookup.captures == 1


def test_evidence_tries_the_next_capture_when_the_archive_errors(ia_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    fake_ia.controls.fail_replay = {"20120601000000"}
    evidence = ArchiveClient(dataclasses.replace(ia_settings, archive_retries=0)).evidence("http://news.test/story", "2012-01-01")
    assert evidence.snapshot.timestamp == "20090101000000" and evidence.body == b"<p>first</p>"
    assert fake_ia.count("/cdx") == 1


def test_save_page_now_needs_keys(ia_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    result = ArchiveClient(dataclasses.replace(ia_settings, ia_access_key="")).save("http://news.test/new")
    assert result.state == "needs_keys" and "CITEWATCH_IA_ACCESS_KEY" in result.reason
    assert fake_ia.count("/save") == 0


@pytest.mark.slow
def test_save_page_now_posts_and_polls(ia_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    client = ArchiveClient(ia_settings)
    result = client.save("http://news.test/new")
    assert result.state == "saved" and result.timestamp and len(result.timestamp) == 14
    assert [m for m, p in fake_ia.requests if p == "/save"] == ["POST"]
    assert fake_ia.count("/save/status/") == 2  # pending, then success
    assert ArchiveClient(ia_settings).lookup("http://news.test/new").closest.timestamp == result.timestamp


# --- saving through pywb's record mode ------------------------------------------------


@pytest.fixture(scope="module")
def recording_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testarchive.PywbArchive]:
    server = testarchive.PywbArchive(tmp_path_factory.mktemp("record"), [], record=True).start()
    yield server
    server.stop()


def test_pywb_record_mode_saves_a_capture_that_a_lookup_then_finds(
    recording_archive: testarchive.PywbArchive, origin: OriginServer, archive_settings: Settings
) -> None:
    settings = dataclasses.replace(
        archive_settings,
        wayback_cdx_url=recording_archive.cdx_url,
        wayback_replay_url=recording_archive.replay_url,
        wayback_save_url=recording_archive.base + "record/",
    )
    page = origin.url("/page?saved=1")  # pywb fetches the origin on loopback itself
    assert ArchiveClient(settings).lookup(page).state is ArchiveState.NONE
    result = ArchiveClient(settings).save(page)
    assert result.state == "saved"
    deadline = time.monotonic() + 15
    lookup = None
    while time.monotonic() < deadline:
        lookup = ArchiveClient(settings).lookup(page)  # a fresh cache each time
        if lookup.state is ArchiveState.FOUND:
            break
        time.sleep(0.5)
    assert lookup is not None and lookup.state is ArchiveState.FOUND
    assert b"An article" in ArchiveClient(settings).evidence(page).body


# --- pure parts -----------------------------------------------------------------------


def cap(ts: str, status: int | None = 200) -> Capture:
    return Capture(ts, "http://x.test/", "text/html", status, "D" + ts, "1")


def test_preference_order() -> None:
    captures = [cap("20100101000000"), cap("20150601000000"), cap("20200101000000"), cap("20150701000000", 404),
                cap("20150801000000", 301), cap("20150901000000", None)]
    order = [c.timestamp for c in preference(captures, "2015-03-01", 365)]
    assert order == ["20150601000000", "20100101000000", "20200101000000", "20150801000000"]
    assert [c.timestamp for c in preference(captures, None, 365)][:2] == ["20200101000000", "20150601000000"]


def test_date_to_timestamp_keeps_precision_as_the_start_of_the_period() -> None:
    assert date_to_timestamp("2009") == "20090101000000"
    assert date_to_timestamp("2016-05") == "20160501000000"
    assert date_to_timestamp("2016-05-23") == "20160523000000"
    assert date_to_timestamp(None) is None


def test_archived_redirect_to_the_live_web_is_mapped_back_in() -> None:
    prefix = "http://arch.test/web/"
    assert into_archive("http://live.test/new", f"{prefix}2011id_/http://live.test/old", prefix, "20110101000000") == \
        f"{prefix}20110101000000id_/http://live.test/new"
    assert into_archive(f"{prefix}2012id_/http://x/", "whatever", prefix, "1") == f"{prefix}2012id_/http://x/"


def test_memento_timestamp() -> None:
    assert memento_timestamp("Mon, 01 Jun 2015 00:00:00 GMT") == "20150601000000"
    assert memento_timestamp(None) is None and memento_timestamp("nonsense") is None


def test_pacer_spaces_and_pauses() -> None:
    now = [0.0]
    limiter = Pacer.per(24, 60, clock=lambda: now[0])
    waits = [limiter.claim() for _ in range(3)]  # all asked at once: evenly spaced
    assert waits == [0.0, 2.5, 5.0]
    now[0] = 5.0
    limiter.pause(60)
    assert limiter.claim() == pytest.approx(60)


# --- the command ----------------------------------------------------------------------


def run_cli(args: list[str], env: dict[str, str]):
    import json as _json

    from click.testing import CliRunner

    from pipeline.cli import cli

    result = CliRunner().invoke(cli, args, env=env)
    try:
        document = _json.loads(result.stdout) if "--json" in args else None
    except ValueError:
        document = None
    return result, document


def pywb_env(archive_: testarchive.PywbArchive) -> dict[str, str]:
    return {**archive_.env(), "CITEWATCH_ARCHIVE_CDX_PER_MINUTE": "0", "CITEWATCH_ARCHIVE_REPLAY_PER_SECOND": "0"}


def test_cli_snapshots_json_contract(archive: testarchive.PywbArchive) -> None:
    result, document = run_cli(["snapshots", ARCHIVED, "--date", "2015-03-01", "--json"], pywb_env(archive))
    assert result.exit_code == 0
    assert document["url"] == ARCHIVED and document["state"] == "found" and document["captures"] == 3
    for key in ("closest", "first", "last"):
        assert set(document[key]) == {"timestamp", "status", "replay_url", "raw_url"}
    assert document["closest"]["timestamp"] == "20150601000000"


def test_cli_snapshots_none_is_exit_1_and_archive_down_exit_3(archive: testarchive.PywbArchive) -> None:
    none, _ = run_cli(["snapshots", "http://never.test/x"], pywb_env(archive))
    assert none.exit_code == 1 and "no usable capture" in none.output
    down_env = {**pywb_env(archive), "CITEWATCH_WAYBACK_CDX_URL": "http://127.0.0.1:9/cdx"}
    down, _ = run_cli(["snapshots", "http://never.test/x"], down_env)
    assert down.exit_code == 3 and "archive unavailable" in down.output


def test_cli_snapshots_of_what_is_no_web_address_is_exit_2() -> None:
    result, _ = run_cli(["snapshots", "not-a-url"], {"CITEWATCH_WAYBACK_CDX_URL": "http://127.0.0.1:9/"})
    assert result.exit_code == 2 and "no domain" in result.stderr


@pytest.mark.slow
def test_cli_archive_missing_saves_alive_and_never_dead(
    recording_archive: testarchive.PywbArchive, origin: OriginServer
) -> None:
    env = {**pywb_env(recording_archive), "CITEWATCH_WAYBACK_SAVE_URL": recording_archive.base + "record/",
           "CITEWATCH_ALLOW_PRIVATE": "1", "CITEWATCH_CANARY_URL": origin.url("/ok"), "CITEWATCH_SOFT404_PROBE": "0"}
    dead = origin.url("/status/404?never-saved")
    result, document = run_cli(["snapshots", dead, "--archive-missing", "--json"], env)
    assert result.exit_code == 1 and document["save"]["state"] == "not_saved"
    assert "not_found" in document["save"]["reason"]
    alive = origin.url("/ok?save-me")
    result, document = run_cli(["snapshots", alive, "--archive-missing", "--json"], env)
    assert result.exit_code == 0 and document["state"] == "none" and document["save"]["state"] == "saved"
    deadline = time.monotonic() + 30  # pywb indexes what it recorded every 2 s: wait until it has
    while True:
        found, document = run_cli(["snapshots", alive, "--json"], env)
        if document and document["state"] == "found" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert found.exit_code == 0 and document["state"] == "found"
    missing, document = run_cli(["snapshots", dead, "--json"], env)
    assert document["state"] == "none"  # the dead URL was never recorded


def test_cli_bad_url_is_usage_error() -> None:
    result, _ = run_cli(["snapshots", "ftp://files.test/x"], {})
    assert result.exit_code == 2 and "not an http(s) URL" in result.output


def test_cli_bad_date_is_usage_error() -> None:
    result, _ = run_cli(["snapshots", "http://a.test/", "--date", "2016-02-30"], {})
    assert result.exit_code == 2 and "is not a date" in result.output


def test_an_empty_window_is_widened_not_taken_for_no_capture(ia_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    client = ArchiveClient(dataclasses.replace(ia_settings, archive_window_days=30))
    lookup = client.lookup("http://news.test/story", "2014-06-01")  # captures in 2009, 2012 and 2018 only
    assert lookup.state is ArchiveState.FOUND and lookup.closest.timestamp == "20120601000000"
    asked = [path for _, path in fake_ia.requests if path.startswith("/cdx")]
    assert len(asked) == 2 and "from=" in asked[0] and "from=" not in asked[1]
    windowed = client.lookup("http://news.test/story", "2012-06-15")  # the window holds one: no widening
    assert windowed.closest.timestamp == "20120601000000" and fake_ia.count("/cdx") == 3


@pytest.mark.slow
def test_verbose_says_what_an_archive_request_waits_for(ia_settings: Settings, caplog) -> None:
    """-v says what a stage is waiting for: here the archive's CDX pace."""
    import logging

    settings = dataclasses.replace(ia_settings, archive_cdx_per_minute=30)  # one every 2 s
    client = ArchiveClient(settings)
    with caplog.at_level(logging.INFO, logger="pipeline.http"):
        for n in range(2):
            client.lookup(f"http://paced.test/{n}")
    assert any(r.getMessage().startswith("waiting 2 s for the pace of") and "CDX searches (30 a minute)"
               in r.getMessage() for r in caplog.records)
