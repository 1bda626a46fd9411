"""Reading mementos: the raw bytes of a capture through the replay's `id_` form, archived
redirects followed inside the archive (docs/archives.md, "Replay")."""

from __future__ import annotations

import re
import time
import urllib.parse

from pipeline.archive.choose import into_archive
from pipeline.archive.model import ArchiveUnavailable, Evidence, Snapshot
from pipeline.archive.policy import Endpoint, RequestPolicy
from pipeline.http import read_streamed
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
        Raises ArchiveUnavailable (the archive failing) and FetchError (a body past the
        deadline or broken)."""
        settings = self.policy.settings
        deadline = time.monotonic() + settings.request_deadline
        current = raw_url
        for _hop in range(MAX_ARCHIVE_HOPS + 1):
            response = self.policy.request(Endpoint.REPLAY, current, stream=True, allow_statuses=range(400, 600),
                                           mementos=True)
            memento = memento_timestamp(response.headers.get("Memento-Datetime"))
            location = response.headers.get("Location")
            if memento is None:
                response.close()
                if 300 <= response.status_code < 400 and location:
                    # a TimeGate answers an inexact timestamp with a redirect to the memento
                    current = urllib.parse.urljoin(current, location)
                    continue
                if response.status_code >= 500:
                    raise ArchiveUnavailable(f"replay answered {response.status_code}")
                return None
            if 300 <= response.status_code < 400 and location:
                current = into_archive(location, current, self.prefix, memento)
                response.close()
                continue
            body, truncated = read_streamed(response, settings.max_body_bytes, deadline)
            original = _original_of(response.headers.get("Link", "")) or _strip_prefix(current, self.prefix)
            snapshot = Snapshot(memento, response.status_code, f"{self.prefix}{memento}/{original}",
                                f"{self.prefix}{memento}id_/{original}")
            return Evidence(snapshot, original, response.status_code, dict(response.headers), body, truncated)
        raise ArchiveUnavailable("too many archived redirects")


def _original_of(link_header: str) -> str | None:
    match = re.search(r'<([^>]+)>\s*;\s*rel="original"', link_header)
    return match.group(1) if match else None


def _strip_prefix(raw_url: str, prefix: str) -> str:
    rest = raw_url[len(prefix):] if raw_url.startswith(prefix) else raw_url
    return re.sub(r"^\d{1,14}(?:id_)?/", "", rest)
