"""The test web's archive: a real pywb server on loopback over WARC files written with warcio."""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from http import HTTPStatus
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

COLLECTION = "test"


@dataclasses.dataclass(frozen=True)
class Capture:
    """One archived response: what the archive will say `url` answered at `timestamp`."""

    url: str
    timestamp: str  # 14 digits, YYYYMMDDhhmmss
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    location: str | None = None


def write_warc(path: Path, captures: Iterable[Capture]) -> Path:
    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for capture in captures:
            headers = [("Content-Type", capture.content_type), ("Content-Length", str(len(capture.body)))]
            if capture.location:
                headers.append(("Location", capture.location))
            http_headers = StatusAndHeaders(
                f"{capture.status} {HTTPStatus(capture.status).phrase}", headers, protocol="HTTP/1.1"
            )
            ts = capture.timestamp
            record = writer.create_warc_record(
                capture.url,
                "response",
                payload=io.BytesIO(capture.body),
                http_headers=http_headers,
                warc_headers_dict={"WARC-Date": f"{ts[:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z"},
            )
            writer.write_record(record)
    return path


class PywbArchive:
    """`start()` writes the WARC (and adds any `warcs` given), indexes them with wb-manager and runs `wayback` on a free
    loopback port; `stop()` ends it. `cdx_url` and `replay_url` are what the
    CITEWATCH_WAYBACK_* settings take (dialect `pywb`)."""

    def __init__(self, root: Path, captures: Iterable[Capture], *, record: bool = False,
                 warcs: Iterable[Path] = ()) -> None:
        self.root = root
        self.captures = list(captures)
        self.warcs = list(warcs)  # WARC files of someone else's, added as they are
        self.record = record
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/{COLLECTION}/"

    @property
    def cdx_url(self) -> str:
        return self.base + "cdx"

    @property
    def replay_url(self) -> str:
        return self.base

    def env(self) -> dict[str, str]:
        return {
            "CITEWATCH_WAYBACK_CDX_URL": self.cdx_url,
            "CITEWATCH_WAYBACK_REPLAY_URL": self.replay_url,
            "CITEWATCH_WAYBACK_DIALECT": "pywb",
        }

    def start(self) -> PywbArchive:
        self.root.mkdir(parents=True, exist_ok=True)
        warc = write_warc(self.root / "captures.warc.gz", self.captures)
        _tool("wb-manager", "init", COLLECTION, cwd=self.root)
        _tool("wb-manager", "add", COLLECTION, str(warc), *(str(w) for w in self.warcs), cwd=self.root)
        for _attempt in range(3):
            self.port = free_port()
            command = [sys.executable, str(Path(__file__).with_name("wayback_nodelay.py")), "-b", "127.0.0.1", "-p",
                       str(self.port), "-t", "8"]
            if self.record:
                command += ["--live", "--record", "-a", "--auto-interval", "2"]
            self.process = subprocess.Popen(
                command, cwd=self.root, stdout=subprocess.DEVNULL, stderr=open(self.root / "wayback.log", "wb")
            )
            if self._wait_ready(timeout=30):
                return self
            self.stop()
        raise RuntimeError(f"pywb did not start; see {self.root / 'wayback.log'}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.cdx_url + "?url=ready.test&limit=1", timeout=2):
                    return True
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _script(name: str) -> str:
    """A console script of the running interpreter's environment (the venv's pywb)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _tool(*args: str, cwd: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([_script(args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr[-2000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
