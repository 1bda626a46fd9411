"""The one place that builds HTTP clients: timeouts, byte caps, redirects and the private-address guard.

Two clients share one guard:
- `Fetcher`, over aiohttp, for the checker's hot path and page fetches: asyncio tasks
  waiting on a busy host hold no thread, and a request costs a fraction of the CPU time of
  a thread over requests or urllib3 (the Liveness issue has the measurements).
- `make_session()`, a `requests.Session`, for code that expects requests (waybackpy).

The guard sits where connections are made (aiohttp's resolver, urllib3's connection
classes), so it holds on every connection either client opens, every redirect hop included,
and the socket goes to the address it vetted (no second DNS answer can swap in a private
address between check and connect).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import os
import enum
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from typing import Any, TypeVar

import aiohttp
import aiohttp.abc
import requests
import requests.adapters
import requests.utils
import urllib3
import yarl
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from pipeline import USER_AGENT
from pipeline.config import Settings
from pipeline.guard import AddressRefused, ConnectTo, Guard
from pipeline.model import RedirectHop as Hop

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


class _GuardedConnectionMixin:
    """Replaces urllib3's `_new_conn` so that sockets go only where the guard allows."""

    guard: Guard

    def _new_conn(self) -> socket.socket:
        try:
            addresses = self.guard.route(self._dns_host, self.port)  # type: ignore[attr-defined]
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[attr-defined]
        last_error: OSError | None = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    address,
                    self.timeout,  # type: ignore[attr-defined]
                    source_address=self.source_address,  # type: ignore[attr-defined]
                    socket_options=self.socket_options,  # type: ignore[attr-defined]
                )
            except socket.timeout as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out."  # type: ignore[attr-defined]
                ) from exc
            except OSError as exc:
                last_error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {last_error}")


def _guarded_pool_classes(guard: Guard) -> dict[str, type]:
    connection = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), {"guard": guard})
    tls_connection = type(
        "GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), {"guard": guard}
    )
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": connection}),
        "https": type(
            "GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": tls_connection}
        ),
    }


# --- building clients -----------------------------------------------------------------


def ca_bundle(settings: Settings) -> str:
    """The CA file to verify TLS with: the setting, the standard variables, else certifi's."""
    for candidate in (settings.ca_bundle, os.environ.get("REQUESTS_CA_BUNDLE"), os.environ.get("SSL_CERT_FILE")):
        if candidate:
            return candidate
    return requests.utils.DEFAULT_CA_BUNDLE_PATH


def make_guard(settings: Settings, trusted_urls: Iterable[str] = ()) -> Guard:
    """The guard of the settings; `trusted_urls` (endpoints the operator configured, such
    as the archive's) and the environment's proxies may be reached whatever their address."""
    trusted = [_host_port(url) for url in trusted_urls]
    trusted += [_host_port(url) for url in urllib.request.getproxies().values() if "://" in url]
    return Guard(
        allow_private=settings.allow_private,
        connect_to=[ConnectTo.parse(spec) for spec in settings.connect_to],
        trusted=trusted,
    )


def _host_port(url: str) -> tuple[str, int]:
    parsed = urllib3.util.parse_url(url)
    return (parsed.host or "").lower().strip("[]"), parsed.port or (443 if parsed.scheme == "https" else 80)


class _GuardedAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, guard: Guard, **kwargs: Any) -> None:
        self._pool_classes = _guarded_pool_classes(guard)  # before super(): it builds the pool
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = self._pool_classes
        return manager


def default_headers() -> dict[str, str]:
    """What every request says: who we are (so site owners can reach us), what we read."""
    return {
        "User-Agent": USER_AGENT,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Encoding": "gzip, deflate",
    }


class _Session(requests.Session):
    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # noqa: ANN001, ANN201
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None:
            # requests lets REQUESTS_CA_BUNDLE beat the session's own `verify`
            # (psf/requests#3829); ours already falls back to it, so ours wins.
            merged["verify"] = self.verify
        return merged


def make_session(settings: Settings, trusted_urls: Iterable[str] = ()) -> requests.Session:
    """A requests session with the guard, the User-Agent, the redirect limit and the CA
    bundle. Callers pass `timeout=` per request (`timeouts(settings)`)."""
    guard = make_guard(settings, trusted_urls)
    session = _Session()
    session.headers.update(default_headers())
    session.max_redirects = settings.max_redirects
    session.verify = ca_bundle(settings)
    adapter = _GuardedAdapter(guard, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def timeouts(settings: Settings) -> tuple[float, float]:
    """(connect, read) timeouts for requests."""
    return settings.connect_timeout, settings.read_timeout


_BOUNDED_ENCODINGS = {"", "identity", "gzip", "x-gzip", "deflate"}


def read_streamed(response: requests.Response, cap: int, deadline: float) -> tuple[bytes, bool]:
    """Up to `cap` bytes of a requests response fetched with `stream=True`, decoded
    (urllib3 >= 2.6 inflates gzip and deflate in bounded steps), within the total deadline
    (a time.monotonic() value): a watchdog closes the connection when it passes, so a body
    trickled a byte at a time cannot hold the reader. Returns (body, truncated); raises
    FetchError on the deadline. A body in an encoding whose inflation cannot be bounded
    (brotli, zstd) is refused: one small read could expand to gigabytes."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if any(part.strip() not in _BOUNDED_ENCODINGS for part in encoding.split(",")):
        response.close()
        raise FetchError("connection_error", f"refused a body encoded as {encoding!r}: its inflation cannot be bounded")
    chunks: list[bytes] = []
    size = 0
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        # closing is not enough: a read blocked in another thread wakes only on shutdown
        sock = getattr(getattr(response.raw, "_connection", None), "sock", None)
        with contextlib.suppress(OSError):
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        response.close()

    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        for chunk in response.iter_content(chunk_size=_CHUNK):
            if expired.is_set() or time.monotonic() > deadline:
                raise FetchError("timeout", "deadline exceeded while reading the body")
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                return b"".join(chunks)[:cap], True
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError) as exc:
        if expired.is_set():
            raise FetchError("timeout", "deadline exceeded while reading the body") from exc
        raise FetchError("connection_error", f"connection broken: {exc}") from exc
    finally:
        watchdog.cancel()
        response.close()
    if expired.is_set():
        raise FetchError("timeout", "deadline exceeded while reading the body")
    return b"".join(chunks), False


class GuardResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's resolver, through the guard: connect_to applied, private addresses refused.
    aiohttp connects to the addresses returned, so the vetted address is the one used."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
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
        self._next_start: dict[str, float] = {}
        self.guard = make_guard(settings, trusted_urls)
        self.concurrency = concurrency
        self.per_host = per_host
        self._session: aiohttp.ClientSession | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._global = asyncio.Semaphore(concurrency)
        self._proxies = urllib.request.getproxies_environment()  # HTTP(S)_PROXY, NO_PROXY

    async def __aenter__(self) -> Fetcher:
        context = ssl.create_default_context(cafile=ca_bundle(self.settings))
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

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        headers_domain: str | None = None,
        max_bytes: int | None = None,
        follow_redirects: bool = True,
    ) -> Response:
        """The final response for `url`, or FetchError. HEAD reads no body. `headers` go
        only to hosts at or under `headers_domain` (by default the URL's own host), never to
        where a redirect leads elsewhere. The deadline starts when the request is sent: the
        wait for a free place for its host is `queued_ms`, never a time-out."""
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
                    async with self._slot(current):
                        if started is None:
                            started = time.monotonic()
                            deadline.reschedule(asyncio.get_running_loop().time() + settings.request_deadline)
                        response_cm = self._request(method, current, sent, hops)
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
                                headers={k: v for k, v in response.headers.items()},
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
    async def _slot(self, url: str) -> AsyncIterator[None]:
        """Wait for a free place for the URL's host (at most `per_host`) and in all (at most
        `concurrency`), host first, so that tasks queued on a busy host hold no place a
        free host could use. (aiohttp's own connector limits, left to queue thousands of
        waiters, wake them slowly: measured 3x the lower bound.)"""
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        semaphore = self._hosts.get(host)
        if semaphore is None:
            semaphore = self._hosts[host] = asyncio.Semaphore(self.per_host)
        async with semaphore:
            await self._pace(host)
            async with self._global:
                yield

    async def _pace(self, host: str) -> None:
        """Keep `min_interval` between the starts of two requests to one host, and honour
        a pause set by `pause_host` (a 429's Retry-After)."""
        now = time.monotonic()
        start = max(now, self._next_start.get(host, now))
        self._next_start[host] = start + self.min_interval
        if start > now:
            await asyncio.sleep(start - now)

    def pause_host(self, url: str, seconds: float) -> None:
        """No new request to the URL's host for `seconds` (it said 429 or 503)."""
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        self._next_start[host] = max(self._next_start.get(host, 0.0), time.monotonic() + seconds)

    def _request(
        self, method: str, url: str, headers: Mapping[str, str] | None, hops: list[Hop]
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
        if proxy and urllib.request.proxy_bypass_environment(target.host, self._proxies):
            proxy = None
        return self._session.request(method, target, headers=headers, allow_redirects=False, proxy=proxy)


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
    """Up to `cap` bytes of the body, inflated from gzip/deflate as read, so that a small
    compressed body cannot expand past the cap (a decompression bomb stops at it)."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
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


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from synchronous code; in a thread of its own when this
    thread already runs an event loop (a notebook, a test driving a browser)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def fetch(settings: Settings, url: str, **kwargs: Any) -> Response:
    """One fetch, for callers without an event loop (a single re-check, a script)."""

    async def once() -> Response:
        async with Fetcher(settings, concurrency=1, per_host=1) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return run_sync(once())


def _queued(since: float, started: float | None) -> float:
    return round(((started if started is not None else time.monotonic()) - since) * 1000, 1)


def _queued_error(error: FetchError, since: float, started: float | None) -> FetchError:
    error.queued_ms = _queued(since, started)
    return error


def host_under(host: str, domain: str) -> bool:
    """`host` is `domain` or a name under it."""
    host, domain = host.lower().rstrip("."), domain.lower().strip(".")
    return bool(domain) and (host == domain or host.endswith("." + domain))


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


def _ssl_reason(exc: BaseException) -> str:
    text = str(getattr(exc, "verify_message", "") or exc)
    for marker in ("certificate verify failed: ", "SSL: "):
        if marker in text:
            return text.split(marker, 1)[1].split(" (_ssl", 1)[0].rstrip(")")
    return text

