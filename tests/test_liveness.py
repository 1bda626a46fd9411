"""Liveness against the test web: one test per class and per signal, over HTTP and HTTPS."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import time

import pytest

from pipeline.config import Settings
from pipeline.http import Response
from pipeline.liveness import (
    NetworkUnreachable,
    check_urls,
    check_urls_async,
    classify,
    invalid_reason,
    is_evidence,
    probe_url,
)
from pipeline.model import LinkCheck, LinkStatus
from pipeline.text import view_of
from pipeline.times import parse_retry_after
from tests.testweb.origin import OriginServer, Page


@pytest.fixture
def settings(web_settings: Settings) -> Settings:
    """Fast retries, a reachable canary, paywall and rules for some test hosts."""
    return dataclasses.replace(
        web_settings,
        check_backoff=0.01,
        check_retries=2,
        retry_after_cap=5,
        canary_url="http://canary.test/ok",
        paywall_domains=("paywall.test",),
        domains={"lenient.test": {"alive_statuses": [403]}, "skipme.test": {"skip": True},
                 "cookie.test": {"headers": {"X-Consent": "yes"}}},
    )


def no_probe(settings: Settings) -> Settings:
    """For tests that count requests: no soft-404 probe among them."""
    return dataclasses.replace(settings, soft404_probe=False)


def check(settings: Settings, url: str):
    return check_urls([url], settings)[0]


SCHEMES = ["http", "https"]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(
    ("path", "status", "http_status"),
    [
        ("/ok", LinkStatus.OK, 200),
        ("/status/404", LinkStatus.NOT_FOUND, 404),
        ("/status/410", LinkStatus.NOT_FOUND, 410),
        ("/status/500", LinkStatus.SERVER_ERROR, 500),
        ("/status/401", LinkStatus.BLOCKED, 401),
        ("/status/403", LinkStatus.BLOCKED, 403),
        ("/status/451", LinkStatus.BLOCKED, 451),
        ("/bot-wall", LinkStatus.BLOCKED, 403),
        ("/soft-404", LinkStatus.SOFT_404, 200),
        ("/moved-home", LinkStatus.SOFT_404, 200),
        ("/redirect/301/3", LinkStatus.REDIRECTED, 200),
        ("/loop/a", LinkStatus.REDIRECT_LOOP, None),
    ],
)
def test_status_classes(settings: Settings, scheme: str, path: str, status: LinkStatus, http_status: int | None) -> None:
    result = check(settings, f"{scheme}://site.test{path}")
    assert result.status is status, result.reason
    assert result.http_status == http_status
    assert result.reason
    assert result.checked_at.endswith("Z") and result.elapsed_ms >= 0


def test_redirect_chain_across_hosts_is_recorded(settings: Settings) -> None:
    result = check(settings, "http://one.test/redirect-to?url=https://two.test/redirect/302/1&code=301")
    assert result.status is LinkStatus.REDIRECTED
    assert result.final_url == "https://two.test/ok"
    assert [(h.status, h.location) for h in result.redirects] == [
        (301, "https://two.test/redirect/302/1"), (302, "https://two.test/ok"),
    ]
    assert result.reason == "redirects to https://two.test/ok"


def test_404_after_a_redirect_says_at_final_url(settings: Settings) -> None:
    result = check(settings, "http://site.test/redirect-to?url=/status/404")
    assert result.status is LinkStatus.NOT_FOUND and result.reason == "404 at final URL"


def test_soft_404_probe_same_page_for_any_name(settings: Settings, origin: OriginServer) -> None:
    origin.reset_counts()
    result = check(settings, "http://wild.test/wild/some-article")
    assert result.status is LinkStatus.SOFT_404
    assert "made-up URL" in result.reason
    probes = [r.path for r in origin.requests_for(host="wild.test") if r.path not in ("/wild/some-article", "/robots.txt")]
    assert len(probes) == 1 and probes[0].startswith("/wild/") and len(probes[0]) == len("/wild/") + 25
    assert len(origin.requests_for(host="wild.test", path="/robots.txt")) == 1  # asked first (it is the wild page)


ROBOTS = (("Content-Type", "text/plain"),)


def test_the_probe_asks_only_for_what_robots_txt_allows(settings: Settings, origin: OriginServer) -> None:
    """Before: robots.txt was never read, and the made-up URL went to a site that forbids it."""
    origin.add_page("shy.test", "/robots.txt", Page(body=b"User-agent: citewatch\nDisallow: /news/\n", headers=ROBOTS))
    origin.add_page("shy.test", "/news/story", Page(body=b"<title>Story</title><p>The words of the story.</p>"))
    origin.add_page("down.test", "/robots.txt", Page(status=503, headers=ROBOTS))  # unreadable: nothing allowed
    origin.add_page("down.test", "/news/story", Page(body=b"<title>Story</title><p>The words of the story.</p>"))
    origin.reset_counts()
    results = check_urls(["http://shy.test/news/story", "http://down.test/news/story"], settings)
    assert [r.status for r in results] == [LinkStatus.OK, LinkStatus.OK]
    for host in ("shy.test", "down.test"):
        assert sorted(r.path for r in origin.requests_for(host=host)) == ["/news/story", "/robots.txt"]
    origin.add_page("shy.test", "/news/other", Page(body=b"<title>Other</title><p>Other words of a story.</p>"))
    ignoring = check(dataclasses.replace(settings, robots="none"), "http://shy.test/news/other")
    assert ignoring.status is LinkStatus.OK
    assert len([r for r in origin.requests_for(host="shy.test") if len(r.path) == len("/news/") + 25]) == 1


def test_robots_all_leaves_alone_the_urls_robots_txt_disallows(settings: Settings, origin: OriginServer) -> None:
    origin.add_page("private.test", "/robots.txt", Page(body=b"User-agent: *\nDisallow: /private/\n", headers=ROBOTS))
    origin.add_page("private.test", "/private/x", Page(body=b"<title>x</title><p>private words</p>"))
    origin.add_page("private.test", "/open", Page(body=b"<title>open</title><p>open words</p>"))
    origin.reset_counts()
    results = check_urls(["http://private.test/private/x", "http://private.test/open"],
                         dataclasses.replace(no_probe(settings), robots="all"))
    assert results[0].status is LinkStatus.SKIPPED
    assert results[0].reason == "not checked: http://private.test/robots.txt disallows it (robots = all)"
    assert results[1].status is LinkStatus.OK
    assert not origin.requests_for(host="private.test", path="/private/x")


def test_soft_404_probe_same_redirect_target(settings: Settings) -> None:
    result = check(settings, "http://redir.test/catchall-redirect/old-story")
    assert result.status is LinkStatus.SOFT_404
    assert "redirects where a made-up URL does" in result.reason


def test_honest_host_keeps_a_live_page_alive_and_probes_once_per_parent(settings: Settings, origin: OriginServer) -> None:
    origin.reset_counts()
    results = check_urls([f"http://honest.test/redirect/30{i}/1" for i in (1, 2, 7)], settings)
    assert [r.status for r in results] == [LinkStatus.REDIRECTED] * 3
    probes = [r for r in origin.requests_for(host="honest.test") if len(r.path.rsplit("/", 1)[-1]) == 25]
    assert len(probes) == 3  # three parents: /redirect/301/, /redirect/302/, /redirect/307/


def test_site_root_is_never_a_soft_404(settings: Settings, origin: OriginServer) -> None:
    origin.reset_counts()
    result = check(settings, "http://root.test/")
    assert result.status is LinkStatus.OK
    assert len(origin.requests_for(host="root.test")) == 1  # no probe


def test_paywall_site_403_is_alive_with_paywall(settings: Settings) -> None:
    result = check(settings, "https://www.paywall.test/status/403")
    assert result.status is LinkStatus.OK and result.paywall and "paywalled" in result.reason


def test_paywalled_200_is_flagged(settings: Settings) -> None:
    result = check(settings, "http://news.test/paywalled")
    assert result.status is LinkStatus.OK and result.paywall


def test_domain_rules_alive_status_skip_and_headers(settings: Settings, origin: OriginServer) -> None:
    lenient, skipped, cookie = check_urls(
        ["http://lenient.test/status/403", "http://skipme.test/ok", "http://cookie.test/ok"], settings
    )
    assert lenient.status is LinkStatus.OK and "treated as alive" in lenient.reason
    assert skipped.status is LinkStatus.SKIPPED and not origin.requests_for(host="skipme.test")
    assert cookie.status is LinkStatus.OK
    assert origin.requests_for(host="cookie.test", path="/ok")[0].headers.get("X-Consent") == "yes"


@pytest.mark.slow
def test_retry_after_is_honoured_then_success(settings: Settings, origin: OriginServer) -> None:
    started = time.monotonic()
    result = check(settings, "http://flaky.test/flaky/503?fail=1&after=1")
    assert result.status is LinkStatus.OK and result.tries == 2
    assert time.monotonic() - started >= 1.0


def test_429_with_retries_exhausted_is_rate_limited(settings: Settings, origin: OriginServer) -> None:
    origin.reset_counts()
    result = check(settings, "http://busy.test/retry-after/429?after=0")
    assert result.status is LinkStatus.RATE_LIMITED and result.tries == 3
    assert len(origin.requests_for(host="busy.test")) == 3


def test_retry_after_beyond_the_cap_is_not_waited_for(settings: Settings, origin: OriginServer) -> None:
    origin.reset_counts()
    result = check(settings, "http://busy.test/retry-after/503?after=3600")
    assert result.status is LinkStatus.SERVER_ERROR and result.tries == 1
    assert len(origin.requests_for(host="busy.test")) == 1  # recorded as it is: no retry after an hour's wait


def test_timeout_is_retried_when_asked_and_classified(settings: Settings, origin: OriginServer) -> None:
    origin.reset_counts()
    asked = dataclasses.replace(settings, read_timeout=0.2, check_retries=1, check_timeout_retries=1)
    result = check(asked, "http://slow.test/ok?delay=1")
    assert result.status is LinkStatus.TIMEOUT and result.tries == 2


def test_a_timeout_is_not_asked_again_where_a_5xx_is(settings: Settings, origin: OriginServer) -> None:
    """A time-out has already waited the whole read timeout and is never counted as broken;
    by default it is not asked again in the run (check_timeout_retries 0), where a 5xx is
    asked check_retries (2) more times. check_retries caps both."""
    origin.reset_counts()
    quick = dataclasses.replace(settings, read_timeout=0.2)
    assert check(quick, "http://slow.test/ok?delay=1").tries == 1
    assert len(origin.requests_for(host="slow.test")) == 1
    assert check(quick, "http://flaky.test/flaky/503?fail=5&after=0").tries == 3
    capped = dataclasses.replace(quick, check_retries=1, check_timeout_retries=3)
    assert check(capped, "http://slow.test/ok?delay=1").tries == 2


@pytest.mark.parametrize(
    ("url", "status", "reason"),
    [
        ("https://expired.test/ok", LinkStatus.TLS_ERROR, "certificate has expired"),
        ("https://untrusted.test/ok", LinkStatus.TLS_ERROR, "unable to get local issuer certificate"),
        ("http://nowhere.invalid/page", LinkStatus.DNS_ERROR, "cannot resolve"),
        ("http://reset.test/reset", LinkStatus.CONNECTION_ERROR, "connection broken"),
        ("http://127.0.0.1/admin", LinkStatus.REFUSED, "loopback"),
        ("http://site.test/redirect-to?url=http://10.0.0.1/", LinkStatus.REFUSED, "10.0.0.1 is a private address"),
        ("ftp://files.test/a", LinkStatus.INVALID_URL, "not an http(s) URL"),
        ("http://", LinkStatus.INVALID_URL, "no host"),
        ("http://site.test:99999/", LinkStatus.INVALID_URL, "malformed URL"),
    ],
)
def test_failure_classes(settings: Settings, url: str, status: LinkStatus, reason: str) -> None:
    result = check(settings, url)
    assert result.status is status
    assert reason in result.reason


def test_refused_connection_and_fast_failures_are_inconclusive(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    closed = dataclasses.replace(settings, connect_to=(f"closed.test:80:127.0.0.1:{port}",) + settings.connect_to)
    result = check(closed, "http://closed.test/")
    assert result.status is LinkStatus.CONNECTION_ERROR
    assert result.conclusive is is_evidence("connection_error", result.elapsed_ms)
    assert ("not the site" in result.reason) is not result.conclusive


def test_fast_network_failures_are_not_evidence() -> None:
    assert not is_evidence("dns_error", 0.4) and not is_evidence("connection_error", 0.9)
    assert is_evidence("dns_error", 25.0) and is_evidence("tls_error", 0.1) and is_evidence("timeout", 0.5)


@pytest.mark.parametrize("path", ["/head-403", "/head-405"])
def test_head_mode_falls_back_to_get(settings: Settings, origin: OriginServer, path: str) -> None:
    origin.reset_counts()
    result = check(dataclasses.replace(no_probe(settings), check_method="head"), f"http://head.test{path}")
    assert result.status is LinkStatus.OK
    assert [r.method for r in origin.requests_for(host="head.test")] == ["HEAD", "GET"]


def test_same_canonical_url_is_checked_once_and_reported_per_input(settings: Settings, origin: OriginServer) -> None:
    origin.reset_counts()
    urls = ["http://once.test/ok?utm_source=a", "http://ONCE.test:80/ok", "http://once.test/ok#section"]
    results = check_urls(urls, no_probe(settings))
    assert [r.url for r in results] == urls
    assert {r.status for r in results} == {LinkStatus.OK}
    assert len(origin.requests_for(host="once.test")) == 1


def test_per_host_limit_holds_at_the_server(settings: Settings, origin: OriginServer) -> None:
    origin.reset_counts()
    urls = [f"http://busyhost.test/ok?delay=0.2&n={i}" for i in range(12)]
    limited = dataclasses.replace(no_probe(settings), check_per_host=3, check_concurrency=32)
    results = check_urls(urls, limited)
    assert {r.status for r in results} == {LinkStatus.OK}
    assert origin.max_active["busyhost.test"] == 3  # reached, never passed


def test_a_429_not_asked_again_still_holds_its_host_back(settings: Settings, origin: OriginServer) -> None:
    """With no retry left, a 429's Retry-After used to be forgotten: the host's next URL was
    asked at once. Now the host waits what it asked (measured at the server)."""
    urls = ["http://held.test/retry-after/429?after=2", "http://held.test/ok?n=2"]
    results = check_urls(urls, dataclasses.replace(no_probe(settings), check_retries=0, check_per_host=1))
    assert [r.status for r in results] == [LinkStatus.RATE_LIMITED, LinkStatus.OK]
    asked = sorted(r.at for r in origin.requests_for(host="held.test"))
    assert len(asked) == 2 and asked[1] - asked[0] >= 1.9


def test_min_interval_spaces_requests_to_one_host(settings: Settings, origin: OriginServer) -> None:
    origin.reset_counts()
    paced = dataclasses.replace(no_probe(settings), check_min_interval=0.25)
    check_urls([f"http://paced.test/ok?n={i}" for i in range(4)], paced)
    times = sorted(r.at for r in origin.requests_for(host="paced.test"))
    # spaced at the server by the interval, less what a busy machine adds to one arrival and not
    # the next (a new connection, a thread's turn); unpaced, they arrive within milliseconds
    assert len(times) == 4 and all(b - a >= 0.2 for a, b in zip(times, times[1:]))


def test_offline_raises_instead_of_reporting_dead_links(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    offline = dataclasses.replace(settings, connect_to=(f":80:127.0.0.1:{port}", f":443:127.0.0.1:{port}"))
    with pytest.raises(NetworkUnreachable, match="network looks unreachable"):
        check_urls(["http://a.test/1", "https://b.test/2"], offline)


def test_dns_errors_with_a_reachable_canary_are_reported(settings: Settings) -> None:
    results = check_urls(["http://gone.invalid/", "http://also-gone.invalid/"], settings)
    assert [r.status for r in results] == [LinkStatus.DNS_ERROR, LinkStatus.DNS_ERROR]


def test_progress_callback_sees_every_unique_url(settings: Settings) -> None:
    seen = []
    asyncio.run(check_urls_async(["http://cb.test/ok", "http://cb.test/status/404", "http://cb.test/ok"],
                                 no_probe(settings), on_result=seen.append))
    assert sorted(r.status.value for r in seen) == ["not_found", "ok"]


# --- pure parts -----------------------------------------------------------------------


def response(status: int, body: bytes = b"", final_url: str = "http://a.test/x", hops=(), headers=None) -> Response:
    return Response("http://a.test/x", final_url, status, headers or {}, body, False, tuple(hops), 1.0)


@pytest.mark.parametrize(
    "title",
    ["404 Not Found", "Page not found – Example", "Seite nicht gefunden", "Página no encontrada",
     "Страница не найдена", "صفحه پیدا نشد", "الصفحة غير موجودة"],
)
def test_soft_404_titles_in_several_languages(title: str) -> None:
    body = f"<html><head><title>{title}</title></head><body>x</body></html>".encode()
    assert classify("http://a.test/deep/page", response(200, body)).status is LinkStatus.SOFT_404


def test_a_page_that_mentions_404_in_its_text_is_not_soft_404() -> None:
    body = (b"<html><head><title>Error codes explained</title></head><body><p>" + b"Servers send many codes. " * 200
            + b"</p></body></html>")
    assert classify("http://a.test/deep/page", response(200, body)).status is LinkStatus.OK


def test_page_view_decodes_charset_and_drops_scripts() -> None:
    body = ("<html><head><meta charset='windows-1256'><title>ايران</title><script>var x='hidden';</script></head>"
            "<body>متن</body></html>").encode("windows-1256")
    view = view_of(body)
    assert view.title == "ايران" and "hidden" not in view.visible and "متن" in view.visible


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_probe_url_is_parent_plus_25_letters() -> None:
    rng = random.Random(1)
    url = probe_url("https://a.test/world/2016/story.html?x=1", rng)
    assert url.startswith("https://a.test/world/2016/") and len(url.rsplit("/", 1)[1]) == 25
    assert probe_url("https://a.test/section/", rng).startswith("https://a.test/")


@pytest.mark.parametrize(("url", "ok"), [("http://a.test/", True), ("https://bücher.de/x", True),
                                         ("mailto:x@y", False), ("http://a b/", False), ("http://a..b/", False)])
def test_invalid_reason(url: str, ok: bool) -> None:
    assert (invalid_reason(url) is None) is ok


def _arrivals(origin: OriginServer) -> list[str]:
    """The requests the origin saw, host and path, in the order they arrived."""
    return [f"{r.host}{r.path}" for r in sorted(origin.requests, key=lambda r: r.at)]


@pytest.mark.slow
def test_a_slow_host_never_holds_back_the_others(settings: Settings, origin: OriginServer) -> None:
    """Before: a check took its place among the pages in flight (check_concurrency) before
    waiting for its host, so URLs of a slow host listed first held every place while they
    queued on it, and the fast hosts' URLs trickled out one per slow answer."""
    origin.reset_counts()
    slow = [f"http://slowhost.test/ok?delay=0.5&n={i}" for i in range(4)]  # as many as there are places
    fast = [f"http://fast{i}.test/ok" for i in range(20)]
    limits = dataclasses.replace(no_probe(settings), check_per_host=1, check_concurrency=4)
    results = check_urls(slow + fast, limits)
    assert {r.status for r in results} == {LinkStatus.OK}
    seen = _arrivals(origin)
    second_slow = [n for n, where in enumerate(seen) if where.startswith("slowhost.test")][1]
    assert sum(where.startswith("fast") for where in seen[:second_slow]) == 20  # all of them while the slow host worked


@pytest.mark.slow
def test_a_retry_after_wait_holds_no_place(settings: Settings, origin: OriginServer) -> None:
    """Before: a check waiting out a Retry-After kept its place among the pages in flight;
    with one place, every other URL waited for it."""
    origin.reset_counts()
    limits = dataclasses.replace(no_probe(settings), check_concurrency=1, check_retries=1)
    waits = "http://waits.test/flaky/429?fail=1&after=1"
    results = check_urls([waits, "http://other1.test/ok", "http://other2.test/ok"], limits)
    assert [r.status for r in results] == [LinkStatus.OK] * 3 and results[0].tries == 2
    assert _arrivals(origin) == ["waits.test/flaky/429?after=1&fail=1", "other1.test/ok", "other2.test/ok",
                                 "waits.test/flaky/429?after=1&fail=1"]  # the others served during the wait


def test_a_page_being_read_does_not_hold_its_hosts_place(settings: Settings, origin: OriginServer) -> None:
    """One place for the host: a large page is fetched, then read off the event loop; the
    host's next URLs are asked while it is being read, not after its check is done. (Fails
    when the page is read on the event loop, or inside the host's place.)"""
    origin.reset_counts()
    big = "http://reading.test/hostile/flat?n=9000"  # 230 KB of paragraphs: milliseconds to read
    small = [f"http://reading.test/ok?n={i}" for i in range(3)]
    seen_when_read: list[int] = []

    def on_result(result: LinkCheck) -> None:
        if result.url == big:
            seen_when_read.append(len(origin.requests_for(host="reading.test")))

    limits = dataclasses.replace(no_probe(settings), check_per_host=1, check_concurrency=4)
    results = check_urls([big, *small], limits, on_result=on_result)
    assert {r.status for r in results} == {LinkStatus.OK}
    assert seen_when_read[0] >= 2  # the next URL of the host was asked before the page was read


def test_checks_waiting_for_their_probes_never_lock_out_the_probes(settings: Settings, origin: OriginServer) -> None:
    """Found by the speed benchmark: a check kept its page's place while it waited for the
    soft-404 probe; the probe needs a place for its host, held by checks waiting for a page's
    place. With more probe folders than places, everything waited for ever."""
    import threading

    urls = [f"http://lockout.test/ok/f{i}/page" for i in range(24)]  # a probe per folder
    limits = dataclasses.replace(settings, check_per_host=2, check_concurrency=4)
    done: list[list] = []
    worker = threading.Thread(target=lambda: done.append(check_urls(urls, limits)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert done, "the check never finished"
    assert len(done[0]) == 24 and all(r.status in (LinkStatus.OK, LinkStatus.SOFT_404) for r in done[0])


def test_checks_start_host_after_host() -> None:
    """A document's URLs often come a site at a time; the checks under way at once (a bounded
    number) then span every host instead of one host's queue."""
    from pipeline.liveness import by_host_turns

    keys = [f"http://a.test/{n}" for n in range(3)] + ["http://b.test/0", "http://c.test/0", "http://c.test/1"]
    assert by_host_turns(keys) == ["http://a.test/0", "http://b.test/0", "http://c.test/0",
                                   "http://a.test/1", "http://c.test/1", "http://a.test/2"]
    assert sorted(by_host_turns(keys)) == sorted(keys) and by_host_turns([]) == []
