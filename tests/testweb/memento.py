"""A Memento archive on loopback (RFC 7089), as archive.today, the UK Web Archive or a MemGator
aggregator answer: a TimeMap in link format at `/timemap/link/<url>` and each memento at
`/mem/<14 digits>/<url>` with `Memento-Datetime` and a `Link` to its original. It counts
every request."""

from __future__ import annotations

import email.utils
import threading
from datetime import UTC, datetime

from tests.testweb.archive import Capture
from tests.testweb.loopback import LoopbackServer, QuietHandler


class MementoArchive(LoopbackServer):
    def __init__(self, captures: list[Capture]) -> None:
        self.captures = list(captures)
        self.requests: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> MementoArchive:
        archive = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                with archive._lock:
                    archive.requests.append(self.path)
                if self.path.startswith("/timemap/link/"):
                    self._timemap(self.path[len("/timemap/link/"):])
                elif self.path.startswith("/mem/"):
                    stamp, _, url = self.path[len("/mem/"):].partition("/")
                    self._memento(stamp.removesuffix("id_"), url)
                else:
                    self._send(404, b"no such thing", {})

            def _timemap(self, url: str) -> None:
                rows = sorted((c for c in archive.captures if c.url == url), key=lambda c: c.timestamp)
                if not rows:
                    self._send(404, b"", {})
                    return
                lines = [f'<{url}>; rel="original"']
                lines += [f'<{archive.base}/mem/{c.timestamp}/{c.url}>; rel="memento"; datetime="{_http_date(c.timestamp)}"'
                          for c in rows]
                self._send(200, ",\n".join(lines).encode(), {"Content-Type": "application/link-format"})

            def _memento(self, stamp: str, url: str) -> None:
                capture = next((c for c in archive.captures if c.url == url and c.timestamp == stamp), None)
                if capture is None:
                    self._send(404, b"not archived", {})
                    return
                self._send(capture.status, capture.body, {
                    "Content-Type": capture.content_type, "Memento-Datetime": _http_date(stamp),
                    "Link": f'<{url}>; rel="original"'})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.answer(status, body, list(headers.items()))

        self.serve(Handler)
        return self

    def entry(self, name: str) -> dict[str, object]:
        """This archive in the `archives` setting."""
        return {"name": name, "kind": "memento", "timemap_url": self.base + "/timemap/link/",
                "replay_url": self.base + "/mem/", "cdx_per_minute": 0, "replay_per_second": 0}

    def count(self, prefix: str) -> int:
        with self._lock:
            return sum(1 for path in self.requests if path.startswith(prefix))


def _http_date(stamp: str) -> str:
    moment = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return email.utils.format_datetime(moment, usegmt=True)
