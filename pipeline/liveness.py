"""Classify one URL's liveness; check many concurrently and politely.

A check is a GET with a streamed body read only as far as classification needs. Transient
failures (timeouts, resets, 5xx, 429) are tried again with exponential backoff and jitter,
honouring Retry-After up to a cap. A 2xx is looked at three ways for a soft 404 (its
words, a redirect from a deep URL to the site root, and the probe of Bar-Yossef et al.,
"Sic transit gloria telae", WWW 2004: ask for a made-up sibling URL and compare).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import random
import string
import time
import urllib.parse
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rapidfuzz import fuzz

from pipeline import text
from pipeline.config import DomainRule, Settings
from pipeline.errors import CannotRunError
from pipeline.extract.urls import canonicalize
from pipeline.http import FAST_FAILURE_MS, Fetcher, FetchError, FetchErrorKind, Response, Retry, run_sync
from pipeline.model import LinkCheck, LinkStatus, url_key
from pipeline.model import RedirectHop as Hop
from pipeline.robots import Robots
from pipeline.rules import IGNORE_FILE, Exclusions, most_specific_domain, parse_accept, read_ignore_file
from pipeline.signals import is_bot_wall, is_paywalled, says_cannot_be_found, says_not_found_in_title, unusable_copy
from pipeline.text import PageText
from pipeline.times import now_iso

log = logging.getLogger(__name__)
T = TypeVar("T")
PROBE_NAME_LENGTH = 25
SIMILAR = 0.95  # texts this alike are the same page (the probe's threshold)

GENERIC_PATHS = {"", "/", "/index.html", "/index.htm", "/index.php", "/home", "/404", "/404.html",
                 "/error", "/error.html", "/not-found", "/notfound", "/page-not-found", "/search",
                 "/default.aspx", "/en", "/en/"}


# --- pure parts -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Classification:
    """What a response says of a link."""

    status: LinkStatus
    reason: str
    paywall: bool = False


def is_site_root(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def classify(url: str, response: Response, view: PageText | None = None, *, paywall_site: bool = False,
             alive_statuses: Collection[int] = ()) -> Classification:
    """The class of a final response (soft-404 probe aside); `view` is the page as read
    (read here when not given)."""
    status = response.status
    where = "" if not response.hops else " at final URL"
    if view is None:
        view = text.view_of(response.body, response.headers.get("Content-Type", ""))
    if status in alive_statuses:
        return Classification(LinkStatus.OK, f"{status} treated as alive for this domain")
    if 200 <= status < 300:
        paywall = is_paywalled(response.body)
        if response.hops and not is_site_root(url):
            final_path = urllib.parse.urlsplit(response.final_url).path
            if final_path.rstrip("/").lower() in {p.rstrip("/") for p in GENERIC_PATHS}:
                kind = "the site root" if final_path in ("", "/") else f"a generic page ({final_path})"
                return Classification(LinkStatus.SOFT_404, f"redirects to {kind}")
        if not is_site_root(url):
            if says_not_found_in_title(view):
                says = f"{status}, but the page says not found: {view.title or view.headings!r}"
                return Classification(LinkStatus.SOFT_404, says[:200])
            if says_cannot_be_found(view):
                return Classification(LinkStatus.SOFT_404, f"{status}, but the page says it cannot be found")
        if response.hops:
            return Classification(LinkStatus.REDIRECTED, f"redirects to {response.final_url}", paywall)
        return Classification(LinkStatus.OK, f"{status}" + (", paywalled" if paywall else ""), paywall)
    if status in (401, 402, 403) and paywall_site:
        return Classification(LinkStatus.OK, f"{status} from a subscription site: paywalled, alive", True)
    if _bot_wall(response, view):
        return Classification(LinkStatus.BLOCKED, f"{status}: bot wall or challenge page")
    if status in (404, 410):
        return Classification(LinkStatus.NOT_FOUND, f"{status}{where}")
    if status in (401, 403, 407, 451, 999):
        return Classification(LinkStatus.BLOCKED, f"{status}{where}: access refused")
    if status == 402:
        return Classification(LinkStatus.BLOCKED, "402: payment required", True)
    if status == 429:
        return Classification(LinkStatus.RATE_LIMITED, f"429{where}: rate limited")
    if status == 408:
        return Classification(LinkStatus.TIMEOUT, "408: the server timed out")
    if 500 <= status < 600:
        return Classification(LinkStatus.SERVER_ERROR, f"{status}{where}")
    if 300 <= status < 400:
        return Classification(LinkStatus.SERVER_ERROR, f"{status} without a Location to follow")
    if 400 <= status < 500:
        return Classification(LinkStatus.NOT_FOUND, f"{status}{where}")
    return Classification(LinkStatus.SERVER_ERROR, f"unexpected status {status}")


def _bot_wall(response: Response, view: PageText) -> bool:
    headers = {k.lower(): v.lower() for k, v in response.headers.items()}
    if headers.get("cf-mitigated") == "challenge" or "x-datadome" in headers:
        return True
    return response.status in (403, 429, 503) and is_bot_wall(view)


ERROR_CLASSES = {
    FetchErrorKind.DNS_ERROR: LinkStatus.DNS_ERROR,
    FetchErrorKind.CONNECTION_ERROR: LinkStatus.CONNECTION_ERROR,
    FetchErrorKind.TLS_ERROR: LinkStatus.TLS_ERROR,
    FetchErrorKind.TIMEOUT: LinkStatus.TIMEOUT,
    FetchErrorKind.REDIRECT_LOOP: LinkStatus.REDIRECT_LOOP,
    FetchErrorKind.TOO_MANY_REDIRECTS: LinkStatus.REDIRECT_LOOP,
    FetchErrorKind.REFUSED: LinkStatus.REFUSED,
    FetchErrorKind.INVALID_URL: LinkStatus.INVALID_URL,
}


def invalid_reason(url: str) -> str | None:
    """Why a URL cannot be checked at all, or None."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"malformed URL: {exc}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"not an http(s) URL: {url}"
    if not parts.hostname:
        return "no host in URL"
    if port == 0:
        return "port 0"
    host = parts.hostname
    if any(ch in host for ch in " <>\"{}|\\^`") or ".." in host:
        return f"malformed host {host!r}"
    try:
        host.encode("idna")
    except UnicodeError:
        return f"host {host!r} is not a valid domain name"
    return None


def is_evidence(kind: FetchErrorKind, elapsed_ms: float) -> bool:
    """False for a DNS or connection failure back in under a millisecond: a local
    resolver or proxy answered, so it says nothing about the site."""
    return not (kind in (FetchErrorKind.DNS_ERROR, FetchErrorKind.CONNECTION_ERROR) and elapsed_ms < FAST_FAILURE_MS)


def probe_url(url: str, rng: random.Random) -> str:
    """The URL's parent path plus a random 25-letter name."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path.rstrip("/")
    parent = path[: path.rfind("/") + 1] or "/"
    name = "".join(rng.choice(string.ascii_lowercase) for _ in range(PROBE_NAME_LENGTH))
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parent + name, "", ""))


def similarity(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    return fuzz.ratio(a[:5000], b[:5000]) / 100


# --- checking -------------------------------------------------------------------------

# Pages are read here, not on the event loop: two threads for two cores (lxml parses
# without the GIL; the walk over the tree is bounded by `text.read_page`'s CPU budget).
_READERS = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="citewatch-read")
INLINE_READ_BYTES = 16_384  # read on the loop: linear, well under a millisecond
_SUCCESS = frozenset(range(200, 300))


@dataclasses.dataclass(frozen=True)
class _Probe:
    honest: bool  # the made-up URL failed with a real 4xx
    usable: bool  # the probe answered at all
    final_url: str = ""
    hops: int = 0
    text: str = ""


@dataclasses.dataclass(frozen=True)
class PageRead:
    """A live page fetched and read: where it ended, its text, or why it has none; and why
    it cannot be evidence that a passage is absent (a paywall teaser, a wall), if so."""

    final_url: str
    page: PageText | None
    reason: str = ""
    unusable: str | None = None
    response: Response | None = None  # what was read, for whoever keeps the bytes


def read_response(response: Response) -> PageRead:
    try:
        page = text.read_page(response.body, response.headers.get("Content-Type", ""))
    except text.Unreadable as exc:
        return PageRead(response.final_url, None, str(exc), response=response)
    return PageRead(response.final_url, page, "", unusable_copy(page, response.body), response)


class Checker:
    """Checks URLs through one Fetcher; caches soft-404 probes per host and parent path.
    With `on_page`, each page found alive is read in full once, classified from that
    reading, and handed on (for whoever verifies quotes)."""

    def __init__(self, fetcher: Fetcher, settings: Settings, *, rng: random.Random | None = None,
                 on_page: Callable[[LinkCheck, PageRead], None] | None = None, fragments: bool = False) -> None:
        self.fetcher = fetcher
        self.settings = settings
        self.robots = Robots(fetcher)
        self.rng = rng or random.Random()
        self.retry = Retry(settings.check_retries, settings.check_backoff, settings.retry_after_cap,
                           timeout_tries=min(settings.check_timeout_retries, settings.check_retries))
        self.on_page = on_page
        self._probes: dict[str, asyncio.Task[_Probe]] = {}
        # Pages fetched but not read yet wait in memory: as many at most as requests in flight,
        # so that fetching never runs far ahead of reading (a body can be megabytes).
        self._pages = asyncio.Semaphore(settings.check_concurrency)
        self._started = asyncio.Semaphore(max(64, 4 * settings.check_concurrency))
        self.exclusions = Exclusions([(p, "--exclude") for p in settings.exclude]
                                     + read_ignore_file(Path.cwd() / IGNORE_FILE))
        self.accepted = parse_accept(settings.accept) - _SUCCESS
        self.fragments = fragments

    async def check(self, url: str) -> LinkCheck:
        """One URL checked. A page fetched but not yet read holds one of `check_concurrency`
        places (`_pages`), taken only once its host has a free place and given back once it is
        read: no check holds a place while it waits for its host, its pace, robots.txt or a
        Retry-After, so a slow host never holds back the others. At most `started` checks are
        under way at once (a check waiting for its host costs a few frames; thousands of them,
        memory), started host after host (`by_host_turns`)."""
        async with self._started:
            return await self._check(url)

    async def _check(self, url: str) -> LinkCheck:
        canonical = canonicalize(url)
        target = url_key(canonical)
        started = now_iso()
        if reason := invalid_reason(target):
            return LinkCheck(url, canonical, LinkStatus.INVALID_URL, None, None, (), 0.0, started, reason)
        host = urllib.parse.urlsplit(target).hostname or ""
        rule_domain, rule = self.settings.domain_rule(host)
        if rule.skip:
            return LinkCheck(url, canonical, LinkStatus.SKIPPED, None, None, (), 0.0, started,
                             f"skipped by the rule for {rule_domain}")
        if excluded := self.exclusions.reason(target) or self.exclusions.reason(url):
            return LinkCheck(url, canonical, LinkStatus.SKIPPED, None, None, (), 0.0, started, excluded)
        if self.settings.robots == "all":
            allowed, why = await self.robots.allows(target)
            if not allowed:
                return LinkCheck(url, canonical, LinkStatus.SKIPPED, None, None, (), 0.0, started,
                                 f"not checked: {why} (robots = all)")
        outcome, tries, elapsed, admitted = await self._fetch(target, rule.headers, rule_domain)
        held = [admitted]

        def read_done() -> None:
            if held[0]:
                held[0] = False
                self._pages.release()

        try:
            return await self._judge(url, canonical, target, host, rule, started, outcome, tries, round(elapsed, 1),
                                     read_done)
        finally:
            read_done()

    async def _judge(self, url: str, canonical: str, target: str, host: str, rule: DomainRule, started: str,
                     outcome: Response | FetchError, tries: int, elapsed: float,
                     read_done: Callable[[], None]) -> LinkCheck:
        """The check's class from the final outcome: read, classified, probed, handed on. The
        page's place is given back (`read_done`) once it is read, before the soft-404 probe is
        waited for: the probe needs a place for the host, which checks waiting for a page's
        place may hold."""
        if isinstance(outcome, FetchError):
            fast = not is_evidence(outcome.kind, elapsed)
            reason = outcome.reason + (
                " (answered in under a millisecond: a local resolver or proxy, not the site)" if fast else "")
            return LinkCheck(
                url, canonical, ERROR_CLASSES.get(outcome.kind, LinkStatus.CONNECTION_ERROR), None,
                outcome.hops[-1].location if outcome.hops else None, outcome.hops, elapsed,
                started, reason, tries, conclusive=not fast, queued_ms=outcome.queued_ms,
            )
        # Reading a page is CPU work: off the event loop, so one page never stalls the others
        # (a small page costs less than the hop to another thread, and is read here).
        if len(outcome.body) <= INLINE_READ_BYTES:
            read, view = self._read_for_check(outcome)
        else:
            read, view = await asyncio.get_running_loop().run_in_executor(_READERS, self._read_for_check, outcome)
        verdict = classify(
            target, outcome, view,
            paywall_site=most_specific_domain(host, self.settings.paywall_domains) is not None,
            alive_statuses=self._accepted(rule),
        )
        loop = asyncio.get_running_loop()
        # what the page gives if it stays alive, read now: after the probe it is no longer held
        anchors = text.anchors_of(outcome.body, outcome.headers.get("Content-Type", "")) \
            if self.fragments and verdict.status.alive and outcome.body and not outcome.truncated else None
        page_read = read if read is not None or self.on_page is None or not verdict.status.alive else \
            await loop.run_in_executor(_READERS, read_response, outcome)
        status, final_url, hops, queued_ms, has_body = (outcome.status, outcome.final_url, outcome.hops,
                                                        outcome.queued_ms, bool(outcome.body))
        del outcome, read  # the bytes are not held while the probe is waited for (page_read keeps what on_page needs)
        read_done()
        if verdict.status.alive and self.settings.soft404_probe and not is_site_root(target):
            verdict = await self._probe_verdict(target, final_url, hops, has_body, view, verdict)
        result = LinkCheck(
            url, canonical, verdict.status, status, final_url, hops,
            elapsed, started, verdict.reason, tries, verdict.paywall, queued_ms=queued_ms,
            anchors=anchors if verdict.status.alive else None,
        )
        if self.on_page is not None and result.status.alive and page_read is not None:
            await loop.run_in_executor(_READERS, self.on_page, result, page_read)  # whoever keeps it may normalise it
        return result

    def _accepted(self, rule: DomainRule) -> frozenset[int]:
        """Statuses that mean alive here, beyond 2xx (judged by content whatever the rules):
        --accept, and the domain's `accept` and `alive_statuses`."""
        return self.accepted | (parse_accept(rule.accept) - _SUCCESS) | rule.alive_statuses

    def _read_for_check(self, response: Response) -> tuple[PageRead | None, PageText]:
        """The page read in full (when it will be verified) and what classification looks at."""
        read = read_response(response) if self.on_page is not None and 200 <= response.status < 300 else None
        if read is not None and read.page is not None:
            return read, read.page
        return read, text.view_of(response.body, response.headers.get("Content-Type", ""))

    async def read(self, url: str) -> PageRead:
        """One page fetched in full and read, with the domain's rule (headers, skip) and
        the host's pacing, as a check would: for a page wanted without a check."""
        host = urllib.parse.urlsplit(url).hostname or ""
        rule_domain, rule = self.settings.domain_rule(host)
        if rule.skip:
            return PageRead(url, None, f"skipped by the rule for {rule_domain}")
        if self.settings.robots == "all" and not (allowed := await self.robots.allows(url))[0]:
            return PageRead(url, None, f"not read: {allowed[1]} (robots = all)")
        try:
            response = await self.fetcher.fetch(url, headers=rule.headers, headers_domain=rule_domain, admit=self._pages)
        except FetchError as error:
            return PageRead(url, None, error.reason)
        try:
            return await asyncio.get_running_loop().run_in_executor(_READERS, read_response, response)
        finally:
            self._pages.release()

    async def _fetch(self, url: str, headers: Mapping[str, str] | None,
                     domain: str | None) -> tuple[Response | FetchError, int, float, bool]:
        """The last outcome of up to 1 + retries tries, their number, the last one's time, and
        whether it holds a place in `_pages` (a page to read). A wait before trying again
        holds none."""
        tries = 0
        while True:
            tries += 1
            began = time.monotonic()
            try:
                response, admitted = await self._get(url, headers, domain)
            except FetchError as error:
                elapsed = (time.monotonic() - began) * 1000 - error.queued_ms  # the site's time, not the queue's
                wait = self.retry.after_error(error, tries, elapsed, self.rng)
                if wait is None:
                    return error, tries, elapsed, False
                await asyncio.sleep(wait)
                continue
            elapsed = (time.monotonic() - began) * 1000 - response.queued_ms
            wait = self.retry.after_response(response, tries, self.rng)
            if wait is None:  # an answer to keep, or asked to wait too long: recorded as it is
                if response.status in (429, 503) and (after := self.retry.retry_after(response)):
                    # not asked again, but the host's other URLs (and a shared run's next piece of
                    # the host) still wait what it asked, up to retry_after_cap
                    self.fetcher.pause_host(url, min(after, self.settings.retry_after_cap))
                return response, tries, elapsed, admitted
            if admitted:
                self._pages.release()  # this answer is not kept: its place goes before the wait
            if response.status in (429, 503):
                self.fetcher.pause_host(url, wait)  # the host said slow down: everyone waits
                if wait >= 1:
                    log.info("%s answered %s: its requests wait %.0f s (Retry-After or backoff)",
                             urllib.parse.urlsplit(url).hostname, response.status, wait)
            await asyncio.sleep(wait)

    async def _get(self, url: str, headers: Mapping[str, str] | None,
                   domain: str | None) -> tuple[Response, bool]:
        """The response, and whether it holds a place in `_pages` (a GET's body to read)."""
        max_bytes = self.settings.check_max_bytes
        if self.settings.check_method == "head":
            head = await self.fetcher.fetch(url, method="HEAD", headers=headers, headers_domain=domain)
            if 200 <= head.status < 300:
                return head, False
            # refused or disagreeing HEAD: ask again the way a browser would
        response = await self.fetcher.fetch(url, headers=headers, headers_domain=domain, max_bytes=max_bytes,
                                            admit=self._pages)
        return response, True

    async def _probe_verdict(self, url: str, final_url: str, hops: tuple[Hop, ...], has_body: bool, view: PageText,
                             verdict: Classification) -> Classification:
        probe = await self._probe(url)
        if probe.honest or not probe.usable:
            return verdict
        if hops and probe.hops == len(hops) and probe.final_url == final_url:
            return Classification(LinkStatus.SOFT_404, f"redirects where a made-up URL does ({final_url})")
        if has_body:
            score = similarity(view.visible, probe.text)
            if score >= SIMILAR:
                return Classification(LinkStatus.SOFT_404, f"same page as a made-up URL on the site ({score:.0%} alike)")
        return verdict

    async def _probe(self, url: str) -> _Probe:
        parts = urllib.parse.urlsplit(url)
        path = parts.path.rstrip("/")
        key = f"{parts.scheme}://{parts.netloc}{path[: path.rfind('/') + 1]}"
        if key not in self._probes:  # one probe per host and parent path, shared by waiters
            self._probes[key] = asyncio.ensure_future(self._run_probe(url))
        return await self._probes[key]

    async def _run_probe(self, url: str) -> _Probe:
        probe = probe_url(url, self.rng)
        if self.settings.robots != "none" and not (await self.robots.allows(probe))[0]:
            return _Probe(honest=False, usable=False)  # the site does not want it asked: no probe, no verdict from one
        try:
            response = await self.fetcher.fetch(probe, max_bytes=self.settings.check_max_bytes)
        except FetchError as error:
            return _Probe(honest=False, usable=error.kind in (FetchErrorKind.REDIRECT_LOOP, FetchErrorKind.TOO_MANY_REDIRECTS))
        if 400 <= response.status < 500 and response.status not in (401, 403, 429):
            return _Probe(honest=True, usable=True)
        if not 200 <= response.status < 300:
            return _Probe(honest=False, usable=False)
        view = await asyncio.get_running_loop().run_in_executor(
            _READERS, text.view_of, response.body, response.headers.get("Content-Type", ""))
        return _Probe(False, True, response.final_url, len(response.hops), view.visible)


def by_host_turns(keys: Sequence[str]) -> list[str]:
    """The URL keys taken host after host, one each in turn (a document's URLs often come a
    site at a time): the checks started first then span every host, never one host's queue."""
    queues: dict[str, list[str]] = {}
    for key in keys:
        queues.setdefault((urllib.parse.urlsplit(key).hostname or "").lower(), []).append(key)
    turns: list[str] = []
    for depth in range(max((len(q) for q in queues.values()), default=0)):
        turns += [queue[depth] for queue in queues.values() if depth < len(queue)]
    return turns


class NetworkUnreachable(CannotRunError):
    """Every check failed to connect, and so did the canary: the machine looks offline."""


async def check_urls_async(
    urls: Sequence[str],
    settings: Settings,
    *,
    on_result: Callable[[LinkCheck], None] | None = None,
    on_page: Callable[[LinkCheck, PageRead], None] | None = None,
    rng: random.Random | None = None,
    fragments: bool = False,
    paused: dict[str, float] | None = None,
) -> list[LinkCheck]:
    """One LinkCheck per input URL, in input order; each canonical URL is checked once
    (fragments aside: they never reach the server). With `fragments`, a URL whose
    `#fragment` names no id or anchor of its (alive) page is `fragment_not_found`. Raises
    NetworkUnreachable instead of reporting every link broken when offline. `paused`, when
    given, receives the hosts still held back at the end (`Fetcher.paused_until`)."""
    canonicals = [canonicalize(url) for url in urls]
    keys = [url_key(canonical) for canonical in canonicals]
    first: dict[str, str] = {}
    for url, key in zip(urls, keys):
        first.setdefault(key, url)
    async with checking_fetcher(settings) as fetcher:
        checker = Checker(fetcher, settings, rng=rng, on_page=on_page, fragments=fragments)

        async def one(url: str) -> LinkCheck:
            result = await checker.check(url)
            if on_result is not None:
                on_result(result)
            return result

        order = by_host_turns(list(first))
        try:
            checked = dict(zip(order, await gather_or_cancel([one(first[key]) for key in order])))
        finally:
            if paused is not None:
                paused.update(fetcher.paused_until())
        done = {key: checked[key] for key in first}
        if done and all(r.status in (LinkStatus.DNS_ERROR, LinkStatus.CONNECTION_ERROR) for r in done.values()):
            if reason := await canary_reason(fetcher, settings):
                raise NetworkUnreachable(
                    f"the network looks unreachable: all {len(done)} checks failed to connect, and so did the "
                    f"canary {settings.canary_url} ({reason}); nothing is reported broken"
                )
    return [_with_fragment(dataclasses.replace(done[key], url=url, canonical=canonical), fragments)
            for url, canonical, key in zip(urls, canonicals, keys)]


def _with_fragment(check: LinkCheck, fragments: bool) -> LinkCheck:
    fragment = urllib.parse.unquote(urllib.parse.urldefrag(check.url)[1])
    if not fragments or not fragment or not check.status.alive or fragment.startswith((":~:", "!")):
        return check  # text fragments and hash-bang routes are not anchors
    if check.anchors is None:
        return dataclasses.replace(check, reason=f"{check.reason}; #{fragment} not looked up: the page was not "
                                                 "read in full (a HEAD answer, or past check_max_bytes)")
    if fragment in check.anchors:
        return check
    return dataclasses.replace(check, status=LinkStatus.FRAGMENT_NOT_FOUND,
                               reason=f"{check.reason}; but no id or anchor #{fragment} in the page")


def checking_fetcher(settings: Settings) -> Fetcher:
    """The fetcher of checks and page reads: the check limits and pacing, the canary trusted."""
    return Fetcher(settings, trusted_urls=[settings.canary_url], concurrency=settings.check_concurrency,
                   per_host=settings.check_per_host, min_interval=settings.check_min_interval)


async def canary_reason(fetcher: Fetcher, settings: Settings) -> str | None:
    """Why the canary URL cannot be fetched, or None when the network answers."""
    try:
        await fetcher.fetch(settings.canary_url, max_bytes=1024)
    except FetchError as error:
        return error.reason
    return None


def canary_problem(settings: Settings) -> str | None:
    """`canary_reason` for callers without an event loop (a run, before it checks anything)."""
    async def probe() -> str | None:
        async with checking_fetcher(settings) as fetcher:
            return await canary_reason(fetcher, settings)

    return run_sync(probe())


async def gather_or_cancel(coroutines: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """`asyncio.gather`, except that when one fails (a piece told to stop, the network gone)
    the others are cancelled and waited for before it is raised: none is left pending on a
    loop that goes on (a worker's) or closes under it."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def read_pages_async(urls: Sequence[str], settings: Settings) -> dict[str, PageRead]:
    """Live pages read in full, concurrently, with the same limits, pacing and per-domain
    rules as checks: URL → PageRead."""
    if not urls:
        return {}
    async with checking_fetcher(settings) as fetcher:
        checker = Checker(fetcher, settings)
        return dict(zip(urls, await gather_or_cancel([checker.read(url) for url in urls])))


def read_pages(urls: Sequence[str], settings: Settings) -> dict[str, PageRead]:
    """`read_pages_async` for callers without an event loop."""
    return run_sync(read_pages_async(urls, settings)) if urls else {}


def check_urls(
    urls: Sequence[str], settings: Settings, *, on_result: Callable[[LinkCheck], None] | None = None,
    on_page: Callable[[LinkCheck, PageRead], None] | None = None, fragments: bool = False,
    paused: dict[str, float] | None = None,
) -> list[LinkCheck]:
    """`check_urls_async` for callers without an event loop."""
    return run_sync(check_urls_async(urls, settings, on_result=on_result, on_page=on_page, fragments=fragments,
                                     paused=paused))
