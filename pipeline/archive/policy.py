"""How citewatch asks an archive: one pacer per endpoint class, a pause of the whole class
on a 429, a few tries again, and a circuit breaker that stops asking for the run when the
archive keeps failing (docs/archives.md, "Limits"). Every archive request goes through
`RequestPolicy.request`."""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable

from pipeline.archive.model import ArchiveUnavailable
from pipeline.config import ArchiveConfig, Settings
from pipeline.http import BlockingFetcher, FetchError, FetchErrorKind, Pacer, Response, Retry

log = logging.getLogger(__name__)


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
    """One archive's client, pacers and breaker, shared by its index, reader and saver. The
    requests go out through the HTTP edge (`pipeline.http`): the guard, caps, deadline and
    the rules for asking again are the same as for any page; what is the archive's own is
    the pace of each endpoint class, the pause of a whole class on a 429, and the breaker."""

    def __init__(self, settings: Settings, config: ArchiveConfig, *, fetcher: BlockingFetcher | None = None) -> None:
        self.settings = settings
        self.config = config
        self.fetcher = fetcher or BlockingFetcher(
            settings, trusted_urls=[config.index_url, config.replay_url, config.save_url or ""],
            concurrency=settings.archive_threads, per_host=settings.archive_threads)
        cdx = settings.archive_cdx_per_minute if config.cdx_per_minute is None else config.cdx_per_minute
        replay = settings.archive_replay_per_second if config.replay_per_second is None else config.replay_per_second
        self.limiters = {
            Endpoint.CDX: Pacer.per(cdx, 60, name=f"{config.name}'s CDX searches ({cdx:g} a minute)"),
            Endpoint.REPLAY: Pacer.per(replay, 1, name=f"{config.name}'s replay ({replay:g} a second)"),
            Endpoint.SAVE: Pacer.per(settings.archive_save_per_minute, 60,
                                     name=f"{config.name}'s saves ({settings.archive_save_per_minute:g} a minute)"),
        }
        # a broken connection is the archive down, not a hiccup: only a timeout is tried again
        self.retry = Retry(settings.archive_retries, settings.archive_backoff, settings.retry_after_cap,
                           min_after_429=settings.archive_pause_on_429, on_errors=frozenset({FetchErrorKind.TIMEOUT}))
        self.breaker = CircuitBreaker(settings.archive_breaker_failures)
        self.requests_made = 0
        self.by_endpoint: Counter[Endpoint] = Counter()
        self._count = threading.Lock()
        self._rng = random.Random()

    def close(self) -> None:
        self.fetcher.close()

    def stop(self) -> None:
        """Cancel every request in flight or waiting for its pace; start no new one."""
        self.fetcher.stop()

    def send(self, endpoint: Endpoint, url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
             data: dict[str, str] | None = None) -> Response:
        """One request, paced by its class, with no retry or breaker (the run's one
        availability ping). Redirects are the caller's to follow, inside the archive."""
        with self._count:
            self.requests_made += 1
            self.by_endpoint[endpoint] += 1
        return self.fetcher.fetch(url, method=method, headers=headers, data=data, follow_redirects=False,
                                  pacer=self.limiters[endpoint])

    def request(self, endpoint: Endpoint, url: str, *, headers: dict[str, str] | None = None,
                method: str = "GET", data: dict[str, str] | None = None, allow_statuses: Iterable[int] = (),
                mementos: bool = False) -> Response:
        """One archive request with the class's pace, 429 pauses, tries again and the
        breaker. Any status outside 2xx/3xx and `allow_statuses` is ArchiveUnavailable. With
        `mementos`, an answer carrying `Memento-Datetime` is archived content whatever its
        status (a page that answered 429 when it was captured): returned as it is, never
        taken for the archive rate limiting us."""
        limiter = self.limiters[endpoint]
        what = endpoint.value
        allowed = set(allow_statuses)
        tries = 0
        while True:
            tries += 1
            if self.breaker.open:
                raise ArchiveUnavailable(f"the archive failed {self.breaker.failures} times in a row; not asking again this run")
            began = time.monotonic()
            try:
                response = self.send(endpoint, url, headers=headers, data=data, method=method)
            except FetchError as exc:
                if exc.kind is FetchErrorKind.REFUSED:
                    raise ArchiveUnavailable(exc.reason, refused=True) from exc
                self.breaker.record(False)
                elapsed = (time.monotonic() - began) * 1000 - exc.queued_ms
                wait = self.retry.after_error(exc, tries, elapsed, self._rng)
                if wait is not None:
                    limiter.pause(wait)
                    continue
                if exc.kind is FetchErrorKind.TIMEOUT:
                    raise ArchiveUnavailable(f"{what} timed out: {exc.reason}") from exc
                raise ArchiveUnavailable(f"{what} unreachable: {exc.reason}") from exc
            status = response.status
            if mementos and response.headers.get("Memento-Datetime"):
                self.breaker.record(True)
                return response
            if status in allowed or status < 400:
                self.breaker.record(True)
                return response
            self.breaker.record(False)
            wait = self.retry.after_response(response, tries, self._rng)
            if wait is not None:
                log.info("%s answered %s: its %s requests wait %.0f s, then ask again", self.config.name, status, what,
                         wait)
                limiter.pause(wait)  # the whole class waits: the archive said slow down, or is struggling
                continue
            if status == 429:
                asked = Retry.retry_after(response)
                limiter.pause(max(self.settings.archive_pause_on_429, min(asked or 0, self.settings.retry_after_cap)))
                raise ArchiveUnavailable(f"{what} rate limited (429); paused for {self.settings.archive_pause_on_429:g} s")
            raise ArchiveUnavailable(f"{what} answered {status}")


def read_body(response: Response, settings: Settings, what: str) -> str:
    """An index's answer (CDX, TimeMap) as text, read as a page is: at most max_body_bytes,
    within the request deadline (the edge's). An answer past the cap is the archive failing
    to answer, never "no capture": ArchiveUnavailable."""
    if response.truncated:
        raise ArchiveUnavailable(f"{what} answered more than {settings.max_body_bytes:,} bytes (max_body_bytes): "
                                 "not read")
    return response.text
