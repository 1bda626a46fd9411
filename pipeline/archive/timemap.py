"""Captures from any Memento archive (RFC 7089): its TimeMap in link format,
`<timemap_url><url>`, one line a memento (`<uri>; rel="memento"; datetime="…"`). A TimeMap
says when a copy was made and where to read it, not what the page answered: a capture from
it has no status until it is read."""

from __future__ import annotations

from pipeline.archive.model import ArchiveUnavailable, Capture
from pipeline.archive.policy import Endpoint, RequestPolicy, read_body
from pipeline.http import header_links
from pipeline.times import datetime_to_timestamp, http_date

UNKNOWN = "memento"  # the media type of a capture known only from a TimeMap


def parse_timemap(text: str) -> list[tuple[str, str]]:
    """(14-digit timestamp, memento URI) of each memento in a link-format TimeMap."""
    found = []
    for uri, rels, params in header_links(text):
        if "memento" in rels and (moment := http_date(params.get("datetime", ""))):
            found.append((datetime_to_timestamp(moment), uri.strip()))
    return found


class TimeMapIndex:
    """Every capture of a URL from one Memento archive's TimeMap."""

    def __init__(self, timemap_url: str, policy: RequestPolicy) -> None:
        self.timemap_url = timemap_url
        self.policy = policy

    def captures(self, url: str, start: str | None = None, end: str | None = None) -> list[Capture]:
        response = self.policy.request(Endpoint.CDX, self.timemap_url + url, allow_statuses={404})
        if response.status == 404:  # a Memento archive's way of saying it has no copy
            return []
        text = read_body(response, self.policy.settings, "TimeMap")  # capped and bounded in time, like a page
        if text.strip() and "memento" not in text:
            raise ArchiveUnavailable("the TimeMap answer is not in link format")
        return [Capture(timestamp, uri, UNKNOWN, None, "", "") for timestamp, uri in parse_timemap(text)
                if (start is None or timestamp >= start) and (end is None or timestamp <= end)]

    def ping(self) -> str | None:
        try:
            self.captures("http://example.com/")
        except ArchiveUnavailable as exc:
            return str(exc)
        return None
