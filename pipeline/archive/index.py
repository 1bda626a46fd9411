"""The capture index: every capture of a URL, from a CDX server (docs/archives.md, "CDX").

waybackpy's CDX class is the client; its one HTTP choke point (`waybackpy.cdx_api.get_response`)
is replaced so that the request goes through the archive's `RequestPolicy` and asks for the
fields in the dialect's own names. A dialect is one of `DIALECTS`: the Internet Archive's
CDX server, or pywb's.
"""

from __future__ import annotations

import dataclasses
import threading

import requests
import waybackpy.cdx_api
from waybackpy.exceptions import WaybackError

from pipeline import USER_AGENT
from pipeline.archive.model import ArchiveUnavailable, Capture, Excluded
from pipeline.archive.policy import Endpoint, RequestPolicy, read_body, short_reason
from pipeline.guard import AddressRefused


@dataclasses.dataclass(frozen=True)
class Dialect:
    """How one kind of CDX server is asked for the seven fields waybackpy reads."""

    name: str
    fields: str  # the seven IA fields, in this server's names
    extra: str = ""  # further query parameters


# The Internet Archive: revisits (deduplicated captures) resolved where it can; the rest
# are resolved here from the digest (see `resolve_revisits`).
IA = Dialect("ia", "urlkey,timestamp,original,mimetype,statuscode,digest,length", "&resolveRevisits=true")
# pywb names the fields url, mime, status; it answers CDXJ unless asked for text, and
# answers near matches (is_fuzzy) unless told not to.
PYWB = Dialect("pywb", "urlkey,timestamp,url,mime,status,digest,length", "&output=text&allowFuzzy=false")
DIALECTS = {dialect.name: dialect for dialect in (IA, PYWB)}

_local = threading.local()


def _get_response(url: str, headers: dict[str, str] | None = None, retries: int = 5,
                  backoff_factor: float = 0.5) -> requests.Response:
    """Stands in for `waybackpy.cdx_api.get_response`: our index's request when one is
    active in this thread, else waybackpy's own behaviour."""
    index: CdxIndex | None = getattr(_local, "index", None)
    if index is None:
        return _waybackpy_get_response(url, headers=headers, retries=retries, backoff_factor=backoff_factor)
    return index._request(url, headers or {})


_waybackpy_get_response = waybackpy.cdx_api.get_response
waybackpy.cdx_api.get_response = _get_response


def resolve_revisits(captures: list[Capture]) -> list[Capture]:
    """A revisit row (`warc/revisit`, status "-": the archive saw the same bytes again and
    kept a pointer) given the status and type of a capture with the same digest, so that it
    counts as the capture it is. Left as it is when no such capture is in the answer."""
    originals = {c.digest: c for c in captures if c.status is not None and c.mimetype != "warc/revisit"}
    resolved = []
    for capture in captures:
        original = originals.get(capture.digest)
        if capture.status is None and original is not None:
            capture = dataclasses.replace(capture, status=original.status, mimetype=original.mimetype)
        resolved.append(capture)
    return resolved


class CdxIndex:
    """Every capture of a URL, from one CDX endpoint in one dialect."""

    def __init__(self, cdx_url: str, dialect: Dialect, policy: RequestPolicy, *, max_captures: int) -> None:
        self.cdx_url = cdx_url
        self.dialect = dialect
        self.policy = policy
        self.max_captures = max_captures

    def captures(self, url: str, start: str | None = None, end: str | None = None) -> list[Capture]:
        """The captures of exactly `url` (within from/to when given), each once, revisits
        given the status of the capture they repeat. Raises Excluded when the archive
        excludes the site, ArchiveUnavailable when it does not answer. An answer cut at
        the limit is followed by its resume key (waybackpy does that)."""
        api = waybackpy.cdx_api.WaybackMachineCDXServerAPI(
            url, user_agent=USER_AGENT, start_timestamp=start, end_timestamp=end, limit=str(self.max_captures),
        )
        api.endpoint = self.cdx_url
        _local.index = self
        try:
            rows = [
                Capture(s.timestamp, s.original, s.mimetype, int(s.statuscode) if s.statuscode.isdigit() else None,
                        s.digest, s.length)
                for s in api.snapshots()
            ]
        except WaybackError as exc:
            self.policy.breaker.record(False)
            raise ArchiveUnavailable(f"unexpected CDX answer: {str(exc).splitlines()[0]}") from exc
        finally:
            _local.index = None
        return resolve_revisits(list(dict.fromkeys(rows)))  # the real CDX repeats identical lines

    def _request(self, url: str, headers: dict[str, str]) -> requests.Response:
        url += f"&fl={self.dialect.fields}{self.dialect.extra}"
        response = self.policy.request(Endpoint.CDX, url, headers=headers, allow_statuses={403}, stream=True)
        read_body(response, self.policy.settings, "CDX")  # capped and bounded in time, like a page
        if response.status_code == 403:
            said = response.headers.get("X-Archive-Wayback-Runtime-Error", "") + " " + response.text[:2000]
            if "AdministrativeAccessControlException" in said or "Blocked Site" in said:
                raise Excluded("the archive excludes this URL (AdministrativeAccessControlException: Blocked Site Error)")
            self.policy.breaker.record(False)
            raise ArchiveUnavailable("CDX answered 403")
        return response

    def ping(self) -> str | None:
        """Why the index does not answer, or None when it does: one small query, no retries."""
        url = f"{self.cdx_url}?url=example.com&limit=1&fl={self.dialect.fields}"
        try:
            response = self.policy.send(Endpoint.CDX, url)
        except AddressRefused as exc:
            return exc.reason
        except requests.RequestException as exc:
            return f"CDX unreachable: {short_reason(exc)}"
        response.close()
        if response.status_code == 429:
            self.policy.limiters[Endpoint.CDX].pause(self.policy.settings.archive_pause_on_429)
            return "the archive is rate limiting us (429)"
        if response.status_code >= 500:
            return f"CDX answered {response.status_code}"
        return None
