"""Liveness throughput and politeness: 2,000 URLs over 20 loopback hosts, every response
delayed 50 ms, at most 4 requests in flight per host and 80 in all.

Run: .venv/bin/python benchmarks/check_speed.py [--urls 2000] [--hosts 20] [--delay 0.05] [--repeat 3]

The simulated web (tests/testweb/slowweb.py) runs in its own process. Prints wall time,
URLs/s, CPU time, peak RSS, the server-side maximum of concurrent requests per host, and
the ratio of the lower bound (URLs per host x delay / per-host limit) to the wall time.
Medians over the repeats. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, ROOT)

from pipeline.config import Settings  # noqa: E402
from pipeline.liveness import check_urls  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--urls", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-m", "tests.testweb.slowweb", "--hosts", str(args.hosts), "--delay", str(args.delay)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        ports = json.loads(server.stdout.readline())["ports"]
        settings = Settings(
            connect_to=tuple(f"host{i}.example:80:127.0.0.1:{port}" for i, port in enumerate(ports)),
            check_concurrency=args.concurrency,
            check_per_host=args.per_host,
            canary_url="http://host0.example/story/0",
        )
        urls = [f"http://host{n % args.hosts}.example/story/{n}" for n in range(args.urls)]
        walls, cpus, maxima, statuses = [], [], [], set()
        for _ in range(args.repeat):
            server.stdin.write("reset\n")
            server.stdin.flush()
            server.stdout.readline()
            started, cpu = time.perf_counter(), time.process_time()
            checks = check_urls(urls, settings)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            statuses |= {c.status.value for c in checks}
            server.stdin.write("stats\n")
            server.stdin.flush()
            stats = json.loads(server.stdout.readline())
            maxima.append(max(stats["max_active"]))
            requests = sum(stats["requests"])
    finally:
        server.kill()
    wall = statistics.median(walls)
    bound = (args.urls / args.hosts) * args.delay / args.per_host
    print(f"{args.urls} URLs over {args.hosts} hosts, {args.delay * 1000:.0f} ms each, "
          f"{args.per_host} per host, {args.concurrency} in all; {os.cpu_count()} cores")
    print(f"wall (median of {args.repeat}): {wall:.2f} s   URLs/s: {args.urls / wall:.0f}   "
          f"CPU: {statistics.median(cpus):.2f} s")
    print(f"lower bound: {bound:.2f} s   ratio bound/wall: {bound / wall:.2f}")
    print(f"server-side max concurrent requests per host: {max(maxima)}   requests per run: {requests} "
          f"(URLs + soft-404 probes)   statuses: {sorted(statuses)}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
