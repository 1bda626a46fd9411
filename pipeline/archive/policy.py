"""How citewatch asks an archive: one rate limiter per endpoint class, a pause of the whole
class on a 429, a few retries, and a circuit breaker that stops asking for the run when the
archive keeps failing (docs/archives.md, "Limits"). Every archive request goes through
`RequestPolicy.request`."""

from __future__ import annotations

import enum
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import requests

from pipeline.archive.model import ArchiveUnavailable
from pipeline.config import Settings
from pipeline.guard import AddressRefused
from pipeline.http import FetchError, make_session, read_streamed, timeouts
from pipeline.times import parse_retry_after


class RateLimiter:
    """At most `rate` requests per `per` seconds, evenly spaced, shared by threads; `pause`
    holds the whole class back (after a 429)."""

    def __init__(self, rate: float, per: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = per / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


class CircuitBreaker:
    """Opens after `threshold` failures in a row; once open, the archive is not asked again."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.failures = 0
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        return self.failures >= self.threshold

    def record(self, ok: bool) -> None:
        with self._lock:
            self.failures = 0 if ok else self.failures + 1


class Endpoint(enum.Enum):
    """The archive's endpoint classes, each with its own limit: CDX (and TimeMap) searches
    are scarce, replay (and TimeGate) reads plentiful, saves scarcer still."""

    CDX = "CDX"
    REPLAY = "replay"
    SAVE = "save"


class RequestPolicy:
    """One archive's session, limiters and breaker, shared by its index, reader and saver."""

    def __init__(self, settings: Settings, *, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or make_session(
            settings, trusted_urls=[settings.wayback_cdx_url, settings.wayback_replay_url, settings.wayback_save_url]
        )
        self.limiters = {
            Endpoint.CDX: RateLimiter(settings.archive_cdx_per_minute, 60),
            Endpoint.REPLAY: RateLimiter(settings.archive_replay_per_second, 1),
            Endpoint.SAVE: RateLimiter(settings.archive_save_per_minute, 60),
        }
        self.breaker = CircuitBreaker(settings.archive_breaker_failures)
        self.requests_made = 0
        self.by_endpoint: Counter[Endpoint] = Counter()
        self._count = threading.Lock()

    def send(self, endpoint: Endpoint, url: str, **kwargs: Any) -> requests.Response:
        """One request, paced by its class's limiter, with no retry or breaker: for the
        run's one availability ping."""
        self.limiters[endpoint].acquire()
        with self._count:
            self.requests_made += 1
            self.by_endpoint[endpoint] += 1
        return self.session.request(kwargs.pop("method", "GET"), url, timeout=timeouts(self.settings),
                                    allow_redirects=False, **kwargs)

    def request(self, endpoint: Endpoint, url: str, *, stream: bool = False, headers: dict[str, str] | None = None,
                method: str = "GET", data: Any = None, allow_statuses: Iterable[int] = (),
                mementos: bool = False) -> requests.Response:
        """One archive request with the class's limiter, 429 pauses, retries and the breaker.
        Any status outside 2xx/3xx and `allow_statuses` is ArchiveUnavailable. With
        `mementos`, an answer carrying `Memento-Datetime` is archived content whatever its
        status (a page that answered 429 when it was captured): returned as it is, never
        taken for the archive rate limiting us."""
        settings = self.settings
        limiter = self.limiters[endpoint]
        what = endpoint.value
        allowed = set(allow_statuses)
        for attempt in range(settings.archive_retries + 1):
            if self.breaker.open:
                raise ArchiveUnavailable(f"the archive failed {self.breaker.failures} times in a row; not asking again this run")
            try:
                response = self.send(endpoint, url, headers=headers, data=data, stream=stream, method=method)
            except AddressRefused as exc:
                raise ArchiveUnavailable(exc.reason, refused=True) from exc
            except requests.Timeout as exc:
                self.breaker.record(False)
                if attempt < settings.archive_retries:
                    continue
                raise ArchiveUnavailable(f"{what} timed out: {exc}") from exc
            except requests.RequestException as exc:
                self.breaker.record(False)
                raise ArchiveUnavailable(f"{what} unreachable: {short_reason(exc)}") from exc
            status = response.status_code
            if mementos and response.headers.get("Memento-Datetime"):
                self.breaker.record(True)
                return response
            if status == 429:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                limiter.pause(max(settings.archive_pause_on_429, retry_after or 0))
                response.close()
                if attempt < settings.archive_retries:
                    continue
                self.breaker.record(False)
                raise ArchiveUnavailable(f"{what} rate limited (429); paused for {settings.archive_pause_on_429:g} s")
            if status >= 500 and status not in allowed:
                response.close()
                self.breaker.record(False)
                if attempt < settings.archive_retries:
                    time.sleep(min(2 ** attempt, 10))
                    continue
                raise ArchiveUnavailable(f"{what} answered {status}")
            if status >= 400 and status not in allowed:
                response.close()
                self.breaker.record(False)
                raise ArchiveUnavailable(f"{what} answered {status}")
            self.breaker.record(True)
            return response
        raise ArchiveUnavailable(f"{what} failed")  # not reached: the loop returns or raises


def read_body(response: requests.Response, settings: Settings, what: str) -> bytes:
    """An index's answer (CDX, TimeMap), read as a page is: at most max_body_bytes, within
    the request deadline. An answer past either is the archive failing to answer, never "no
    capture": ArchiveUnavailable. The text stays on the response for its reader (waybackpy)."""
    try:
        body, truncated = read_streamed(response, settings.max_body_bytes, time.monotonic() + settings.request_deadline)
    except FetchError as exc:
        raise ArchiveUnavailable(f"{what}: {exc.reason}") from exc
    if truncated:
        raise ArchiveUnavailable(f"{what} answered more than {settings.max_body_bytes:,} bytes (max_body_bytes): "
                                 "not read")
    response._content = body  # what .text and .json() read: the bytes read under the caps
    response._content_consumed = True
    return body


def short_reason(exc: BaseException) -> str:
    """requests' nested exception text, cut to what a person needs."""
    text = str(exc)
    if match := re.search(r"Failed to resolve '([^']+)'", text):
        return f"cannot resolve {match.group(1)}"
    if match := re.search(r"\[Errno -?\d+\] ([^'\")]+)", text):
        return match.group(1).strip()
    return text[:200]
