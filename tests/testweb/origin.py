"""The test web's origin: one HTTP and one HTTPS server on loopback that play named scenarios.

Any host name reaches it through the `connect_to` setting; the HTTPS side makes a
certificate for whatever name the client asks for (SNI) from a trustme CA, except
`expired.test` (an expired certificate) and `untrusted.test` (one from a CA the tests do
not trust). Static pages can be registered per host and path; every request is recorded.
"""

from __future__ import annotations

import dataclasses
import datetime
import http.server
import json
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import zlib
from collections import defaultdict

import trustme

ARTICLE = b"""<!doctype html><html><head><meta charset="utf-8"><title>An article</title></head>
<body><nav>Home | World</nav><article><h1>An article</h1>
<p>British troops in Afghanistan are being targeted by surface-to-air missiles.</p>
</article></body></html>"""
HOME = b"""<!doctype html><html><head><meta charset="utf-8"><title>Front page</title></head>
<body><h1>Welcome to the front page</h1><p>Latest news.</p></body></html>"""
SOFT_404 = b"""<!doctype html><html><head><title>Page not found</title></head>
<body><h1>Sorry, the page you requested could not be found.</h1></body></html>"""
WILD = b"""<!doctype html><html><head><title>Everything is here</title></head>
<body><p>This server answers 200 to every path.</p></body></html>"""
PERSIAN = "خبرگزاری ایرانی تسنیم در اردیبهشت پارسال از سفر طیب آغا"
# windows-1256 has no Persian yeh/keheh: pages in it use the Arabic letters instead.
PERSIAN_1256 = PERSIAN.replace("\u06cc", "\u064a").replace("\u06a9", "\u0643")
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
GZIP_BOMB_SIZE = 200 * 1024 * 1024  # decompressed bytes


@dataclasses.dataclass(frozen=True)
class Recorded:
    scheme: str
    method: str
    host: str
    path: str
    headers: dict[str, str]
    at: float = 0.0  # time.monotonic() when it arrived


@dataclasses.dataclass(frozen=True)
class Page:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html; charset=utf-8"),)
    delay: float = 0.0  # seconds before the first byte
    reset: bool = False  # a TCP reset instead of an answer


class OriginServer:
    """Start with `start()`, stop with `stop()`; ports are free ones chosen by the OS."""

    def __init__(self, ca: trustme.CA) -> None:
        self.ca = ca
        self.other_ca = trustme.CA()  # for `untrusted.test`
        self.requests: list[Recorded] = []
        self.pages: dict[tuple[str, str], Page] = {}
        self._lock = threading.Lock()
        self._active: dict[str, int] = defaultdict(int)
        self.max_active: dict[str, int] = defaultdict(int)
        self._counters: dict[str, int] = defaultdict(int)
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._servers: list[http.server.ThreadingHTTPServer] = []

    # -- control -----------------------------------------------------------------------
    def start(self) -> OriginServer:
        self.http = self._serve(tls=False)
        self.https = self._serve(tls=True)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    @property
    def http_port(self) -> int:
        return self.http.server_address[1]

    @property
    def https_port(self) -> int:
        return self.https.server_address[1]

    def url(self, path: str, scheme: str = "http") -> str:
        port = self.http_port if scheme == "http" else self.https_port
        return f"{scheme}://127.0.0.1:{port}{path}"

    def connect_to(self, *hosts: str) -> tuple[str, ...]:
        """The `connect_to` setting that sends these hosts' (default: every `*.test`
        name's) ports 80 and 443 here."""
        return tuple(
            entry
            for host in hosts or ("*.test",)
            for entry in (f"{host}:80:127.0.0.1:{self.http_port}", f"{host}:443:127.0.0.1:{self.https_port}")
        )

    def add_page(self, host: str, path: str, page: Page) -> None:
        self.pages[(host.lower(), path)] = page

    def requests_for(self, host: str | None = None, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests
                    if (host is None or r.host == host) and (path is None or r.path == path)]

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_active.clear()
            self._counters.clear()

    # -- plumbing ----------------------------------------------------------------------
    def _serve(self, tls: bool) -> http.server.ThreadingHTTPServer:
        origin = self

        class Handler(_ScenarioHandler):
            pass

        Handler.origin = origin
        Handler.scheme = "https" if tls else "http"
        server = _Server(("127.0.0.1", 0), Handler)
        if tls:
            server.tls_context = self._tls_context()
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=f"origin-{Handler.scheme}", daemon=True)
        thread.start()
        self._servers.append(server)
        return server

    def _tls_context(self) -> ssl.SSLContext:
        default = self._context_for("localhost")

        def pick(sock: ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
            if name:
                sock.context = self._context_for(name)

        default.sni_callback = pick
        return default

    def _context_for(self, name: str) -> ssl.SSLContext:
        with self._lock:
            if name not in self._contexts:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                if name == "expired.test":
                    cert = self.ca.issue_cert(
                        name,
                        not_before=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
                        not_after=datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC),
                    )
                elif name == "untrusted.test":
                    cert = self.other_ca.issue_cert(name)
                else:
                    cert = self.ca.issue_cert(name, "127.0.0.1", "::1") if name == "localhost" else self.ca.issue_cert(name)
                cert.configure_cert(context)
                self._contexts[name] = context
            return self._contexts[name]

    def _enter(self, host: str) -> None:
        with self._lock:
            self._active[host] += 1
            self.max_active[host] = max(self.max_active[host], self._active[host])

    def _leave(self, host: str) -> None:
        with self._lock:
            self._active[host] -= 1

    def _count(self, key: str) -> int:
        with self._lock:
            self._counters[key] += 1
            return self._counters[key]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls_context: ssl.SSLContext | None = None

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        import sys

        # clients that hang up and failed handshakes are part of the scenarios; anything else is a bug: show it
        if not isinstance(sys.exc_info()[1], (OSError, ssl.SSLError)):
            super().handle_error(request, client_address)


class _ScenarioHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    origin: OriginServer
    scheme: str

    def setup(self) -> None:
        if self.server.tls_context is not None:
            self.request.settimeout(10)
            self.request = self.server.tls_context.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch()

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch()

    # -- dispatch ----------------------------------------------------------------------
    def _dispatch(self) -> None:
        host = _host_of(self.headers.get("Host") or "")
        split = urllib.parse.urlsplit(self.path)
        path, query = split.path, dict(urllib.parse.parse_qsl(split.query))
        origin = self.origin
        with origin._lock:
            origin.requests.append(
                Recorded(self.scheme, self.command, host, self.path, dict(self.headers), time.monotonic())
            )
        origin._enter(host)
        try:
            page = origin.pages.get((host, self.path)) or origin.pages.get((host, path))
            if page is not None and page.reset:
                self._reset()
            elif page is not None:
                time.sleep(page.delay)
                self._send(page.status, page.body, dict(page.headers))
            else:
                try:
                    self._scenario(host, path, query)
                except (ValueError, KeyError, IndexError):  # a scenario path with bad parts
                    self._send(404, b"<html><body><h1>Not Found</h1></body></html>")
        finally:
            origin._leave(host)

    def _scenario(self, host: str, path: str, query: dict[str, str]) -> None:
        parts = [p for p in path.split("/") if p]
        head = parts[0] if parts else ""
        delay = float(query.get("delay", 0))
        if delay:
            time.sleep(delay)
        if not parts:
            self._send(200, HOME)
        elif head in ("ok", "page"):
            self._send(200, ARTICLE)
        elif head == "echo":
            self._send(200, json.dumps(dict(self.headers)).encode(), {"Content-Type": "application/json"})
        elif head == "redirect" and len(parts) == 3:
            code, left = int(parts[1]), int(parts[2])
            target = f"/redirect/{code}/{left - 1}" if left > 1 else "/ok"
            self._send(code, b"", {"Location": target})
        elif head == "redirect-to":
            self._send(int(query.get("code", 302)), b"", {"Location": query["url"]})
        elif head == "loop":
            self._send(302, b"", {"Location": "/loop/b" if parts[1:] == ["a"] else "/loop/a"})
        elif head == "catchall-redirect":
            self._send(302, b"", {"Location": "/landing"})
        elif head == "landing":
            self._send(200, b"<html><head><title>Our latest stories</title></head><body><p>Stories.</p></body></html>")
        elif head == "paywalled":
            body = (b'<html><head><title>Premium story</title><script type="application/ld+json">'
                    b'{"@type": "NewsArticle", "isAccessibleForFree": false}</script></head>'
                    b"<body><p>Subscribe to continue reading.</p></body></html>")
            self._send(200, body)
        elif head == "moved-home":
            self._send(301, b"", {"Location": "/"})
        elif head == "status":
            code = int(parts[1])
            self._send(code, f"<html><body><h1>Status {code}</h1></body></html>".encode())
        elif head == "retry-after":
            self._send(int(parts[1]), b"slow down", {"Retry-After": query.get("after", "1")})
        elif head == "flaky":
            # fails with parts[1] the first `fail` times this path is asked, then 200
            if self.origin._count(path) <= int(query.get("fail", 1)):
                self._send(int(parts[1]), b"try later", {"Retry-After": query.get("after", "0")})
            else:
                self._send(200, ARTICLE)
        elif head == "head-403":
            self._send(403, b"HEAD not allowed") if self.command == "HEAD" else self._send(200, ARTICLE)
        elif head == "head-405":
            if self.command == "HEAD":
                self._send(405, b"", {"Allow": "GET"})
            else:
                self._send(200, ARTICLE)
        elif head == "soft-404":
            self._send(200, SOFT_404)
        elif head == "wild":
            self._send(200, WILD)
        elif head == "bot-wall":
            body = b"<html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>"
            self._send(403, body, {"cf-mitigated": "challenge", "Server": "cloudflare"})
        elif head == "trickle":
            self._trickle(float(query.get("seconds", parts[1] if len(parts) > 1 else 5)))
        elif head == "huge":  # /huge?mb=N or /huge/N (for endpoints that add a query of their own)
            self._huge(int(float(query.get("mb", parts[1] if len(parts) > 1 else 20)) * 1024 * 1024))
        elif head == "gzip-bomb":
            self._send(200, _gzip_bomb(), {"Content-Type": "text/html", "Content-Encoding": "gzip"})
        elif head == "wrong-charset":
            body = f"<html><head><meta charset='utf-8'></head><body><p>{PERSIAN}</p></body></html>"
            self._send(200, body.encode("utf-8"), {"Content-Type": "text/html; charset=iso-8859-1"})
        elif head == "windows-1256":
            body = f"<html><body><p>{PERSIAN_1256}</p></body></html>"
            self._send(200, body.encode("windows-1256"), {"Content-Type": "text/html; charset=windows-1256"})
        elif head == "pdf":
            self._send(200, PDF, {"Content-Type": "application/pdf"})
        elif head == "reset":
            self._reset()
        elif head == "encoded":  # a body that claims an encoding (junk after it)
            self._send(200, b"\x1b\x00\xf8\xa5" * 64, {"Content-Encoding": query.get("as", "br")})
        elif head == "hostile":  # pages built to stall a careless reader (issue: hostile pages)
            self._send(200, hostile_page(parts[1] if len(parts) > 1 else "", int(query.get("n", 40_000))))
        else:
            self._send(404, b"<html><body><h1>Not Found</h1></body></html>")

    # -- responses ---------------------------------------------------------------------
    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "text/html; charset=utf-8")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except OSError:
                self.close_connection = True

    def _trickle(self, seconds: float) -> None:
        steps = max(1, int(seconds / 0.1))
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(steps))
        self.end_headers()
        try:
            for _ in range(steps):
                time.sleep(0.1)
                self.wfile.write(b"x")
                self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _huge(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            return
        block = b"<p>" + b"a" * 1017 + b"</p>\n"
        try:
            sent = 0
            while sent < size:
                chunk = block[: size - sent]
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            self.close_connection = True

    def _reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0) before any response."""
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.request.close()


def _host_of(header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0].lower()
    return header.rsplit(":", 1)[0].lower() if ":" in header else header.lower()


_BOMB: bytes | None = None


def hostile_page(kind: str, n: int) -> bytes:
    """`lt`: n KB of "<" (quadratic for a backtracking tag regex); `flat`: n paragraphs;
    `deep`: n nested divs, each with a word; `attrs`: a tag with n unclosed attribute quotes."""
    if kind == "lt":
        return b"<" * (n * 1024)
    if kind == "flat":
        return b"<html><body>" + b"<p>a paragraph of text</p>" * n + b"</body></html>"
    if kind == "deep":
        return b"<html><body>" + b"<div>x " * n + b"deep text" + b"</div>" * n + b"</body></html>"
    if kind == "attrs":
        return b"<html><body><p " + b'a="' * n + b">text</p></body></html>"
    return b"<html><body><p>nothing hostile</p></body></html>"


def _gzip_bomb() -> bytes:
    global _BOMB
    if _BOMB is None:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
        block = b"\0" * (1024 * 1024)
        parts = [compressor.compress(block) for _ in range(GZIP_BOMB_SIZE // len(block))]
        _BOMB = b"".join(parts) + compressor.flush()
    return _BOMB
