"""Wayback CDX, TimeGate and Save Page Now client: the snapshot closest to a claim's date.

One CDX query per canonical URL (waybackpy's CDX class, its endpoint and dialect from the
settings) gives every capture; the closest 200 capture to the claim's date, the first and
the last are computed from that one answer. Every request goes through rate limiters, one
per endpoint class (CDX, replay, save), paused for at least a minute on a 429 (the Internet
Archive blocks clients that keep asking), and a circuit breaker that stops asking for the
run when the archive keeps failing. An archive that cannot be reached gives
`archive_unavailable`, never "no snapshot". See notes/wayback.md for the APIs' quirks.
"""

from __future__ import annotations

import dataclasses
import email.utils
import enum
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import requests
import waybackpy.cdx_api
from waybackpy.cdx_utils import check_for_blocked_site
from waybackpy.exceptions import BlockedSiteError, WaybackError

from pipeline import USER_AGENT
from pipeline.config import Settings
from pipeline.http import AddressRefused, FetchError, make_session, read_streamed, timeouts

IA_FIELDS = "urlkey,timestamp,original,mimetype,statuscode,digest,length"
PYWB_FIELDS = "urlkey,timestamp,url,mime,status,digest,length"
MAX_ARCHIVE_HOPS = 5


class ArchiveState(str, enum.Enum):
    FOUND = "found"
    NONE = "none"
    UNAVAILABLE = "archive_unavailable"


@dataclasses.dataclass(frozen=True)
class Capture:
    """One CDX row."""

    timestamp: str  # YYYYMMDDhhmmss
    original: str
    mimetype: str
    status: int | None  # None for revisit records ("-")
    digest: str
    length: str


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A capture as the report shows it: when, what status, where to read it."""

    timestamp: str
    status: int | None
    replay_url: str
    raw_url: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Lookup:
    """What the archive holds for one URL. `via` says how we know: cdx, timegate, cache."""

    url: str
    state: ArchiveState
    captures: int = 0
    digests: int = 0
    closest: Snapshot | None = None
    first: Snapshot | None = None
    last: Snapshot | None = None
    reason: str = ""
    queried_url: str = ""
    via: str = "cdx"

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "state": self.state.value,
            "captures": self.captures,
            "digests": self.digests,
            "closest": self.closest.to_json() if self.closest else None,
            "first": self.first.to_json() if self.first else None,
            "last": self.last.to_json() if self.last else None,
            "reason": self.reason,
            "queried_url": self.queried_url,
            "via": self.via,
        }


@dataclasses.dataclass(frozen=True)
class Evidence:
    """The raw bytes of a capture, read through the archive (`id_`), redirects followed."""

    snapshot: Snapshot
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool


class ArchiveUnavailable(Exception):
    """The archive could not answer: down, failing, rate limiting us, or the breaker is open."""


# --- pure parts -----------------------------------------------------------------------


def date_to_timestamp(date: str | None) -> str | None:
    """"2009" → "20090101000000", "2016-05-23" → "20160523000000"."""
    if not date:
        return None
    digits = date.replace("-", "")
    return (digits + "0101000000"[len(digits) - 4:])[:14] if len(digits) < 14 else digits[:14]


def _to_datetime(timestamp: str) -> datetime:
    return datetime.strptime(timestamp[:14].ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)


def preference(captures: Sequence[Capture], date: str | None, after_window_days: int) -> list[Capture]:
    """The captures that may serve as evidence for a claim dated `date`, best first: 200
    captures on or after the date within the window (nearest first), then before it
    (nearest first), then after the window; then, in the same order, redirect captures
    (followed inside the archive when read). Without a date, newest first. 4xx and 5xx
    captures never serve."""
    target = date_to_timestamp(date)

    def ordered(group: list[Capture]) -> list[Capture]:
        if target is None:
            return sorted(group, key=lambda c: c.timestamp, reverse=True)
        horizon = _to_datetime(target) + timedelta(days=after_window_days)
        after = sorted((c for c in group if c.timestamp >= target), key=lambda c: c.timestamp)
        before = sorted((c for c in group if c.timestamp < target), key=lambda c: c.timestamp, reverse=True)
        near_after = [c for c in after if _to_datetime(c.timestamp) <= horizon]
        far_after = [c for c in after if _to_datetime(c.timestamp) > horizon]
        return near_after + before + far_after

    ok = [c for c in captures if c.status == 200]
    redirects = [c for c in captures if c.status is not None and 300 <= c.status < 400]
    return ordered(ok) + ordered(redirects)


def snapshot_of(capture: Capture, replay_prefix: str) -> Snapshot:
    """Replay and raw URLs built from the configured prefix, never waybackpy's archive_url."""
    return Snapshot(
        timestamp=capture.timestamp,
        status=capture.status,
        replay_url=f"{replay_prefix}{capture.timestamp}/{capture.original}",
        raw_url=f"{replay_prefix}{capture.timestamp}id_/{capture.original}",
    )


def summarize(
    url: str, captures: Sequence[Capture], date: str | None, settings: Settings, *, queried_url: str = "", via: str = "cdx"
) -> Lookup:
    """The lookup computed locally from one CDX answer."""
    if not captures:
        return Lookup(url, ArchiveState.NONE, reason="no captures", queried_url=queried_url, via=via)
    ordered = sorted(captures, key=lambda c: c.timestamp)
    best = preference(captures, date, settings.archive_after_window_days)
    prefix = settings.wayback_replay_url
    return Lookup(
        url=url,
        state=ArchiveState.FOUND if best else ArchiveState.NONE,
        captures=len(captures),
        digests=len({c.digest for c in captures if c.digest and c.digest != "-"}),
        closest=snapshot_of(best[0], prefix) if best else None,
        first=snapshot_of(ordered[0], prefix),
        last=snapshot_of(ordered[-1], prefix),
        reason="" if best else f"{len(captures)} captures, none usable (no 200 or redirect)",
        queried_url=queried_url,
        via=via,
    )


def url_variants(url: str) -> list[str]:
    """Forms the archive may key differently: the other scheme, with or without `www.`,
    with or without a trailing slash. Tried only when the URL itself has no capture."""
    parts = urllib.parse.urlsplit(url)
    scheme = "http" if parts.scheme == "https" else "https"
    host = parts.netloc[4:] if parts.netloc.startswith("www.") else "www." + parts.netloc
    path = parts.path[:-1] if parts.path.endswith("/") and parts.path != "/" else parts.path + "/"
    candidates = [
        parts._replace(scheme=scheme).geturl(),
        parts._replace(netloc=host).geturl(),
        parts._replace(path=path).geturl() if not parts.query else None,
    ]
    return [c for c in dict.fromkeys(candidates) if c and c != url]


def memento_timestamp(header: str | None) -> str | None:
    """A Memento-Datetime header (RFC 7089, an HTTP date) as 14 digits."""
    if not header:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")


def into_archive(location: str, current: str, replay_prefix: str, timestamp: str) -> str:
    """Where an archived redirect leads, kept inside the archive: a Location that points at
    the live web is mapped back to `<prefix><timestamp>id_/<location>`."""
    target = urllib.parse.urljoin(current, location)
    if target.startswith(replay_prefix):
        return target
    return f"{replay_prefix}{timestamp}id_/{target}"


# --- politeness -----------------------------------------------------------------------


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


# --- the client -----------------------------------------------------------------------

_local = threading.local()


def _cdx_get_response(url: str, headers: dict[str, str] | None = None, retries: int = 5,
                      backoff_factor: float = 0.5) -> requests.Response:
    """Replaces waybackpy's one HTTP choke point (`waybackpy.cdx_api.get_response`): our
    session, timeouts, dialect fields, limiter, 429 pause and breaker. Without a client
    active in this thread, waybackpy behaves as it always has."""
    client: ArchiveClient | None = getattr(_local, "client", None)
    if client is None:
        return _original_get_response(url, headers=headers, retries=retries, backoff_factor=backoff_factor)
    return client._cdx_request(url, headers or {})


_original_get_response = waybackpy.cdx_api.get_response
waybackpy.cdx_api.get_response = _cdx_get_response


class Cache(Protocol):
    def get(self, key: str) -> tuple[list[Capture], str] | None: ...
    def put(self, key: str, captures: list[Capture], queried_url: str) -> None: ...


class MemoryCache:
    """CDX answers kept for one invocation (the store keeps them across runs)."""

    def __init__(self) -> None:
        self._data: MutableMapping[str, tuple[list[Capture], str]] = {}

    def get(self, key: str) -> tuple[list[Capture], str] | None:
        return self._data.get(key)

    def put(self, key: str, captures: list[Capture], queried_url: str) -> None:
        self._data[key] = (captures, queried_url)


class ArchiveClient:
    """Snapshots of URLs from a Wayback-compatible archive (the Internet Archive by default,
    pywb-based archives with the `pywb` dialect)."""

    def __init__(self, settings: Settings, *, cache: Cache | None = None,
                 session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or make_session(
            settings, trusted_urls=[settings.wayback_cdx_url, settings.wayback_replay_url, settings.wayback_save_url]
        )
        self.cache = cache if cache is not None else MemoryCache()
        self.cdx_limiter = RateLimiter(settings.archive_cdx_per_minute, 60)
        self.replay_limiter = RateLimiter(settings.archive_replay_per_second, 1)
        self.save_limiter = RateLimiter(settings.archive_save_per_minute, 60)
        self.breaker = CircuitBreaker(settings.archive_breaker_failures)
        self.requests_made = 0
        self._timegate: dict[tuple[str, str | None], Lookup] = {}
        self._mementos: dict[tuple[str, str | None], Evidence] = {}  # read by the TimeGate, kept for evidence()

    # -- lookups -----------------------------------------------------------------------
    def lookup(self, url: str, date: str | None = None) -> Lookup:
        """The snapshots of `url` for a claim dated `date` (YYYY[-MM[-DD]]); in `timegate`
        mode the closest memento is asked for first and CDX used only when it is unusable."""
        if self.settings.archive_mode == "timegate" and self.cache.get(url) is None and not self.breaker.open:
            key = (url, date)
            if key in self._timegate:
                return dataclasses.replace(self._timegate[key], via="cache")
            fast = self._timegate_lookup(url, date)
            if fast is not None:
                self._timegate[key] = fast
                return fast
        try:
            captures, queried, via = self.captures(url, date)
        except BlockedSiteError:
            return Lookup(url, ArchiveState.NONE, reason="the archive excludes this site", queried_url=url)
        except ArchiveUnavailable as exc:
            return Lookup(url, ArchiveState.UNAVAILABLE, reason=str(exc), queried_url=url)
        return summarize(url, captures, date, self.settings, queried_url=queried, via=via)

    def captures(self, url: str, date: str | None = None) -> tuple[list[Capture], str, str]:
        """Every capture of `url` (or, when it has none, of the first variant that has):
        (captures, URL queried, "cdx" or "cache"). One CDX query a URL per cache age."""
        start, end = self._window(date)
        key = url if start is None else f"{url} {start}-{end}"
        cached = self.cache.get(key)
        if cached is not None:
            return cached[0], cached[1], "cache"
        captures, queried = self._query(url, start, end), url
        if not captures:
            for variant in url_variants(url):
                captures = self._query(variant, start, end)
                if captures:
                    queried = variant
                    break
        self.cache.put(key, captures, queried)
        return captures, queried, "cdx"

    def _window(self, date: str | None) -> tuple[str | None, str | None]:
        """CDX from/to around the date when `archive_window_days` bounds queries."""
        target = date_to_timestamp(date)
        if not self.settings.archive_window_days or target is None:
            return None, None
        moment, span = _to_datetime(target), timedelta(days=self.settings.archive_window_days)
        return (moment - span).strftime("%Y%m%d%H%M%S"), (moment + span).strftime("%Y%m%d%H%M%S")

    def _query(self, url: str, start: str | None, end: str | None) -> list[Capture]:
        settings = self.settings
        api = waybackpy.cdx_api.WaybackMachineCDXServerAPI(
            url, user_agent=USER_AGENT, start_timestamp=start, end_timestamp=end,
            limit=str(settings.archive_max_captures),
        )
        api.endpoint = settings.wayback_cdx_url
        _local.client = self
        try:
            return [
                Capture(s.timestamp, s.original, s.mimetype, int(s.statuscode) if s.statuscode.isdigit() else None,
                        s.digest, s.length)
                for s in api.snapshots()
            ]
        except WaybackError as exc:
            if isinstance(exc, BlockedSiteError):
                raise
            self.breaker.record(False)
            raise ArchiveUnavailable(f"unexpected CDX answer: {str(exc).splitlines()[0]}") from exc
        finally:
            _local.client = None

    def _cdx_request(self, url: str, headers: dict[str, str]) -> requests.Response:
        fields = IA_FIELDS if self.settings.wayback_dialect == "ia" else PYWB_FIELDS
        url += f"&fl={fields}" + ("&output=text&allowFuzzy=false" if self.settings.wayback_dialect == "pywb" else "")
        response = self._request(self.cdx_limiter, url, headers=headers, what="CDX")
        check_for_blocked_site(response)
        return response

    def _request(self, limiter: RateLimiter, url: str, *, what: str, stream: bool = False,
                 headers: dict[str, str] | None = None, method: str = "GET", data: Any = None,
                 allow_statuses: Iterable[int] = ()) -> requests.Response:
        """One archive request with the class's limiter, 429 pauses, retries and the breaker.
        Any status outside 2xx/3xx and `allow_statuses` is ArchiveUnavailable."""
        settings = self.settings
        allowed = set(allow_statuses)
        for attempt in range(settings.archive_retries + 1):
            if self.breaker.open:
                raise ArchiveUnavailable(f"the archive failed {self.breaker.failures} times in a row; not asking again this run")
            limiter.acquire()
            self.requests_made += 1
            try:
                response = self.session.request(method, url, headers=headers, data=data, timeout=timeouts(settings),
                                                stream=stream, allow_redirects=False)
            except AddressRefused as exc:
                raise ArchiveUnavailable(exc.reason) from exc
            except requests.Timeout as exc:
                self.breaker.record(False)
                if attempt < settings.archive_retries:
                    continue
                raise ArchiveUnavailable(f"{what} timed out: {exc}") from exc
            except requests.RequestException as exc:
                self.breaker.record(False)
                raise ArchiveUnavailable(f"{what} unreachable: {_short(exc)}") from exc
            status = response.status_code
            if status == 429:
                retry_after = _retry_after(response.headers.get("Retry-After"))
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

    def ping(self) -> str | None:
        """Why the archive does not answer, or None when it does: one small CDX query, no
        retries (a run asks this once before relying on the archive)."""
        fields = IA_FIELDS if self.settings.wayback_dialect == "ia" else PYWB_FIELDS
        url = f"{self.settings.wayback_cdx_url}?url=example.com&limit=1&fl={fields}"
        self.cdx_limiter.acquire()
        self.requests_made += 1
        try:
            response = self.session.get(url, timeout=timeouts(self.settings))
        except AddressRefused as exc:
            return exc.reason
        except requests.RequestException as exc:
            return f"CDX unreachable: {_short(exc)}"
        response.close()
        if response.status_code == 429:
            self.cdx_limiter.pause(self.settings.archive_pause_on_429)
            return "the archive is rate limiting us (429)"
        if response.status_code >= 500:
            return f"CDX answered {response.status_code}"
        return None

    # -- TimeGate ----------------------------------------------------------------------
    def _timegate_lookup(self, url: str, date: str | None) -> Lookup | None:
        """The closest memento through the TimeGate (`<prefix><date>id_/<url>`, RFC 7089),
        one replay-class request; None when its answer is not a usable 200 capture."""
        stamp = date_to_timestamp(date) or datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
        try:
            evidence = self._read_memento(f"{self.settings.wayback_replay_url}{stamp}id_/{url}", stamp)
        except (ArchiveUnavailable, FetchError):
            return None
        if evidence is None or evidence.status != 200:
            return None
        self._mementos[(url, date)] = evidence
        return Lookup(url, ArchiveState.FOUND, captures=0, digests=0, closest=evidence.snapshot,
                      queried_url=url, via="timegate", reason="closest memento from the TimeGate")

    # -- reading captures --------------------------------------------------------------
    def evidence(self, url: str, date: str | None = None, *, tries: int = 3) -> Evidence | None:
        """The raw copy of the best capture for the claim: when the archive errors on it,
        the next in preference from the same CDX answer (no new query); 4xx/5xx captures
        and archive errors are never evidence. None when no capture can be read. In
        TimeGate mode the memento the TimeGate gave is the evidence (no CDX query)."""
        if self.settings.archive_mode == "timegate":
            if (url, date) not in self._mementos and (url, date) not in self._timegate:
                self.lookup(url, date)
            if (url, date) in self._mementos:
                return self._mementos.pop((url, date))  # read once: bodies are not kept all run
        try:
            captures, _, _ = self.captures(url, date)
        except (ArchiveUnavailable, BlockedSiteError):
            return None
        for capture in preference(captures, date, self.settings.archive_after_window_days)[:tries]:
            snapshot = snapshot_of(capture, self.settings.wayback_replay_url)
            try:
                found = self._read_memento(snapshot.raw_url, capture.timestamp)
            except (ArchiveUnavailable, FetchError):
                continue
            if found is not None and found.status == 200:
                return found
        return None

    def _read_memento(self, raw_url: str, timestamp: str) -> Evidence | None:
        """Read a raw memento, following archived redirects inside the archive. None when
        the answer is the archive's own (no Memento-Datetime): not archived, or an error."""
        prefix = self.settings.wayback_replay_url
        deadline = time.monotonic() + self.settings.request_deadline
        current = raw_url
        for _hop in range(MAX_ARCHIVE_HOPS + 1):
            response = self._request(self.replay_limiter, current, what="replay", stream=True,
                                     allow_statuses=range(400, 600))
            memento = memento_timestamp(response.headers.get("Memento-Datetime"))
            if memento is None:
                if 300 <= response.status_code < 400 and response.headers.get("Location"):
                    # the IA's TimeGate answers an inexact timestamp with a redirect to the memento
                    current = urllib.parse.urljoin(current, response.headers["Location"])
                    response.close()
                    continue
                response.close()
                if response.status_code >= 500:
                    raise ArchiveUnavailable(f"replay answered {response.status_code}")
                return None
            if 300 <= response.status_code < 400 and response.headers.get("Location"):
                current = into_archive(response.headers["Location"], current, prefix, memento)
                response.close()
                continue
            body, truncated = read_streamed(response, self.settings.max_body_bytes, deadline)
            original = _original_of(response.headers.get("Link", "")) or _strip_prefix(current, prefix)
            snapshot = Snapshot(memento, response.status_code, f"{prefix}{memento}/{original}",
                                f"{prefix}{memento}id_/{original}")
            return Evidence(snapshot, original, response.status_code, dict(response.headers), body, truncated)
        raise ArchiveUnavailable("too many archived redirects")

    # -- saving ------------------------------------------------------------------------
    def save(self, url: str) -> SaveResult:
        """Ask the archive to capture `url` now (Save Page Now 2 at the Internet Archive,
        record mode on pywb). The caller makes sure the URL is alive."""
        if self.settings.wayback_dialect == "pywb":
            return self._save_pywb(url)
        return self._save_spn2(url)

    def _save_spn2(self, url: str) -> SaveResult:
        settings = self.settings
        if not (settings.ia_access_key and settings.ia_secret_key):
            return SaveResult(url, "needs_keys", None,
                              "saving needs Internet Archive keys: set CITEWATCH_IA_ACCESS_KEY and CITEWATCH_IA_SECRET_KEY")
        headers = {"Accept": "application/json",
                   "Authorization": f"LOW {settings.ia_access_key}:{settings.ia_secret_key}"}
        data = {"url": url, "if_not_archived_within": settings.save_if_not_archived_within,
                "skip_first_archive": "1", "js_behavior_timeout": "0"}
        try:
            response = self._request(self.save_limiter, settings.wayback_save_url, what="save", method="POST",
                                     headers=headers, data=data)
            answer = response.json()
        except ArchiveUnavailable as exc:
            return SaveResult(url, "failed", None, str(exc))
        except ValueError:
            return SaveResult(url, "failed", None, "save answered something that is not JSON")
        job = answer.get("job_id")
        if not job:
            return SaveResult(url, "failed", None, answer.get("message") or "no job id in the save answer")
        deadline = time.monotonic() + settings.save_timeout
        status_url = settings.wayback_save_url.rstrip("/") + f"/status/{job}"
        while time.monotonic() < deadline:
            try:
                state = self._request(self.replay_limiter, status_url, what="save status", headers=headers).json()
            except (ArchiveUnavailable, ValueError) as exc:
                return SaveResult(url, "failed", None, f"save status: {exc}")
            if state.get("status") == "success":
                return SaveResult(url, "saved", state.get("timestamp"), "saved by Save Page Now")
            if state.get("status") == "error":
                return SaveResult(url, "failed", None, state.get("message") or state.get("status_ext") or "save failed")
            time.sleep(min(5.0, max(0.2, deadline - time.monotonic())))
        return SaveResult(url, "pending", None, f"the save was still running after {settings.save_timeout:g} s (job {job})")

    def _save_pywb(self, url: str) -> SaveResult:
        record = self.settings.wayback_save_url.rstrip("/") + "/id_/" + url
        try:
            response = self._request(self.save_limiter, record, what="record", stream=True)
            memento = memento_timestamp(response.headers.get("Memento-Datetime"))
            response.close()
        except ArchiveUnavailable as exc:
            return SaveResult(url, "failed", None, str(exc))
        if response.status_code != 200:
            return SaveResult(url, "failed", None, f"record answered {response.status_code}")
        return SaveResult(url, "saved", memento, "recorded by pywb; visible once indexed")


@dataclasses.dataclass(frozen=True)
class SaveResult:
    url: str
    state: str  # saved, pending, failed, needs_keys
    timestamp: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def _short(exc: BaseException) -> str:
    """requests' nested exception text, cut to what a person needs."""
    text = str(exc)
    if match := re.search(r"Failed to resolve '([^']+)'", text):
        return f"cannot resolve {match.group(1)}"
    if match := re.search(r"\[Errno -?\d+\] ([^'\")]+)", text):
        return match.group(1).strip()
    return text[:200]


def _original_of(link_header: str) -> str | None:
    match = re.search(r'<([^>]+)>\s*;\s*rel="original"', link_header)
    return match.group(1) if match else None


def _strip_prefix(raw_url: str, prefix: str) -> str:
    rest = raw_url[len(prefix):] if raw_url.startswith(prefix) else raw_url
    return re.sub(r"^\d{1,14}(?:id_)?/", "", rest)


def find_snapshots(
    url: str, settings: Settings, *, date: str | None = None, archive_missing: bool = False,
    client: ArchiveClient | None = None,
) -> tuple[Lookup, SaveResult | None]:
    """The snapshots of one URL, and with `archive_missing`, a save when it has no usable
    capture and is alive now (a dead URL is never sent to be saved)."""
    from pipeline.errors import UsageError
    from pipeline.extract.urls import canonicalize, url_key
    from pipeline.liveness import check_urls, invalid_reason

    canonical = canonicalize(url)
    if reason := invalid_reason(canonical):
        raise UsageError(f"{url!r}: {reason}")
    client = client or ArchiveClient(settings)
    lookup = dataclasses.replace(client.lookup(url_key(canonical), date), url=url)
    if not archive_missing or lookup.state is not ArchiveState.NONE:
        return lookup, None
    live = check_urls([url], settings)[0]
    if not live.status.alive:
        return lookup, SaveResult(url, "not_saved", None, f"not saved: the URL is {live.status.value} ({live.reason})")
    return lookup, client.save(live.final_url or url)


def format_lookup(lookup: Lookup, saved: SaveResult | None = None) -> str:
    """The human view of a lookup (and of a save, when one was asked for)."""
    head = {ArchiveState.FOUND: "found", ArchiveState.NONE: "no usable capture",
            ArchiveState.UNAVAILABLE: "archive unavailable"}[lookup.state]
    lines = [f"{lookup.url}: {head}" + (f", {lookup.captures} captures, {lookup.digests} versions" if lookup.captures else "")]
    if lookup.reason:
        lines.append(f"  {lookup.reason}")
    if lookup.queried_url and lookup.queried_url != lookup.url:
        lines.append(f"  archived as {lookup.queried_url}")
    for name, snap in (("closest", lookup.closest), ("first", lookup.first), ("last", lookup.last)):
        if snap is not None:
            when = _to_datetime(snap.timestamp).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"  {name:<8}{when}  {snap.status if snap.status is not None else '-':>3}  {snap.replay_url}")
    if saved is not None:
        lines.append(f"  save: {saved.state}" + (f" at {saved.timestamp}" if saved.timestamp else "") + f" ({saved.reason})")
    return "\n".join(lines)
