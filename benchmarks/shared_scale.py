"""A shared run at scale: 100,000 URLs over 1,000 simulated hosts (tests/testweb/slowweb.py, its
own process, 50 ms an answer), checked by `citewatch run --no-work` on PostgreSQL with 1, 2
and 4 `citewatch worker` processes, and by one `citewatch run` on SQLite to compare.

Each host has its own name (h0000.test …) on its own loopback port. The documents cite every
URL once; the archive is unreachable, so the run checks the links and keeps the earlier
verdicts: this measures the work that is shared by host (the archive's is one piece at a time
by design: docs/scale.md). Prints for each: the run's wall time, the link stage's, URLs a
second, the machine's CPU busy share (of all cores), the citewatch processes' CPU, the most
requests in flight to one host at the server, the most database connections seen, and the
run process's largest resident memory.

Run: .venv/bin/python benchmarks/shared_scale.py [--urls 100000] [--hosts 1000] [--workers 1,2,4] [--no-sqlite]
Needs the test extras (`make install-test`) and PostgreSQL's server binaries. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.postgres import Cluster

DELAY = 0.05


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of every core since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def write_documents(folder: Path, hosts: int, urls: int) -> list[str]:
    """Ten documents, each URL cited once, a host's URLs spread over them."""
    folder.mkdir()
    per_host = urls // hosts
    every = [f"http://h{h:04d}.test/story/{n}" for n in range(per_host) for h in range(hosts)]
    paths = []
    for number in range(10):
        part = every[number::10]
        path = folder / f"notes{number}.txt"
        path.write_text(f"Notes {number}\n\n" + "".join(f"{url}\n{n % 28 + 1} May 2016: Claim {number}-{n}.\n\n"
                                                       for n, url in enumerate(part)))
        paths.append(str(path))
    return paths


def one_config(label: str, env: dict[str, str], documents: list[str], workers: int, server: subprocess.Popen,
               db: str | None, work: Path) -> None:
    import psycopg

    _ask(server, "reset")
    started_cpu, (busy0, total0) = children_cpu(), machine_busy()
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "pipeline", "worker"], env=env, cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    args = [sys.executable, "-m", "pipeline", "run", *documents, "--no-reports", "--json"] + (["--no-work"] if workers else [])
    run = subprocess.Popen(args, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    most_connections = most_rss = 0
    while run.poll() is None:
        with contextlib.suppress(OSError, ValueError):
            status = Path(f"/proc/{run.pid}/status").read_text()
            most_rss = max(most_rss, int(status.split("VmRSS:")[1].split()[0]) // 1024)
        if db:
            with contextlib.suppress(Exception), psycopg.connect(db, autocommit=True) as conn:
                most_connections = max(most_connections, conn.execute(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name LIKE 'citewatch%'").fetchone()[0])
        time.sleep(0.5)
    wall = time.monotonic() - started
    out = run.stdout.read() if run.stdout else ""
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait()
    busy1, total1 = machine_busy()
    cpu = children_cpu() - started_cpu
    summary = json.loads(out)
    links = None
    if db:
        with psycopg.connect(db, autocommit=True) as conn:
            first, last = conn.execute("SELECT MIN(r.started_at), MAX(p.done_at) FROM pieces p JOIN runs r ON "
                                       "r.id = p.run_id WHERE p.stage = 'links' AND r.id = %s",
                                       (summary["run_id"],)).fetchone()
            links = _seconds(last) - _seconds(first)
    stats = _ask(server, "stats")
    most = max(stats["max_active"])
    print(f"{label}: {summary['status']}, {summary['checked']:,} URLs checked; wall {wall:.1f} s"
          + (f", link stage {links:.1f} s ({summary['checked'] / links:,.0f} URLs/s)" if links else
             f" ({summary['checked'] / wall:,.0f} URLs/s)")
          + f"; machine CPU busy {100 * (busy1 - busy0) / (total1 - total0):.0f} %; citewatch CPU {cpu:.1f} s"
          + f"; most in flight to one host {most}" + (f"; most connections {most_connections}" if db else "")
          + f"; the run's RSS {most_rss} MB",
          flush=True)


def _seconds(stamp: str) -> float:
    from pipeline.times import parse_iso

    return parse_iso(stamp).timestamp()


def _ask(server: subprocess.Popen, line: str) -> dict:
    assert server.stdin and server.stdout
    server.stdin.write(line + "\n")
    server.stdin.flush()
    return json.loads(server.stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--urls", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; {args.urls:,} URLs over {args.hosts:,} hosts, {DELAY * 1000:.0f} ms an answer",
          flush=True)
    server = subprocess.Popen([sys.executable, "-m", "tests.testweb.slowweb", "--hosts", str(args.hosts), "--delay",
                               str(DELAY)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout
    ports = json.loads(server.stdout.readline())["ports"]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            documents = write_documents(work / "docs", args.hosts, args.urls)
            env = {**os.environ, "PYTHONPATH": str(ROOT),
                   "CITEWATCH_CONNECT_TO": ",".join(f"h{h:04d}.test:80:127.0.0.1:{port}" for h, port in enumerate(ports)),
                   "CITEWATCH_CANARY_URL": "http://h0000.test/story/0", "CITEWATCH_SOFT404_PROBE": "0",
                   "CITEWATCH_KEEP_EVIDENCE": "0",
                   "CITEWATCH_WAYBACK_CDX_URL": "http://127.0.0.1:9/cdx", "CITEWATCH_WAYBACK_REPLAY_URL": "http://127.0.0.1:9/web/"}
            if not args.no_sqlite:
                one_config("SQLite, one process", {**env, "CITEWATCH_DB": str(work / "db.sqlite")}, documents, 0, server,
                           None, work)
            cluster = Cluster(durable=True).start()
            try:
                for count in [int(n) for n in args.workers.split(",")]:
                    db = cluster.fresh_database()
                    one_config(f"PostgreSQL, run --no-work + {count} worker(s)", {**env, "CITEWATCH_DB": db}, documents,
                               count, server, db, work)
            finally:
                cluster.stop()
    finally:
        server.kill()


if __name__ == "__main__":
    main()
