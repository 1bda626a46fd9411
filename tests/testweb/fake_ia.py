"""A small loopback server that answers in the Internet Archive's formats: CDX text lines and
`output=json` rows, raw replays (`/web/<ts>id_/<url>`, inexact timestamps redirected to the
closest memento as the IA's TimeGate does), archived redirects pointing into the archive,
and Save Page Now 2 (`POST /save`, `GET /save/status/<job>`). It counts every request, and
can answer 429 or fail on demand, so tests can watch what the client does."""

from __future__ import annotations

import dataclasses
import email.utils
import http.server
import json
import threading
import urllib.parse
from datetime import UTC, datetime

import surt

from tests.testweb.archive import Capture
from tests.testweb.loopback import LoopbackServer


@dataclasses.dataclass
class Controls:
    rate_limit: int = 0  # answer 429 to this many CDX requests
    fail_replay: set[str] = dataclasses.field(default_factory=set)  # timestamps answered 503
    keys: tuple[str, str] = ("access", "secret")
    pending_polls: int = 1  # status polls that say "pending" before success


class FakeInternetArchive(LoopbackServer):
    def __init__(self, captures: list[Capture]) -> None:
        self.captures = list(captures)
        self.controls = Controls()
        self.requests: list[tuple[str, str]] = []  # (method, path with query)
        self._lock = threading.Lock()
        self._jobs: dict[str, dict] = {}

    def start(self) -> FakeInternetArchive:
        archive = self

        class Handler(_Handler):
            pass

        Handler.archive = archive
        self.serve(Handler)
        return self

    def env(self) -> dict[str, str]:
        return {
            "wayback_cdx_url": self.base + "/cdx/search/cdx",
            "wayback_replay_url": self.base + "/web/",
            "wayback_save_url": self.base + "/save",
            "wayback_dialect": "ia",
        }

    def count(self, prefix: str) -> int:
        with self._lock:
            return sum(1 for _, path in self.requests if path.startswith(prefix))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
        self.controls = Controls()


def _http_date(timestamp: str) -> str:
    moment = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return email.utils.format_datetime(moment, usegmt=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    archive: FakeInternetArchive
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._record()
        path = self.path
        if path.startswith("/cdx/search/cdx"):
            self._cdx()
        elif path.startswith("/save/status/"):
            self._save_status(path.rsplit("/", 1)[1])
        elif path.startswith("/web/"):
            self._replay(path[len("/web/"):])
        else:
            self._send(404, b"not here")

    def do_POST(self) -> None:  # noqa: N802
        self._record()
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        key, secret = self.archive.controls.keys
        if self.headers.get("Authorization") != f"LOW {key}:{secret}":
            self._send(401, json.dumps({"message": "You need to be logged in"}).encode(), "application/json")
            return
        job = f"spn2-{len(self.archive._jobs) + 1:04d}"
        self.archive._jobs[job] = {"url": form["url"], "polls": 0}
        self._send(200, json.dumps({"url": form["url"], "job_id": job}).encode(), "application/json")

    def _record(self) -> None:
        with self.archive._lock:
            self.archive.requests.append((self.command, self.path))

    def _send(self, status: int, body: bytes, content_type: str = "text/plain", headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _cdx(self) -> None:
        controls = self.archive.controls
        if controls.rate_limit > 0:
            controls.rate_limit -= 1
            self._send(429, b"Too Many Requests")
            return
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        url = query["url"][0]
        # the real CDX keys captures by SURT: the scheme, www., the default port, a trailing
        # slash and the order of the query make no difference
        rows = [c for c in self.archive.captures if surt.surt(c.url) == surt.surt(url)]
        if "from" in query:
            rows = [c for c in rows if c.timestamp >= query["from"][0]]
        if "to" in query:
            rows = [c for c in rows if c.timestamp <= query["to"][0]]
        rows.sort(key=lambda c: c.timestamp)
        fields = query.get("fl", ["urlkey,timestamp,original,mimetype,statuscode,digest,length"])[0].split(",")
        values = [{
            "urlkey": surt.surt(c.url),
            "timestamp": c.timestamp,
            "original": c.url,
            "mimetype": c.content_type.split(";")[0],
            "statuscode": str(c.status),
            "digest": f"DIGEST{hash(c.body) & 0xFFFFFFFF:032X}"[-32:],
            "length": str(len(c.body)),
        } for c in rows]
        if query.get("output") == ["json"]:
            table = [fields] + [[v[f] for f in fields] for v in values]
            self._send(200, json.dumps(table if values else []).encode(), "application/json")
        else:
            lines = "".join(" ".join(v[f] for f in fields) + "\n" for v in values)
            self._send(200, lines.encode())

    def _replay(self, rest: str) -> None:
        stamp, _, url = rest.partition("/")
        raw = stamp.endswith("id_")
        stamp = stamp.removesuffix("id_")
        rows = [c for c in self.archive.captures if c.url == url]
        if not rows:
            self._send(404, b"Wayback Machine has not archived that URL.")
            return
        best = min(rows, key=lambda c: abs(int(c.timestamp) - int(stamp.ljust(14, "0"))))
        if best.timestamp != stamp:  # the TimeGate: to the closest memento
            self._send(302, b"", headers={"Location": f"{self.archive.base}/web/{best.timestamp}{'id_' if raw else ''}/{url}"})
            return
        if best.timestamp in self.archive.controls.fail_replay:
            self._send(503, b"replay failed")
            return
        headers = {
            "Memento-Datetime": _http_date(best.timestamp),
            "Link": f'<{url}>; rel="original"',
        }
        if best.location:
            headers["Location"] = f"{self.archive.base}/web/{best.timestamp}id_/{best.location}"
        self._send(best.status, best.body, best.content_type, headers)

    def _save_status(self, job: str) -> None:
        state = self.archive._jobs.get(job)
        if state is None:
            self._send(404, b"{}", "application/json")
            return
        state["polls"] += 1
        if state["polls"] <= self.archive.controls.pending_polls:
            answer = {"status": "pending", "job_id": job}
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
            if not state.get("saved"):
                self.archive.captures.append(Capture(state["url"], stamp, body=b"<html><body>saved</body></html>"))
                state["saved"] = stamp
            answer = {"status": "success", "job_id": job, "timestamp": state["saved"], "original_url": state["url"]}
        self._send(200, json.dumps(answer).encode(), "application/json")
