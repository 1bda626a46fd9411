"""The test web answers as documented: every origin scenario, and pywb's CDX and raw replays.

These use the standard library's http.client, not citewatch's client, so that they prove
what the servers do independently of the code under test.
"""

from __future__ import annotations

import gzip
import http.client
import socket
import ssl
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import ARCHIVED
from tests.testweb.archive import PywbArchive
from tests.testweb.origin import PERSIAN, PERSIAN_1256, OriginServer


def ask(origin: OriginServer, path: str, *, method: str = "GET", host: str = "site.test",
        tls: bool = False, ca_file: Path | None = None, timeout: float = 10) -> tuple[http.client.HTTPResponse, bytes]:
    if tls:
        context = ssl.create_default_context(cafile=str(ca_file))
        conn = http.client.HTTPSConnection("127.0.0.1", origin.https_port, timeout=timeout, context=context)
        # the socket goes to loopback; SNI and the certificate check use the name
        sock = socket.create_connection(("127.0.0.1", origin.https_port), timeout=timeout)
        conn.sock = context.wrap_socket(sock, server_hostname=host)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", origin.http_port, timeout=timeout)
    conn.request(method, path, headers={"Host": host})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


@pytest.mark.parametrize(
    ("path", "status", "header", "value"),
    [
        ("/", 200, None, None),
        ("/ok", 200, None, None),
        ("/redirect/301/2", 301, "Location", "/redirect/301/1"),
        ("/redirect/302/1", 302, "Location", "/ok"),
        ("/redirect/307/1", 307, "Location", "/ok"),
        ("/redirect/308/1", 308, "Location", "/ok"),
        ("/loop/a", 302, "Location", "/loop/b"),
        ("/loop/b", 302, "Location", "/loop/a"),
        ("/moved-home", 301, "Location", "/"),
        ("/status/404", 404, None, None),
        ("/status/410", 410, None, None),
        ("/status/500", 500, None, None),
        ("/retry-after/503?after=7", 503, "Retry-After", "7"),
        ("/retry-after/429?after=3", 429, "Retry-After", "3"),
        ("/bot-wall", 403, "cf-mitigated", "challenge"),
        ("/pdf", 200, "Content-Type", "application/pdf"),
        ("/no/such/path", 404, None, None),
    ],
)
def test_scenario_status_and_headers(origin: OriginServer, path: str, status: int, header: str | None, value: str | None) -> None:
    response, _ = ask(origin, path)
    assert response.status == status
    if header:
        assert response.getheader(header) == value


def test_head_refused_but_get_served(origin: OriginServer) -> None:
    assert ask(origin, "/head-403", method="HEAD")[0].status == 403
    assert ask(origin, "/head-405", method="HEAD")[0].status == 405
    assert ask(origin, "/head-403")[0].status == 200
    assert ask(origin, "/head-405")[0].status == 200


def test_soft_404_is_a_200_that_says_not_found(origin: OriginServer) -> None:
    response, body = ask(origin, "/soft-404")
    assert response.status == 200 and b"could not be found" in body


def test_wild_path_answers_200_for_any_name(origin: OriginServer) -> None:
    first = ask(origin, "/wild/some-article")
    second = ask(origin, "/wild/qwertyuiopasdfghjklzxcvbn")
    assert first[0].status == second[0].status == 200 and first[1] == second[1]


def test_slow_first_byte(origin: OriginServer) -> None:
    started = time.monotonic()
    assert ask(origin, "/ok?delay=0.5")[0].status == 200
    assert time.monotonic() - started >= 0.5


def test_trickle_sends_bytes_slowly(origin: OriginServer) -> None:
    started = time.monotonic()
    response, body = ask(origin, "/trickle?seconds=0.5")
    assert body == b"xxxxx" and time.monotonic() - started >= 0.45


def test_huge_body_has_the_size_asked(origin: OriginServer) -> None:
    response, body = ask(origin, "/huge?mb=3")
    assert int(response.getheader("Content-Length")) == len(body) == 3 * 1024 * 1024


@pytest.mark.slow
def test_gzip_bomb_is_small_on_the_wire_and_huge_inflated(origin: OriginServer) -> None:
    response, body = ask(origin, "/gzip-bomb")
    assert response.getheader("Content-Encoding") == "gzip"
    assert len(body) < 1_000_000
    assert len(gzip.decompress(body)) == 200 * 1024 * 1024


def test_wrong_charset_header_and_windows_1256(origin: OriginServer) -> None:
    response, body = ask(origin, "/wrong-charset")
    assert "iso-8859-1" in response.getheader("Content-Type") and PERSIAN in body.decode("utf-8")
    response, body = ask(origin, "/windows-1256")
    assert body.decode("windows-1256").count(PERSIAN_1256) == 1
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_connection_reset(origin: OriginServer) -> None:
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        ask(origin, "/reset")


def test_https_certificate_for_any_name_from_the_test_ca(origin: OriginServer, ca_file: Path) -> None:
    response, body = ask(origin, "/ok", host="www.theguardian.com", tls=True, ca_file=ca_file)
    assert response.status == 200 and b"An article" in body


@pytest.mark.parametrize(("host", "error"), [("expired.test", "expired"), ("untrusted.test", "local issuer")])
def test_https_bad_certificates(origin: OriginServer, ca_file: Path, host: str, error: str) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match=error):
        ask(origin, "/ok", host=host, tls=True, ca_file=ca_file)


def test_pages_registered_per_host_and_requests_recorded(origin: OriginServer) -> None:
    from tests.testweb.origin import Page

    origin.add_page("pages-one.test", "/article", Page(body=b"first host"))
    assert ask(origin, "/article", host="pages-one.test")[1] == b"first host"
    assert ask(origin, "/article", host="pages-two.test")[0].status == 404
    assert [r.path for r in origin.requests_for(host="pages-one.test")] == ["/article"]


def test_flaky_fails_then_recovers(origin: OriginServer) -> None:
    statuses = [ask(origin, "/flaky/503?fail=2&after=0", host="flaky.test")[0].status for _ in range(3)]
    assert statuses == [503, 503, 200]


# --- the archive ----------------------------------------------------------------------

CDX_FIELDS = "urlkey,timestamp,url,mime,status,digest,length"


def cdx(archive: PywbArchive, url: str, **params: str) -> list[list[str]]:
    query = urllib.parse.urlencode({"url": url, "fl": CDX_FIELDS, "output": "text", "allowFuzzy": "false", **params})
    conn = http.client.HTTPConnection("127.0.0.1", archive.port, timeout=10)
    conn.request("GET", f"/test/cdx?{query}")
    body = conn.getresponse().read().decode()
    return [line.split(" ") for line in body.splitlines() if line]


def test_pywb_cdx_lists_the_captures_in_ia_seven_field_lines(archive: PywbArchive) -> None:
    rows = cdx(archive, ARCHIVED)
    assert [row[1] for row in rows] == ["20100101000000", "20150601000000", "20200101000000"]
    assert all(len(row) == 7 and row[2] == ARCHIVED and row[4] == "200" for row in rows)
    assert len({row[5] for row in rows}) == 3  # three different digests


def test_pywb_cdx_has_the_404_and_redirect_captures(archive: PywbArchive) -> None:
    assert cdx(archive, "http://archived.test/gone")[0][4] == "404"
    assert cdx(archive, "http://archived.test/old")[0][4] == "301"


def test_pywb_without_fuzzy_returns_nothing_for_an_unknown_url(archive: PywbArchive) -> None:
    assert cdx(archive, "http://archived.test/article?session=1") == []
    assert cdx(archive, "http://never.test/") == []


def test_pywb_raw_replay_is_the_capture_with_memento_headers(archive: PywbArchive) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", archive.port, timeout=10)
    conn.request("GET", f"/test/20150601000000id_/{ARCHIVED}")
    response = conn.getresponse()
    assert response.status == 200
    assert response.read() == b"<html><body><p>version 2015</p></body></html>"
    assert response.getheader("Memento-Datetime") == "Mon, 01 Jun 2015 00:00:00 GMT"
    assert 'rel="original"' in response.getheader("Link")


def test_pywb_archived_404_keeps_memento_datetime_unlike_not_archived(archive: PywbArchive) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", archive.port, timeout=10)
    conn.request("GET", "/test/20120101000000id_/http://archived.test/gone")
    archived_404 = conn.getresponse()
    archived_404.read()
    conn.request("GET", "/test/20120101000000id_/http://never.test/")
    missing = conn.getresponse()
    missing.read()
    assert archived_404.status == 404 and archived_404.getheader("Memento-Datetime")
    assert missing.status == 404 and missing.getheader("Memento-Datetime") is None


def test_pywb_archived_redirect_keeps_its_location(archive: PywbArchive) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", archive.port, timeout=10)
    conn.request("GET", "/test/20110101000000id_/http://archived.test/old")
    response = conn.getresponse()
    response.read()
    assert response.status == 301
    assert response.getheader("Location").endswith("archived.test/article")
