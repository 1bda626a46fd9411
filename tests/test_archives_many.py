"""Several archives on loopback: two pywb archives holding different captures and a Memento
archive known only by its TimeMap. The right archive's capture is chosen, the next archive is
asked only when the earlier ones have nothing near the date, and the report says where each
copy is."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from pipeline.archive.many import Archives
from pipeline.archive.model import ArchiveState
from pipeline.archive.policy import Endpoint
from pipeline.config import Settings
from pipeline.jobs import run_documents
from pipeline.summary import RunOptions
from tests.testweb.archive import Capture, PywbArchive
from tests.testweb.memento import MementoArchive
from tests.testweb.origin import OriginServer

pytestmark = pytest.mark.slow  # three archives, pywb among them

ROOT = Path(__file__).parent.parent
SCHEMA = json.loads((ROOT / "pipeline" / "report" / "report.schema.json").read_text())
QUOTE = "The council voted to reopen the border crossing on Monday."


def page(text: str) -> bytes:
    return f"<html><body><p>{text}</p></body></html>".encode()


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PywbArchive, PywbArchive, MementoArchive]]:
    first = PywbArchive(tmp_path_factory.mktemp("first"), [
        Capture("http://far.test/story", "20100101000000", body=page("An old version.")),  # years from the claim
        Capture("http://near.test/story", "20160601000000", body=page(QUOTE)),
    ]).start()
    second = PywbArchive(tmp_path_factory.mktemp("second"), [
        Capture("http://far.test/story", "20160520000000", body=page(QUOTE)),  # near the claim
        Capture("http://near.test/story", "20160602000000", body=page(QUOTE)),
    ]).start()
    third = MementoArchive([Capture("http://only.test/story", "20160515000000", body=page(QUOTE))]).start()
    yield first, second, third
    first.stop()
    second.stop()
    third.stop()


def archives_setting(three) -> list[dict[str, object]]:
    first, second, third = three
    return [
        {"name": "First", "kind": "pywb", "cdx_url": first.cdx_url, "replay_url": first.replay_url,
         "cdx_per_minute": 0, "replay_per_second": 0},
        {"name": "Second", "kind": "pywb", "cdx_url": second.cdx_url, "replay_url": second.replay_url,
         "cdx_per_minute": 0, "replay_per_second": 0},
        third.entry("Third"),
    ]


def test_the_next_archive_is_asked_only_when_the_earlier_have_nothing_near_the_date(three) -> None:
    archives = Archives(Settings(archives=archives_setting(three)))
    first, second, third = archives.clients
    near = archives.lookup("http://near.test/story", "2016-05-10")
    assert near.archive == "First" and near.closest.timestamp == "20160601000000"
    assert (first.policy.by_endpoint[Endpoint.CDX], second.requests_made, third.requests_made) == (1, 0, 0)
    far = archives.lookup("http://far.test/story", "2016-05-10")
    assert far.archive == "Second" and far.closest.timestamp == "20160520000000"  # not First's 2010 copy
    assert (first.policy.by_endpoint[Endpoint.CDX], second.policy.by_endpoint[Endpoint.CDX]) == (2, 1)
    assert third.requests_made == 0
    only = archives.lookup("http://only.test/story", "2016-05-10")
    assert only.archive == "Third" and only.state is ArchiveState.FOUND and only.closest.status is None
    assert only.closest.raw_url.endswith("/mem/20160515000000id_/http://only.test/story")
    evidence = archives.evidence("http://only.test/story", "2016-05-10")
    assert evidence is not None and evidence.status == 200 and QUOTE.encode() in evidence.body
    nowhere = archives.lookup("http://nowhere.test/", "2016-05-10")
    # each archive asked once a URL (Third: its TimeMap, and the memento read for "only")
    assert nowhere.state is ArchiveState.NONE and [c.requests_made for c in archives.clients] == [4, 3, 3]


def test_each_archive_keeps_its_own_limits(three) -> None:
    setting = archives_setting(three)
    setting[1] = {**setting[1], "cdx_per_minute": 6}  # one every 10 s at most
    archives = Archives(Settings(archives=setting))
    assert archives.clients[0].policy.limiters[Endpoint.CDX].interval == 0
    assert archives.clients[1].policy.limiters[Endpoint.CDX].interval == pytest.approx(10)


def test_a_run_across_archives_says_where_each_copy_is(three, origin: OriginServer, web_settings: Settings,
                                                       tmp_path: Path) -> None:
    document = tmp_path / "note.txt"
    document.write_text("Note\n\n" + "".join(f"http://{host}.test/story\n10 May 2016: {QUOTE}\n\n"
                                             for host in ("near", "far", "only")))
    settings = dataclasses.replace(
        web_settings, archives=archives_setting(three), db=str(tmp_path / "db.sqlite"),
        reports_dir=str(tmp_path / "reports"), canary_url="http://canary.test/ok", soft404_probe=False)
    three[2].requests.clear()
    summary = run_documents([str(document)], settings, RunOptions(fail_on="never"))
    report = json.loads(Path(summary.documents[0].reports[1]).read_text())
    jsonschema.validate(report, SCHEMA)
    where = {c["sources"][0]["url"]: (c["sources"][0]["archive"], c["verdict"]) for c in report["citations"]}
    assert where == {"http://near.test/story": ("First", "verified"), "http://far.test/story": ("Second", "verified"),
                     "http://only.test/story": ("Third", "verified")}
    html = Path(summary.documents[0].reports[0]).read_text()
    assert ">20 May 2016</time>, Second)" in html and ">15 May 2016</time>, Third)" in html
    assert three[2].count("/timemap/") == 1  # the Memento archive was asked for the one URL the others lack
