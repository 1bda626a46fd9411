"""Reading mementos: the raw bytes of a capture through the replay's `id_` form, archived
redirects followed inside the archive (docs/archives.md, "Replay")."""

from __future__ import annotations

import re
import urllib.parse

from pipeline.archive.choose import into_archive
from pipeline.archive.model import ArchiveUnavailable, Evidence, Snapshot
from pipeline.archive.policy import Endpoint, RequestPolicy
from pipeline.http import header_links
from pipeline.times import memento_timestamp

MAX_ARCHIVE_HOPS = 5


class MementoReader:
    def __init__(self, replay_prefix: str, policy: RequestPolicy) -> None:
        self.prefix = replay_prefix
        self.policy = policy

    def raw_url(self, timestamp: str, url: str) -> str:
        return f"{self.prefix}{timestamp}id_/{url}"

    def read(self, raw_url: str) -> Evidence | None:
        """Read a raw memento, following archived redirects inside the archive. None when
        the answer is the archive's own (no Memento-Datetime): not archived, or an error.
        Raises ArchiveUnavailable (the archive failing, a body past the deadline or broken)."""
        current = raw_url
        for _hop in range(MAX_ARCHIVE_HOPS + 1):
            response = self.policy.request(Endpoint.REPLAY, current, allow_statuses=range(400, 600), mementos=True)
            memento = memento_timestamp(response.headers.get("Memento-Datetime"))
            location = response.headers.get("Location")
            if memento is None:
                if 300 <= response.status < 400 and location:
                    # a TimeGate answers an inexact timestamp with a redirect to the memento
                    current = urllib.parse.urljoin(current, location)
                    continue
                if response.status >= 500:
                    raise ArchiveUnavailable(f"replay answered {response.status}")
                return None
            if 300 <= response.status < 400 and location:
                current = into_archive(location, current, self.prefix, memento)
                continue
            original = _original_of(response.headers.get("Link", "")) or _strip_prefix(current, self.prefix)
            snapshot = Snapshot(memento, response.status, f"{self.prefix}{memento}/{original}",
                                f"{self.prefix}{memento}id_/{original}")
            return Evidence(snapshot, original, response.status, dict(response.headers), response.body,
                            response.truncated)
        raise ArchiveUnavailable("too many archived redirects")


def _original_of(link_header: str) -> str | None:
    """The URI the memento is a copy of: the Link header's `original` relation."""
    return next((uri for uri, rels, _ in header_links(link_header) if "original" in rels), None)


def _strip_prefix(raw_url: str, prefix: str) -> str:
    rest = raw_url[len(prefix):] if raw_url.startswith(prefix) else raw_url
    return re.sub(r"^\d{1,14}(?:id_)?/", "", rest)
