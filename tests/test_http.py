"""pipeline/http.py against the test web: the guard, caps, deadlines, redirects, TLS."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from pipeline import USER_AGENT
from pipeline.config import Settings
from pipeline.guard import AddressRefused, ConnectTo, Guard, forbidden_reason
from pipeline.http import BlockingFetcher, Fetcher, FetchError, Pacer, Response, fetch
from tests.testweb.origin import GZIP_BOMB_SIZE, OriginServer, Page

# --- pure parts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd00::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("100.64.0.1", "a non-public address"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_forbidden_reason_classifies_addresses(ip: str, reason: str | None) -> None:
    assert forbidden_reason(ip) == reason


def test_connect_to_parses_curl_syntax() -> None:
    assert ConnectTo.parse("a.test:80:127.0.0.1:8080") == ConnectTo("a.test", 80, "127.0.0.1", 8080)
    assert ConnectTo.parse("::[::1]:") == ConnectTo("", None, "::1", None)
    rule = ConnectTo.parse("*.test:443:127.0.0.1:9")
    assert rule.matches("www.a.test", 443) and not rule.matches("a.example", 443)
    assert not rule.matches("www.a.test", 80)
    with pytest.raises(ValueError):
        ConnectTo.parse("a.test:http:127.0.0.1:1")


def test_guard_refuses_a_name_that_resolves_to_loopback() -> None:
    with pytest.raises(AddressRefused, match=r"localhost resolves to 127\.0\.0\.1, a loopback address"):
        Guard().route("localhost", 80)


def test_guard_allows_private_when_told() -> None:
    assert ("127.0.0.1", 80) in Guard(allow_private=True).route("localhost", 80)


def test_guard_trusts_configured_endpoints_only() -> None:
    guard = Guard(trusted=[("localhost", 8080)])
    assert guard.route("localhost", 8080)
    with pytest.raises(AddressRefused):
        guard.route("localhost", 8081)


# --- the client on the test web -------------------------------------------------------


class Client:
    """One fetch at a time through `fetch()`, as a script or a single re-check would."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def fetch(self, url: str, **kwargs) -> Response:
        return fetch(self.settings, url, **kwargs)


@pytest.fixture
def client(web_settings: Settings) -> Client:
    return Client(web_settings)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
     "http://localhost/", "http://0.0.0.0/"],
)
def test_guard_refuses_private_destinations_before_connecting(client: Client, url: str, origin: OriginServer) -> None:
    before = len(origin.requests)
    with pytest.raises(FetchError) as err:
        client.fetch(url)
    assert err.value.kind == "refused"
    assert "CITEWATCH_ALLOW_PRIVATE" in err.value.reason
    assert len(origin.requests) == before


def test_guard_refuses_a_redirect_from_an_allowed_host_to_a_private_one(client: Client, origin: OriginServer) -> None:
    with pytest.raises(FetchError) as err:
        client.fetch("http://allowed.test/redirect-to?url=http://10.0.0.1/admin")
    assert err.value.kind == "refused"
    assert "10.0.0.1 is a private address" in err.value.reason
    assert [hop.location for hop in err.value.hops] == ["http://10.0.0.1/admin"]


def test_guard_refuses_redirect_to_loopback_port_of_the_origin(client: Client, origin: OriginServer) -> None:
    origin.reset_counts()  # what other tests asked of 127.0.0.1 before this one is not this test's
    target = origin.url("/ok")  # a real server on loopback: still refused
    with pytest.raises(FetchError) as err:
        client.fetch(f"http://allowed.test/redirect-to?url={target}")
    assert err.value.kind == "refused"
    assert not origin.requests_for(host="127.0.0.1", path="/ok")


def test_the_blocking_fetcher_is_guarded_at_connection_level(web_settings: Settings, origin: OriginServer) -> None:
    origin.reset_counts()
    with BlockingFetcher(web_settings) as fetcher:
        with pytest.raises(FetchError, match="localhost is a loopback name"):
            fetcher.fetch(f"http://localhost:{origin.http_port}/ok")
        with pytest.raises(FetchError, match="10.0.0.1 is a private address"):
            fetcher.fetch("http://redirector.test/redirect-to?url=http://10.0.0.1/")
    assert not origin.requests_for(host="127.0.0.1", path="/ok")


def test_the_blocking_fetcher_reaches_mapped_hosts_with_the_user_agent(web_settings: Settings) -> None:
    with BlockingFetcher(web_settings) as fetcher:
        response = fetcher.fetch("https://www.example.test/echo")
    assert response.status == 200
    assert response.json()["User-Agent"] == USER_AGENT
    assert response.headers.get("content-type") == response.headers["Content-Type"]  # any case, as HTTP wants


def test_allow_private_lets_loopback_through(origin: OriginServer, ca_file) -> None:
    c = Client(Settings(allow_private=True, ca_bundle=str(ca_file)))
    assert c.fetch(origin.url("/ok")).status == 200
    assert c.fetch(origin.url("/ok", "https")).status == 200


def test_sample_document_hosts_reach_the_origin_through_connect_to(origin: OriginServer, ca_file) -> None:
    settings = Settings(
        connect_to=origin.connect_to("news.bbc.co.uk", "www.theguardian.com"), ca_bundle=str(ca_file)
    )
    origin.add_page("news.bbc.co.uk", "/1/hi/world/south_asia/6750785.stm",
                    Page(body=b"<p>British troops in Afghanistan</p>"))
    c = Client(settings)
    bbc = c.fetch("http://news.bbc.co.uk/1/hi/world/south_asia/6750785.stm")
    # a path no other test serves (the sample's run, session-wide, serves the cited ones)
    guardian = c.fetch("https://www.theguardian.com/no/such/page/in/the/test/web")
    assert bbc.status == 200 and b"British troops" in bbc.body
    assert guardian.status == 404  # reached, over TLS verified for www.theguardian.com
    assert origin.requests_for(host="www.theguardian.com")[-1].scheme == "https"


def test_user_agent_names_citewatch(client: Client) -> None:
    echoed = json.loads(client.fetch("http://a.test/echo").body)
    assert echoed["User-Agent"].startswith("citewatch/") and "(+http" in echoed["User-Agent"]


def test_redirect_chain_is_recorded_hop_by_hop(client: Client) -> None:
    response = client.fetch("https://a.test/redirect/308/3")
    assert response.status == 200
    assert response.final_url == "https://a.test/ok"
    assert [(h.status, h.location) for h in response.hops] == [
        (308, "https://a.test/redirect/308/2"),
        (308, "https://a.test/redirect/308/1"),
        (308, "https://a.test/ok"),
    ]


def test_redirect_loop_costs_only_its_own_hops(client: Client, origin: OriginServer) -> None:
    origin.reset_counts()
    with pytest.raises(FetchError) as err:
        client.fetch("http://loop.test/loop/a")
    assert err.value.kind == "redirect_loop"
    assert len(err.value.hops) == 2
    assert len(origin.requests_for(host="loop.test")) == 2


def test_redirect_limit(web_settings: Settings) -> None:
    with pytest.raises(FetchError) as err:
        fetch(dataclasses.replace(web_settings, max_redirects=2), "http://a.test/redirect/302/5")
    assert err.value.kind == "too_many_redirects"


def test_body_is_capped(client: Client) -> None:
    response = client.fetch("http://a.test/huge?mb=12", max_bytes=1_000_000)
    assert response.truncated and len(response.body) == 1_000_000


def test_gzip_bomb_is_capped_after_decompression(client: Client) -> None:
    response = client.fetch("http://a.test/gzip-bomb", max_bytes=2_000_000)
    assert response.truncated
    assert len(response.body) == 2_000_000 < GZIP_BOMB_SIZE
    assert set(response.body) == {0}


@pytest.mark.slow
def test_trickling_server_hits_the_deadline(web_settings: Settings) -> None:
    with pytest.raises(FetchError) as err:
        fetch(dataclasses.replace(web_settings, request_deadline=1.0), "http://a.test/trickle?seconds=10")
    assert err.value.kind == "timeout" and "deadline" in err.value.reason


def test_slow_first_byte_hits_the_read_timeout(web_settings: Settings) -> None:
    with pytest.raises(FetchError) as err:
        fetch(dataclasses.replace(web_settings, read_timeout=0.3), "http://a.test/ok?delay=2")
    assert err.value.kind == "timeout"


@pytest.mark.parametrize(
    ("url", "kind", "reason"),
    [
        ("https://expired.test/ok", "tls_error", "certificate has expired"),
        ("https://untrusted.test/ok", "tls_error", "unable to get local issuer certificate"),
        ("http://a.test/reset", "connection_error", "reset"),
        ("http://nowhere.invalid/", "dns_error", "cannot resolve nowhere.invalid"),
        ("ftp://a.test/file", "invalid_url", "not an http(s) URL"),
        ("http://a.test:99999/", "invalid_url", "malformed URL"),
    ],
)
def test_failures_land_in_their_kind(client: Client, url: str, kind: str, reason: str) -> None:
    with pytest.raises(FetchError) as err:
        client.fetch(url)
    assert err.value.kind == kind
    assert reason in err.value.reason


def test_head_reads_no_body_and_the_connection_is_reused(web_settings: Settings, origin: OriginServer) -> None:
    async def both() -> tuple[Response, Response]:
        async with Fetcher(web_settings) as fetcher:
            head = await fetcher.fetch("http://head.test/head-403", method="HEAD")
            get = await fetcher.fetch("http://head.test/head-403")
            return head, get

    head, get = asyncio.run(both())
    assert head.status == 403 and head.body == b""
    assert get.status == 200 and b"An article" in get.body


def test_refused_connection_is_a_connection_error(web_settings: Settings) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = dataclasses.replace(web_settings, connect_to=(f"closed.test:80:127.0.0.1:{port}",))
    with pytest.raises(FetchError) as err:
        fetch(settings, "http://closed.test/")
    assert err.value.kind == "connection_error"


def test_the_standard_ca_variable_is_honoured(origin: OriginServer, ca_file, monkeypatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    settings = Settings(connect_to=origin.connect_to())
    assert fetch(settings, "https://ca.test/ok").status == 200
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(FetchError) as err:
        fetch(settings, "https://ca.test/ok")
    assert err.value.kind == "tls_error"


@pytest.mark.slow
def test_a_paced_request_holds_no_place_while_it_waits(web_settings: Settings) -> None:
    """Before: an archive request waiting for its class's pace (CDX: one every 2.5 s) held one of
    the host's places meanwhile, so the archive's replay reads queued behind CDX waits."""
    import threading

    cdx = Pacer(3.0)
    cdx.claim()  # the class has just been used: the next start is 3 s away
    with BlockingFetcher(web_settings, concurrency=1, per_host=1) as fetcher:
        paced: list[Response] = []
        waiting = threading.Thread(target=lambda: paced.append(fetcher.fetch("https://www.example.test/echo",
                                                                             pacer=cdx)))
        waiting.start()
        other = fetcher.fetch("https://www.example.test/echo")  # the one place is free: answered now
        assert other.status == 200 and waiting.is_alive() and paced == []
        waiting.join()
    assert paced[0].status == 200
