"""The capture index: every capture of a URL, from a CDX server (docs/archives.md, "CDX").

waybackpy writes the query (`WaybackMachineCDXServerAPI.add_payload`, `cdx_utils.full_url`)
and reads each answer line (`CDXSnapshot`), through its public API; it owns no connection:
the request goes out through the archive's `RequestPolicy` (so the HTTP edge), asking for the
fields in the dialect's own names, and an answer cut at the limit is followed here by its
resume key. A dialect is one of `DIALECTS`: the Internet Archive's CDX server, or pywb's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from waybackpy.cdx_api import WaybackMachineCDXServerAPI
from waybackpy.cdx_snapshot import CDXSnapshot
from waybackpy.cdx_utils import full_url

from pipeline.archive.model import ArchiveUnavailable, Capture, Excluded
from pipeline.archive.policy import Endpoint, RequestPolicy, read_body
from pipeline.config import ArchiveKind
from pipeline.http import FetchError, FetchErrorKind


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
DIALECTS = {ArchiveKind.IA: IA, ArchiveKind.PYWB: PYWB}

_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
MAX_PAGES = 100  # resume keys followed at most for one URL


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
        the limit is followed by its resume key, up to `max_captures` in all."""
        rows: list[Capture] = []
        for snapshot in self._snapshots(url, start, end):
            status = int(snapshot.statuscode) if snapshot.statuscode.isdigit() else None
            rows.append(Capture(snapshot.timestamp, snapshot.original, snapshot.mimetype, status, snapshot.digest,
                                snapshot.length))
            if len(rows) >= self.max_captures:
                break
        return resolve_revisits(list(dict.fromkeys(rows)))  # the real CDX repeats identical lines

    def query_url(self, url: str, start: str | None = None, end: str | None = None, resume_key: str | None = None) -> str:
        """The CDX query for `url`, as waybackpy writes it, in the dialect's field names."""
        payload: dict[str, str] = {}
        WaybackMachineCDXServerAPI(url, start_timestamp=start, end_timestamp=end).add_payload(payload)
        payload.update({"showResumeKey": "true", "limit": str(self.max_captures)})
        if resume_key:
            payload["resumeKey"] = resume_key
        return full_url(self.cdx_url, payload) + f"&fl={self.dialect.fields}{self.dialect.extra}"

    def _snapshots(self, url: str, start: str | None, end: str | None) -> Iterator[CDXSnapshot]:
        resume_key: str | None = None
        for _page in range(MAX_PAGES):
            text = self._request(self.query_url(url, start, end, resume_key)).strip()
            lines = text.splitlines()
            resume_key = None
            if len(lines) >= 2 and not lines[-2].strip():  # a blank line, then the resume key
                resume_key = lines[-1].strip()
                lines = lines[:-2]
            for line in lines:
                values = line.split(" ")
                if not line.strip():
                    continue
                if len(values) != len(_FIELDS):
                    self.policy.breaker.record(False)
                    raise ArchiveUnavailable(f"unexpected CDX answer: a line of {len(values)} fields, not "
                                             f"{len(_FIELDS)}")
                yield CDXSnapshot(dict(zip(_FIELDS, values)))
            if not resume_key:
                return

    def _request(self, url: str) -> str:
        response = self.policy.request(Endpoint.CDX, url, allow_statuses={403})
        text = read_body(response, self.policy.settings, "CDX")  # capped and bounded in time, like a page
        if response.status == 403:
            said = response.headers.get("X-Archive-Wayback-Runtime-Error", "") + " " + text[:2000]
            if "AdministrativeAccessControlException" in said or "Blocked Site" in said:
                raise Excluded("the archive excludes this URL (AdministrativeAccessControlException: Blocked Site Error)")
            self.policy.breaker.record(False)
            raise ArchiveUnavailable("CDX answered 403")
        return text

    def ping(self) -> str | None:
        """Why the index does not answer, or None when it does: one small query, no retries."""
        url = f"{self.cdx_url}?url=example.com&limit=1&fl={self.dialect.fields}"
        try:
            response = self.policy.send(Endpoint.CDX, url)
        except FetchError as exc:
            return exc.reason if exc.kind is FetchErrorKind.REFUSED else f"CDX unreachable: {exc.reason}"
        if response.status == 429:
            self.policy.limiters[Endpoint.CDX].pause(self.policy.settings.archive_pause_on_429)
            return "the archive is rate limiting us (429)"
        if response.status >= 500:
            return f"CDX answered {response.status}"
        return None
