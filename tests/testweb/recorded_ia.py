"""The real Internet Archive, as it answered: a loopback server that replays answers web.archive.org
really sent, recorded (VCR cassettes) by the test suite of EDGI's `wayback` client
(tests/fixtures/wayback/, BSD-3-Clause, see LICENSE-edgi-wayback there).

A CDX request is matched by its `url` and `resumeKey` (citewatch asks other fields and limits
than the recording client did; the archive's answer to them is the recorded one); a replay
request by its path. Every `web.archive.org` in the headers (redirects, Link) is rewritten to
this server, so nothing leaves loopback. Unmatched requests are answered 599 and listed."""

from __future__ import annotations

import threading
import urllib.parse
from pathlib import Path

import yaml

from tests.testweb.loopback import LoopbackServer, QuietHandler

CASSETTES = Path(__file__).parent.parent / "fixtures" / "wayback"


class RecordedArchive(LoopbackServer):
    def __init__(self, *names: str) -> None:
        self.answers: dict[tuple, dict] = {}
        for name in names:
            for interaction in yaml.safe_load((CASSETTES / f"{name}.yaml").read_text())["interactions"]:
                self.answers.setdefault(_key(interaction["request"]["uri"]), interaction["response"])
        self.requests: list[str] = []
        self.unmatched: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> RecordedArchive:
        archive = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                with archive._lock:
                    archive.requests.append(self.path)
                answer = archive.answers.get(_key(self.path))
                if answer is None:
                    with archive._lock:
                        archive.unmatched.append(self.path)
                    self.answer(599, b"", [])
                    return
                body = answer["body"]["string"] or b""
                body = body.encode("utf-8") if isinstance(body, str) else body
                headers = [(name, archive.rewrite(value)) for name, values in answer["headers"].items()
                           if name.lower() not in ("transfer-encoding", "content-length", "connection")
                           for value in values]
                self.answer(answer["status"]["code"], body, headers)

        self.serve(Handler)
        return self

    def rewrite(self, value: str) -> str:
        here = self.base.split("://", 1)[1]
        return value.replace("https://web.archive.org", self.base).replace("//web.archive.org", f"//{here}")

    def settings(self) -> dict[str, object]:
        return {"wayback_cdx_url": self.base + "/cdx/search/cdx", "wayback_replay_url": self.base + "/web/",
                "wayback_dialect": "ia", "archive_cdx_per_minute": 0, "archive_replay_per_second": 0}

    def count(self, prefix: str) -> int:
        with self._lock:
            return sum(1 for path in self.requests if path.startswith(prefix))


def _key(uri: str) -> tuple:
    parts = urllib.parse.urlsplit(uri)
    if parts.path.endswith("/cdx/search/cdx"):
        query = urllib.parse.parse_qs(parts.query)
        return ("cdx", query.get("url", [""])[0], query.get("resumeKey", [""])[0])
    return ("replay", parts.path)
