"""The HTTP edge: the one place that talks to the web. Every rule of it lives here once:
the private-address guard and connect-to (through `pipeline.guard`), TLS and its CA bundle,
caps on bytes counted after decompression, a deadline per request, redirects followed by hand
and each hop vetted, per-host places and pacing, pausing on a 429, and when to ask again.

One client, `Fetcher`, over aiohttp: asyncio tasks waiting on a busy host hold no thread, and
a request costs a fraction of the CPU time of a thread over requests or urllib3 (the Liveness
issue has the measurements). `BlockingFetcher` is the same client for synchronous callers (the
archive's threads): their requests run on one background event loop.

The guard sits in aiohttp's resolver, so it holds on every connection opened, every redirect
hop included, and the socket goes to the address it vetted (no second DNS answer can swap in
a private address between check and connect).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import enum
import functools
import json
import logging
import os
import random
import signal
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
import weakref
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import aiohttp
import aiohttp.abc
import certifi
import requests.utils
import yarl
from multidict import CIMultiDict, CIMultiDictProxy

from pipeline import USER_AGENT
from pipeline.config import Settings
from pipeline.guard import AddressRefused, ConnectTo, Guard, host_port
from pipeline.model import RedirectHop as Hop
from pipeline.rules import host_under
from pipeline.times import parse_retry_after

log = logging.getLogger(__name__)
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 16 * 1024
T = TypeVar("T")


class FetchErrorKind(str, enum.Enum):
    """Why a request produced no final response."""

    DNS_ERROR = "dns_error"
    CONNECTION_ERROR = "connection_error"
    TLS_ERROR = "tls_error"
    TIMEOUT = "timeout"
    REDIRECT_LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REFUSED = "refused"
    INVALID_URL = "invalid_url"


class FetchError(Exception):
    """A request that produced no final response: its kind, a reason a person can read,
    and the redirects followed before it happened."""

    def __init__(self, kind: FetchErrorKind | str, reason: str, hops: tuple[Hop, ...] = ()) -> None:
        kind = FetchErrorKind(kind)
        super().__init__(f"{kind.value}: {reason}")
        self.kind = kind
        self.queued_ms = 0.0  # waiting for a place for the host before anything was sent
        self.reason = reason
        self.hops = hops


@dataclasses.dataclass(frozen=True)
class Response:
    """The final response of a fetch, with the redirect chain that led to it."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool
    hops: tuple[Hop, ...]
    elapsed_ms: float
    queued_ms: float = 0.0  # waiting for a free place for the host, before the request was sent

    @property
    def text(self) -> str:
        """The body as text, in the charset the answer names (UTF-8 when it names none)."""
        charset = "utf-8"
        for part in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value.strip('"'):
                charset = value.strip('"')
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.text)


# --- building clients -----------------------------------------------------------------


def ca_bundle(settings: Settings) -> str:
    """The CA file to verify TLS with: the setting, the standard variables, else certifi's."""
    for candidate in (settings.ca_bundle, os.environ.get("REQUESTS_CA_BUNDLE"), os.environ.get("SSL_CERT_FILE")):
        if candidate:
            return candidate
    return certifi.where()


def make_guard(settings: Settings, trusted_urls: Iterable[str] = ()) -> Guard:
    """The guard of the settings; `trusted_urls` (endpoints the operator configured, such
    as the archive's) and the environment's proxies may be reached whatever their address."""
    trusted = [host_port(url) for url in trusted_urls if url]
    trusted += [host_port(url) for url in urllib.request.getproxies().values() if "://" in url]
    return Guard(
        allow_private=settings.allow_private,
        connect_to=[ConnectTo.parse(spec) for spec in settings.connect_to],
        trusted=trusted,
    )


def default_headers() -> dict[str, str]:
    """What every request says: who we are (so site owners can reach us), what we read."""
    return {
        "User-Agent": USER_AGENT,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Encoding": "gzip, deflate",
    }


# --- politeness: pacing and asking again ----------------------------------------------


class Pacer:
    """At most one request start every `interval` seconds for one thing (a host, an
    archive's endpoint class), evenly spaced; `pause` holds it back (a 429's Retry-After).
    Claimed under a lock, so threads and tasks may share one."""

    def __init__(self, interval: float = 0.0, *, clock: Callable[[], float] = time.monotonic, name: str = "") -> None:
        self.interval = interval
        self.name = name  # what -v calls it when a request waits for it
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock

    @classmethod
    def per(cls, rate: float, seconds: float, *, clock: Callable[[], float] = time.monotonic, name: str = "") -> Pacer:
        """At most `rate` starts per `seconds` (0: no limit)."""
        return cls(seconds / rate if rate > 0 else 0.0, clock=clock, name=name)

    def claim(self) -> float:
        """Take the next start: how many seconds to wait for it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        return start - now

    async def wait(self) -> None:
        delay = self.claim()
        if delay >= 1 and self.name:
            log.info("waiting %.0f s for the pace of %s", delay, self.name)
        if delay > 0:
            await asyncio.sleep(delay)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)

    def held_for(self) -> float:
        """Seconds until the next start may be (0: now)."""
        with self._lock:
            return max(0.0, self._next - self._clock())


# The statuses that say "ask again later": rate limited, or the server failing for now.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A failure faster than this (ms) is a refusal, not a network hiccup: asking again changes nothing.
FAST_FAILURE_MS = 1.0


@dataclasses.dataclass(frozen=True)
class Retry:
    """When a request is asked again, and after how long: after a timeout or a broken
    connection that was not refused at once (`on_errors`), and after a 429 or a 5xx, up to `tries`
    further times (`timeout_tries` after a timeout, when given: each has already waited the
    whole read timeout); the wait doubles from `backoff` (with jitter), or is the answer's
    Retry-After (at least `min_after_429` after a 429). An answer asking for more than
    `retry_after_cap` seconds is not waited for."""

    tries: int
    backoff: float
    retry_after_cap: float
    min_after_429: float = 0.0
    on_errors: frozenset[FetchErrorKind] = frozenset({FetchErrorKind.TIMEOUT, FetchErrorKind.CONNECTION_ERROR})
    timeout_tries: int | None = None

    def after_error(self, error: FetchError, tries: int, elapsed_ms: float, rng: random.Random) -> float | None:
        """Seconds to wait before try `tries` + 1 after `error`, or None: do not ask again."""
        limit = self.timeout_tries if error.kind is FetchErrorKind.TIMEOUT and self.timeout_tries is not None \
            else self.tries
        if tries > limit or elapsed_ms < FAST_FAILURE_MS:
            return None
        if error.kind not in self.on_errors:
            return None
        return self.backoff_for(tries, rng)

    def after_response(self, response: Response, tries: int, rng: random.Random) -> float | None:
        """Seconds to wait before asking again after `response`, or None: take it as it is."""
        if response.status not in RETRY_STATUSES or tries > self.tries:
            return None
        wait = self.retry_after(response)
        if wait is not None and wait > self.retry_after_cap:
            return None
        if wait is None:
            wait = self.backoff_for(tries, rng)
        return max(wait, self.min_after_429) if response.status == 429 else wait

    @staticmethod
    def retry_after(response: Response) -> float | None:
        return parse_retry_after(response.headers.get("Retry-After"))

    def backoff_for(self, tries: int, rng: random.Random) -> float:
        return self.backoff * (2 ** (tries - 1)) * rng.uniform(0.5, 1.5)


class GuardResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's resolver, through the guard: connect_to applied, private addresses refused.
    aiohttp connects to the addresses returned, so the vetted address is the one used."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[aiohttp.abc.ResolveResult]:
        loop = asyncio.get_running_loop()
        addresses = await loop.run_in_executor(None, self.guard.route, host, port)
        return [
            {
                "hostname": host,
                "host": ip,
                "port": target_port,
                "family": socket.AF_INET6 if ":" in ip else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for ip, target_port in addresses
        ]

    async def close(self) -> None:
        pass


class _Admission:
    """A caller's semaphore, taken at most once for one fetch and given back at most once."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self.semaphore = semaphore
        self.taken = False

    async def take(self) -> None:
        if not self.taken:
            await self.semaphore.acquire()
            self.taken = True

    def give_back(self) -> None:
        if self.taken:
            self.taken = False
            self.semaphore.release()


class Fetcher:
    """The checker's pooled client (asyncio, aiohttp): the guard, timeouts, a total deadline
    per request, a cap on body bytes counted after decompression, redirects followed by
    hand so every hop is recorded and a cycle costs no more hops than it has, and at most
    `per_host` connections to one host and `concurrency` in all.

    aiohttp rather than threads over urllib3: with the GIL, thread switching made the
    threaded checkers CPU-bound (the Liveness issue's measurements), and tasks that wait for
    a busy host hold no thread. Use as `async with Fetcher(settings) as fetcher:`."""

    def __init__(
        self,
        settings: Settings,
        *,
        trusted_urls: Iterable[str] = (),
        concurrency: int = 32,
        per_host: int = 4,
        min_interval: float = 0.0,
    ) -> None:
        self.settings = settings
        self.min_interval = min_interval
        self._pacers: dict[str, Pacer] = {}
        self.guard = make_guard(settings, trusted_urls)
        self.concurrency = concurrency
        self.per_host = per_host
        self._session: aiohttp.ClientSession | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._global = asyncio.Semaphore(concurrency)
        self._proxies = urllib.request.getproxies_environment()  # HTTP(S)_PROXY, NO_PROXY

    async def __aenter__(self) -> Fetcher:
        context = client_context(ca_bundle(self.settings))
        connector = aiohttp.TCPConnector(
            resolver=GuardResolver(self.guard),
            limit=self.concurrency,
            limit_per_host=self.per_host,
            ssl=context,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=default_headers(),
            auto_decompress=False,  # we inflate, so that the cap bounds inflated bytes
            trust_env=False,  # proxies are ours (below): aiohttp would read netrc in a thread per request
            timeout=aiohttp.ClientTimeout(
                sock_connect=self.settings.connect_timeout, sock_read=self.settings.read_timeout
            ),
            skip_auto_headers=("Content-Type",),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str, *, admit: asyncio.Semaphore | None = None, **kwargs: Any) -> Response:
        """The final response for `url`, or FetchError. HEAD reads no body. `headers` go
        only to hosts at or under `headers_domain` (by default the URL's own host), never to
        where a redirect leads elsewhere. The deadline starts when the request is sent: the
        wait for a free place for its host is `queued_ms`, never a time-out. `data` is sent
        as a form; `pacer` (an archive's endpoint class) is waited for besides the host's.
        `admit` is taken once a place for the host is free (never while waiting for one) and,
        when a response is returned, left taken: the caller releases it once the page is read.
        On any error it is released here."""
        admission = _Admission(admit) if admit is not None else None
        try:
            return await self._fetch(url, admission=admission, **kwargs)
        except BaseException:
            if admission is not None:
                admission.give_back()
            raise

    async def _fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        headers_domain: str | None = None,
        max_bytes: int | None = None,
        follow_redirects: bool = True,
        data: Mapping[str, str] | None = None,
        pacer: Pacer | None = None,
        admission: _Admission | None = None,
    ) -> Response:
        """See `fetch`."""
        assert self._session is not None, "use `async with Fetcher(...)`"
        settings = self.settings
        cap = settings.max_body_bytes if max_bytes is None else max_bytes
        owner = (headers_domain or urllib.parse.urlsplit(url).hostname or "").lower()
        queued_since = time.monotonic()
        started: float | None = None
        hops: list[Hop] = []
        deadline = asyncio.timeout(None)
        try:
            async with deadline:
                seen = {url}
                current = url
                while True:
                    host = urllib.parse.urlsplit(current).hostname or ""
                    sent = headers if headers and host_under(host, owner) else None
                    if pacer is not None and started is None:
                        await pacer.wait()  # before taking a place: a paced request holds none while it waits
                    async with self._slot(current, admission if started is None else None):
                        if started is None:
                            started = time.monotonic()
                            deadline.reschedule(asyncio.get_running_loop().time() + settings.request_deadline)
                        response_cm = self._request(method, current, sent, hops, data)
                        async with response_cm as response:
                            location = response.headers.get("Location")
                            if follow_redirects and response.status in REDIRECT_CODES and location:
                                target = urllib.parse.urljoin(current, location.strip())
                                hops.append(Hop(current, response.status, target))
                                if target in seen:
                                    raise FetchError("redirect_loop", f"redirect loop back to {target}", tuple(hops))
                                if len(hops) > settings.max_redirects:
                                    raise FetchError(
                                        "too_many_redirects", f"more than {settings.max_redirects} redirects", tuple(hops)
                                    )
                                seen.add(target)
                                current = target
                                continue
                            body, truncated = b"", False
                            if method != "HEAD":
                                body, truncated = await _read_capped(response, cap)
                            return Response(
                                url=url,
                                final_url=current,
                                status=response.status,
                                headers=_headers(response.headers),
                                body=body,
                                truncated=truncated,
                                hops=tuple(hops),
                                elapsed_ms=round((time.monotonic() - started) * 1000, 1),
                                queued_ms=round((started - queued_since) * 1000, 1),
                            )
        except FetchError as error:
            error.queued_ms = _queued(queued_since, started)
            raise
        except TimeoutError as exc:
            reason = f"deadline of {settings.request_deadline:g}s exceeded"
            if started is not None and time.monotonic() - started < settings.request_deadline * 0.99:
                reason = "no answer within the read/connect timeout"
            raise _queued_error(FetchError("timeout", reason, tuple(hops)), queued_since, started) from exc
        except AddressRefused as exc:
            raise _queued_error(FetchError("refused", exc.reason, tuple(hops)), queued_since, started) from exc
        except aiohttp.ClientError as exc:
            raise _queued_error(_fetch_error(exc, tuple(hops)), queued_since, started) from exc
        except (ValueError, UnicodeError) as exc:
            raise _queued_error(FetchError("invalid_url", f"malformed URL: {exc}", tuple(hops)), queued_since,
                                started) from exc
        except OSError as exc:
            raise _queued_error(FetchError("connection_error", f"connection broken: {exc}", tuple(hops)), queued_since,
                                started) from exc

    @contextlib.asynccontextmanager
    async def _slot(self, url: str, admit: _Admission | None = None) -> AsyncIterator[None]:
        """Wait for a free place for the URL's host (at most `per_host`), then for `admit`
        (the caller's bound on pages fetched but not yet read), then in all (at most
        `concurrency`): host first, so that tasks queued on a busy host hold no place a free
        host could use. (aiohttp's own connector limits, left to queue thousands of waiters,
        wake them slowly: measured 3x the lower bound.)"""
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        semaphore = self._hosts.get(host)
        if semaphore is None:
            semaphore = self._hosts[host] = asyncio.Semaphore(self.per_host)
        async with semaphore:
            await self._pace(host)
            if admit is not None:
                await admit.take()
            async with self._global:
                yield

    def _pacer(self, host: str) -> Pacer:
        pacer = self._pacers.get(host)
        if pacer is None:
            pacer = self._pacers[host] = Pacer(self.min_interval)
        return pacer

    async def _pace(self, host: str) -> None:
        """Keep `min_interval` between the starts of two requests to one host, and honour
        a pause set by `pause_host` (a 429's Retry-After)."""
        await self._pacer(host).wait()

    def pause_host(self, url: str, seconds: float) -> None:
        """No new request to the URL's host for `seconds` (it said 429 or 503)."""
        self._pacer((urllib.parse.urlsplit(url).hostname or "").lower()).pause(seconds)

    def paused_until(self) -> dict[str, float]:
        """The hosts held back past now (a Retry-After, the pace), with when they may be asked
        again (seconds since the epoch): what the next holder of a host must honour."""
        now = time.time()
        return {host: now + held for host, pacer in self._pacers.items() if (held := pacer.held_for()) > 0}

    def _request(
        self, method: str, url: str, headers: Mapping[str, str] | None, hops: list[Hop],
        data: Mapping[str, str] | None = None,
    ) -> Any:
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError("invalid_url", f"not an http(s) URL: {url}", tuple(hops))
        try:
            target = yarl.URL(url)
        except (ValueError, TypeError) as exc:
            raise FetchError("invalid_url", f"malformed URL: {exc}", tuple(hops)) from exc
        if not target.host:
            raise FetchError("invalid_url", f"no host in URL: {url}", tuple(hops))
        self.guard.check_url(url)
        assert self._session is not None
        proxy = self._proxies.get(scheme)
        if proxy and urllib.request.proxy_bypass_environment(target.host, self._proxies):  # type: ignore[attr-defined]
            proxy = None
        return self._session.request(method, target, headers=headers, data=data, allow_redirects=False, proxy=proxy)


def _headers(raw: Mapping[str, str]) -> CIMultiDictProxy[str]:
    """An answer's headers, looked up in any case as HTTP wants; a field sent more than
    once is one value, joined with commas (RFC 9110 §5.3), except Set-Cookie."""
    joined: CIMultiDict[str] = CIMultiDict()
    for name, value in raw.items():
        if name in joined and name.lower() != "set-cookie":
            joined[name] = f"{joined[name]}, {value}"
        else:
            joined.add(name, value)
    return CIMultiDictProxy(joined)


_BOUNDED_ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip", "deflate"})


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
    """Up to `cap` bytes of the body, inflated from gzip/deflate as read, so that a small
    compressed body cannot expand past the cap (a decompression bomb stops at it). A body in
    an encoding whose inflation cannot be bounded (brotli, zstd), or in several, is refused:
    we never asked for one (Accept-Encoding), and one small read could expand to gigabytes."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in _BOUNDED_ENCODINGS:
        response.close()
        raise FetchError("connection_error", f"refused a body encoded as {encoding!r}: its inflation cannot be bounded")
    inflater = None
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflater = zlib.decompressobj()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        if inflater is not None:
            try:
                data = inflater.decompress(chunk, cap - size + 1)
                while inflater.unconsumed_tail and size + len(data) <= cap:
                    data += inflater.decompress(inflater.unconsumed_tail, cap - size - len(data) + 1)
            except zlib.error as exc:
                raise FetchError("connection_error", f"corrupt {encoding} body: {exc}") from exc
            chunk = data
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            response.close()  # the rest is not read, so the connection cannot be reused
            return b"".join(chunks)[:cap], True
    if inflater is not None:
        chunks.append(inflater.flush())
    body = b"".join(chunks)
    return body[:cap], len(body) > cap


@contextlib.contextmanager
def _python_sigint() -> Iterator[None]:
    """Python's own Ctrl-C handler for the length of an event loop in the main thread: with
    it, asyncio turns Ctrl-C into cancelling its tasks, then KeyboardInterrupt (with another
    handler the interrupt would land inside whichever task runs). The caller's is put back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGINT)
    if before is signal.default_int_handler or not callable(before):
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from synchronous code; in a thread of its own when this
    thread already runs an event loop (a notebook, a test driving a browser)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        with _python_sigint():
            return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def fetch(settings: Settings, url: str, **kwargs: Any) -> Response:
    """One fetch, for callers without an event loop (a single re-check, a script)."""

    async def once() -> Response:
        async with Fetcher(settings, concurrency=1, per_host=1) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return run_sync(once())


_LOOP_LOCK = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    """The event loop the synchronous callers' requests run on: one thread for the process."""
    global _loop
    with _LOOP_LOCK:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="citewatch-http", daemon=True).start()
        return _loop


class BlockingFetcher:
    """A `Fetcher` for synchronous code, the archive's threads: each `fetch` runs on the
    background event loop and blocks its caller until the answer is read. Same guard, caps,
    deadline and pacing as every other request. `close()` (or the end of a `with`) closes
    its connections; a fetcher dropped unclosed is closed when it is collected."""

    def __init__(self, settings: Settings, *, trusted_urls: Iterable[str] = (), concurrency: int = 8,
                 per_host: int = 8) -> None:
        self._fetcher = Fetcher(settings, trusted_urls=trusted_urls, concurrency=concurrency, per_host=per_host)
        self.guard = self._fetcher.guard
        self._loop = _background_loop()
        self._opened = False
        self._stopped = False
        self._lock = threading.Lock()
        self._in_flight: set[concurrent.futures.Future[Any]] = set()
        self._finalizer = weakref.finalize(self, _close_fetcher, self._loop, self._fetcher)

    def fetch(self, url: str, **kwargs: Any) -> Response:
        """`Fetcher.fetch`, from a thread that is not the background loop's. After `stop()`,
        FetchError at once."""
        with self._lock:
            if self._stopped:
                raise FetchError("connection_error", "stopped: the run was interrupted")
            if not self._opened:
                self._wait(self._fetcher.__aenter__())
                self._opened = True
        return self._wait(self._fetcher.fetch(url, **kwargs), cancellable=True)

    def stop(self) -> None:
        """Ctrl-C: every request in flight or waiting for its pace is cancelled at once (its
        caller gets CancelledError), and no new one starts."""
        with self._lock:
            self._stopped = True
            pending = list(self._in_flight)
        for future in pending:
            future.cancel()

    def close(self) -> None:
        with self._lock:
            if self._opened:
                self._wait(self._fetcher.__aexit__())
                self._opened = False
        self._finalizer.detach()

    def __enter__(self) -> BlockingFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait(self, coroutine: Coroutine[Any, Any, T], *, cancellable: bool = False) -> T:
        """The coroutine's result; a request (`cancellable`) is one `stop()` cancels."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        if not cancellable:
            return future.result()
        self._in_flight.add(future)
        if self._stopped:  # stopped between the check in fetch() and here
            future.cancel()
        try:
            return future.result()
        finally:
            self._in_flight.discard(future)


def _close_fetcher(loop: asyncio.AbstractEventLoop, fetcher: Fetcher) -> None:
    if not loop.is_closed():
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(fetcher.__aexit__(), loop).result(timeout=2)


def header_links(value: str) -> list[tuple[str, frozenset[str], dict[str, str]]]:
    """The links of a Link header or a link-format document (RFC 8288; a Memento TimeMap):
    (URI, its relation types, its other parameters). A `rel` holds one or more types
    (`rel="original timegate"`)."""
    found = []
    for link in requests.utils.parse_header_links(" ".join(value.split())):
        params = {key.lower(): text for key, text in link.items() if key not in ("url", "rel")}
        found.append((link.get("url", ""), frozenset(link.get("rel", "").lower().split()), params))
    return found


def _queued(since: float, started: float | None) -> float:
    return round(((started if started is not None else time.monotonic()) - since) * 1000, 1)


def _queued_error(error: FetchError, since: float, started: float | None) -> FetchError:
    error.queued_ms = _queued(since, started)
    return error


def _fetch_error(exc: aiohttp.ClientError, hops: tuple[Hop, ...]) -> FetchError:
    """Map aiohttp's exceptions onto FetchError kinds, with a short human reason."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return FetchError("tls_error", f"TLS: {_ssl_reason(exc.certificate_error)}", hops)
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or (
        isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, socket.gaierror)
    ):
        return FetchError("dns_error", f"DNS: cannot resolve {exc.host}", hops)
    if isinstance(exc, aiohttp.ClientSSLError):
        return FetchError("tls_error", f"TLS: {_ssl_reason(exc)}", hops)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return FetchError("connection_error", f"proxy: {exc}", hops)
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or str(exc.os_error)
        return FetchError("connection_error", f"cannot connect to {exc.host}:{exc.port}: {reason}", hops)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return FetchError("timeout", "no answer within the read/connect timeout", hops)
    if isinstance(exc, aiohttp.InvalidURL):
        return FetchError("invalid_url", f"malformed URL: {exc}", hops)
    if isinstance(exc, aiohttp.TooManyRedirects):
        return FetchError("too_many_redirects", str(exc), hops)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError)):
        return FetchError("connection_error", f"connection broken: {exc}", hops)
    return FetchError("connection_error", f"{type(exc).__name__}: {exc}", hops)


@functools.lru_cache(maxsize=8)
def client_context(cafile: str | None) -> ssl.SSLContext:
    """The TLS context of a CA bundle, made once a process: loading a bundle costs tens of
    milliseconds, and a worker opens a fetcher for each piece it takes. (A bundle replaced
    on disk is read again by the next process.)"""
    return ssl.create_default_context(cafile=cafile)


def _ssl_reason(exc: BaseException) -> str:
    text = str(getattr(exc, "verify_message", "") or exc)
    for marker in ("certificate verify failed: ", "SSL: "):
        if marker in text:
            return text.split(marker, 1)[1].split(" (_ssl", 1)[0].rstrip(")")
    return text

