"""A simulated web for benchmarks and load tests: many loopback hosts, every response
delayed; counts the requests in flight per host over time. Runs in its own process (asyncio,
minimal parsing) so that the server's CPU does not share the checker's core.

    python -m tests.testweb.slowweb --hosts 20 --delay 0.05   # prints one JSON line of ports

Each host is a loopback port (`--addresses`: its own address, 127.0.0.11, 127.0.0.12, …, so
that tools which cannot be pointed at a port per host see 20 hosts). What a path answers:

- `/story/<n>` (a number): 200, a small page, after `--delay`;
- `/slow/<n>`: 200 after `--slow` seconds; `/big/<n>`: 200 with a body of `--big` bytes;
- `/hang/<n>`: never answers (a time-out for any client);
- `/retry/<n>`: 429 with `Retry-After: 1` the first time, 200 after;
- `/soft/<anything>`: 200 with a "page not found" page (a soft 404);
- anything else: an honest 404.

Every answer has a `LinkChecker` header: LinkChecker's sign that a server lets it past 10
requests a second.

Each line on stdin "stats" is answered with a JSON line: per host the most requests in flight,
the requests, and the timeline of requests in flight (seconds since the reset, count after
each change); "reset" clears them."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections import defaultdict

RESPONSE = (
    b"HTTP/1.1 %s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n"
    b"%sLinkChecker: allowed\r\nConnection: keep-alive\r\n\r\n"
)
_REQUEST = re.compile(rb"^([A-Z]+) /(?:(story|slow|big|hang|retry)/\d+|(soft)/[^ ]+) ")
NOT_FOUND = b"<html><head><title>Not found</title></head><body>No such story.</body></html>"
SOFT_404 = (b"<html><head><title>Page not found</title></head><body><h1>Sorry, this page could not be "
            b"found</h1><p>Try the search box or go back to the home page.</p></body></html>")
BODY = b"<html><head><title>Story</title></head><body><h1>A story</h1><p>" + b"text " * 200 + b"</p></body></html>"


class Stats:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.active: dict[int, int] = defaultdict(int)
        self.max_active: dict[int, int] = defaultdict(int)
        self.requests: dict[int, int] = defaultdict(int)
        self.timeline: dict[int, list[tuple[float, int]]] = defaultdict(list)
        self.asked: set[bytes] = set()  # the /retry/ paths asked once already

    def change(self, index: int, by: int) -> None:
        self.active[index] += by
        self.max_active[index] = max(self.max_active[index], self.active[index])
        self.timeline[index].append((round(time.monotonic() - self.started, 4), self.active[index]))


class _Host(asyncio.Protocol):
    """One connection: each request (GET or HEAD, no body) answered after its delay.
    A Protocol and call_later, not streams and tasks: the server must cost little CPU."""

    def __init__(self, index: int, stats: Stats, args: argparse.Namespace) -> None:
        self.index, self.stats, self.args = index, stats, args
        self.buffer = b""
        self.pending = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            self.stats.requests[self.index] += 1
            self.stats.change(self.index, +1)
            self.pending += 1
            match = _REQUEST.match(head)
            kind = (match.group(2) or match.group(3)).decode() if match else "missing"
            if kind == "hang":
                continue  # answered never; counted in flight until the client gives up
            delay = self.args.slow if kind == "slow" else self.args.delay
            asyncio.get_running_loop().call_later(delay, self.respond, head, kind)

    def respond(self, head: bytes, kind: str) -> None:
        self.pending -= 1
        self.stats.change(self.index, -1)
        extra = b""
        if kind == "retry":
            path = head.split(b" ", 2)[1]
            if path not in self.stats.asked:
                self.stats.asked.add(path)
                kind, extra = "rate_limited", b"Retry-After: 1\r\n"
        status, body = self.args.answers.get(kind, (b"404 Not Found", NOT_FOUND))
        if self.transport is not None and not self.transport.is_closing():
            head_only = head.startswith(b"HEAD")
            self.transport.write(RESPONSE % (status, len(body), extra) + (b"" if head_only else body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.pending:
            self.stats.change(self.index, -self.pending)  # the hung requests its client gave up on
            self.pending = 0


async def serve(args: argparse.Namespace) -> None:
    big = BODY[:-len(b"</p></body></html>")] + b"more text " * (args.big // 10) + b"</p></body></html>"
    args.answers = {"story": (b"200 OK", BODY), "slow": (b"200 OK", BODY), "retry": (b"200 OK", BODY),
                    "big": (b"200 OK", big), "soft": (b"200 OK", SOFT_404),
                    "rate_limited": (b"429 Too Many Requests", NOT_FOUND)}
    stats = Stats()
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(lambda i=i: _Host(i, stats, args),
                                 f"127.0.0.{11 + i}" if args.addresses else "127.0.0.1", 0, backlog=1024)
        for i in range(args.hosts)
    ]
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    print(json.dumps({"ports": ports}), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"stats":
            print(json.dumps({
                "max_active": [stats.max_active[i] for i in range(args.hosts)],
                "requests": [stats.requests[i] for i in range(args.hosts)],
                "timeline": [stats.timeline[i] for i in range(args.hosts)],
            }), flush=True)
        elif line.strip() == b"reset":
            for host in range(args.hosts):  # what is still in flight stays counted
                stats.timeline[host] = [(0.0, stats.active[host])] if stats.active[host] else []
            stats.started = time.monotonic()
            stats.max_active.clear()
            stats.requests.clear()
            stats.asked.clear()
            print("{}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--slow", type=float, default=2.0, help="seconds before a /slow/ page answers")
    parser.add_argument("--big", type=int, default=2_000_000, help="bytes of a /big/ page")
    parser.add_argument("--addresses", action="store_true", help="each host on its own address, 127.0.0.11 on")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
