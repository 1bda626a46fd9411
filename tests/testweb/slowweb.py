"""A simulated web for benchmarks and load tests: many loopback ports, each a "host", every
response delayed (200 for /story/<number>, an honest 404 for anything else); counts the most
requests in flight per host. Runs in its own process
(asyncio, minimal parsing) so that the server's CPU does not share the checker's core.

    python -m tests.testweb.slowweb --hosts 20 --delay 0.05   # prints one JSON line of ports

Then each line on stdin "stats" is answered with a JSON line of per-port maxima and counts."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections import defaultdict

RESPONSE = (
    b"HTTP/1.1 %s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n"
    b"Connection: keep-alive\r\n\r\n"
)
_STORY = re.compile(rb"^[A-Z]+ /story/\d+ ")
NOT_FOUND = b"<html><head><title>Not found</title></head><body>No such story.</body></html>"
BODY = b"<html><head><title>Story</title></head><body><h1>A story</h1><p>" + b"text " * 200 + b"</p></body></html>"


class Stats:
    def __init__(self) -> None:
        self.active: dict[int, int] = defaultdict(int)
        self.max_active: dict[int, int] = defaultdict(int)
        self.requests: dict[int, int] = defaultdict(int)


class _Host(asyncio.Protocol):
    """One connection: each request (GET or HEAD, no body) answered `delay` seconds later.
    A Protocol and call_later, not streams and tasks: the server must cost little CPU."""

    def __init__(self, index: int, stats: Stats, delay: float) -> None:
        self.index, self.stats, self.delay = index, stats, delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            stats, index = self.stats, self.index
            stats.active[index] += 1
            stats.max_active[index] = max(stats.max_active[index], stats.active[index])
            stats.requests[index] += 1
            found = _STORY.match(head) is not None  # anything else is an honest 404
            asyncio.get_running_loop().call_later(self.delay, self.respond, head.startswith(b"HEAD"), found)

    def respond(self, head_only: bool, found: bool) -> None:
        self.stats.active[self.index] -= 1
        status, body = (b"200 OK", BODY) if found else (b"404 Not Found", NOT_FOUND)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(RESPONSE % (status, len(body)) + (b"" if head_only else body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(port_count: int, delay: float) -> None:
    stats = Stats()
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(lambda i=i: _Host(i, stats, delay), "127.0.0.1", 0, backlog=1024)
        for i in range(port_count)
    ]
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    print(json.dumps({"ports": ports}), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"stats":
            print(json.dumps({
                "max_active": [stats.max_active[i] for i in range(port_count)],
                "requests": [stats.requests[i] for i in range(port_count)],
            }), flush=True)
        elif line.strip() == b"reset":
            stats.max_active.clear()
            stats.requests.clear()
            print("{}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    asyncio.run(serve(args.hosts, args.delay))


if __name__ == "__main__":
    main()
