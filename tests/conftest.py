"""Fixtures of the offline test web, and a net that fails any test reaching past loopback."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from pipeline.config import Settings
from pipeline.jobs import run_documents
from tests.postgres import Cluster, PostgresMissing
from tests.testweb import sample_web
from tests.testweb.archive import Capture, PywbArchive
from tests.testweb.origin import OriginServer

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = Path(__file__).parent.parent / "data" / "000_7d4670f58732b56e.txt"

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    """No test touches the internet: a connection anywhere but loopback fails loudly."""
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise OSError(f"test tried to reach {address!r}, outside loopback")
    return _real_connect(self, address)


# Fixtures that start pywb (a process and its index) or read a whole corpus: a test that
# uses one is `slow`.
SLOW_FIXTURES = frozenset({"archive", "archive_settings", "sample_run", "quote_archive", "web", "wice_verdicts"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True, scope="session")
def _no_internet() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _loopback_only)
        yield


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster per test worker. Where PostgreSQL is not installed the
    tests that need it are skipped, loudly; in CI (CI set) they fail instead, never skip."""
    try:
        cluster = Cluster()
    except PostgresMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL IS NOT INSTALLED, its tests are skipped: {exc}")
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database: a SQLite file, then a PostgreSQL database (the store's tests
    run on both)."""
    if request.param == "sqlite":
        return str(tmp_path / "db.sqlite")
    return request.getfixturevalue("postgres_cluster").fresh_database()


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "test-ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def origin(test_ca: trustme.CA) -> Iterator[OriginServer]:
    server = OriginServer(test_ca).start()
    yield server
    server.stop()


@pytest.fixture
def web_settings(origin: OriginServer, ca_file: Path) -> Settings:
    """Settings that send every host's ports 80 and 443 to the origin server, trusting
    the test CA; the guard stays on (loopback is reached only through connect_to)."""
    return Settings(connect_to=origin.connect_to(), ca_bundle=str(ca_file), request_deadline=10.0)


@pytest.fixture
def plain_settings(web_settings: Settings, tmp_path: Path) -> Settings:
    """What most run and check tests want: no soft-404 probe (its requests are not what they
    count), a canary that answers, quick tries again, a database and reports of their own, and
    an archive that refuses at once (tests that want one give it)."""
    return dataclasses.replace(web_settings, soft404_probe=False, canary_url="http://canary.test/ok", check_backoff=0.01,
                               db=str(tmp_path / "db.sqlite"), reports_dir=str(tmp_path / "reports"),
                               wayback_cdx_url="http://127.0.0.1:9/cdx", wayback_replay_url="http://127.0.0.1:9/web/")


ARCHIVED = "http://archived.test/article"

DEFAULT_CAPTURES = [
    Capture(ARCHIVED, "20100101000000", body=b"<html><body><p>version 2010</p></body></html>"),
    Capture(ARCHIVED, "20150601000000", body=b"<html><body><p>version 2015</p></body></html>"),
    Capture(ARCHIVED, "20200101000000", body=b"<html><body><p>version 2020</p></body></html>"),
    Capture("http://archived.test/gone", "20120101000000", status=404, body=b"not here"),
    Capture("http://archived.test/old", "20110101000000", status=301, location=ARCHIVED),
    Capture("http://archived.test/story?id=1", "20130101000000", body=b"<p>story one</p>"),  # fuzzy bait
    Capture("http://archived.test/section/", "20140101000000", body=b"<p>a section</p>"),  # slash variant
]


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PywbArchive]:
    server = PywbArchive(tmp_path_factory.mktemp("pywb"), DEFAULT_CAPTURES).start()
    yield server
    server.stop()


@pytest.fixture
def archive_settings(archive: PywbArchive, web_settings: Settings) -> Settings:
    """The test web's settings pointed at the pywb archive, limiters off."""
    return dataclasses.replace(
        web_settings,
        wayback_cdx_url=archive.cdx_url,
        wayback_replay_url=archive.replay_url,
        wayback_dialect="pywb",
        archive_cdx_per_minute=0,
        archive_replay_per_second=0,
        archive_save_per_minute=0,
    )


@pytest.fixture(scope="session")
def sample_run(origin: OriginServer, ca_file: Path, tmp_path_factory: pytest.TempPathFactory):
    """The whole job run once on the sample document, its 46 URLs played on the test web."""
    web = sample_web.build(str(SAMPLE), origin)
    archive = PywbArchive(tmp_path_factory.mktemp("sample-archive"), web.captures).start()
    work = tmp_path_factory.mktemp("sample-run")
    settings = Settings(
        connect_to=origin.connect_to(*web.hosts) + origin.connect_to(), ca_bundle=str(ca_file),
        wayback_cdx_url=archive.cdx_url, wayback_replay_url=archive.replay_url, wayback_dialect="pywb",
        archive_cdx_per_minute=0, archive_replay_per_second=0, canary_url="http://canary.test/ok",
        check_retries=0, read_timeout=1.0, request_deadline=5, db=str(work / "db.sqlite"),
        reports_dir=str(work / "reports"),
    )
    try:
        summary = run_documents([str(SAMPLE)], settings)
        yield web, settings, summary
    finally:
        archive.stop()
