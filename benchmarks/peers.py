"""citewatch's link check side by side with other link checkers, on one simulated web.

Run: .venv/bin/python benchmarks/peers.py [--linkchecker PATH] [--linkinator PATH] [--repeat 1]

The web (tests/testweb/slowweb.py, its own process): 20 hosts on their own loopback addresses
(127.0.0.11 to .30), every answer 50 ms late. Two mixes of 2,000 URLs, spread over the hosts:

- fast (latency-bound): 1,900 pages and 100 honest 404s;
- full: 1,700 pages, 100 honest 404s, 60 slow pages (2 s), 20 that never answer (a time-out
  for every tool: 5 s), 60 answered 429 with Retry-After: 1 once, 40 big pages (2 MB) and 20
  soft 404s (200 with "page not found").

Each tool runs as its own process, 32 requests in flight in all: citewatch (`citewatch check`,
4 per host, its defaults otherwise); LinkChecker (`-t 32`, at most 80 requests a second to
one host, the rate of 4 in flight at 50 ms; the server sends the `LinkChecker` header that
lets it past 10); linkinator (`--concurrency 32 --retry`). The peers run when they are given
or on PATH (`pip install linkchecker`, `npm install linkinator`).

Prints, per tool and mix: the wall time; its ratio to the lower bound (the least time each URL
holds one of the 32 places, summed, over 32: 3.1 s for the fast mix, 10.0 s for the full
one); the CPU time and peak RSS of the process; the most requests the server saw in flight to
one host; the share of URLs put in the right class (alive; broken: 404 or soft 404;
time-out); then each tool's share of its hosts' places in use, and citewatch's timeline of
requests in flight per host. `--by-site` lists a site's URLs together, as documents often
cite them. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DELAY, TIMEOUT, PER_HOST, IN_FLIGHT, HOSTS, URLS = 0.05, 5, 4, 32, 20, 2000
RATE = int(PER_HOST / DELAY)  # LinkChecker's per-host limit is a rate: 4 in flight at 50 ms is 80 a second
MIXES = {
    "fast": {"story": 1900, "gone": 100},
    "full": {"story": 1700, "gone": 100, "slow": 60, "hang": 20, "retry": 60, "big": 40, "soft": 20},
}
# The least time a URL of each kind holds one of the 32 places: the lower bound of a mix is
# their sum over 32 (a wait for Retry-After holds none; a time-out is asked once).
COST = {"story": DELAY, "gone": DELAY, "soft": DELAY, "big": DELAY, "slow": 2.0, "hang": TIMEOUT, "retry": 2 * DELAY}
EXPECTED = {"story": "alive", "slow": "alive", "retry": "alive", "big": "alive", "gone": "broken",
            "soft": "broken", "hang": "timeout"}


@dataclass
class Outcome:
    wall: float
    cpu: float
    rss_mb: float
    classes: dict[str, str]  # URL -> alive | broken | timeout | other
    stats: dict


def urls_of(mix: str, ports: list[int], by_site: bool = False) -> list[str]:
    """The mix's URLs, host after host in turn; `by_site`: a site's URLs together, as a document
    often cites them."""
    kinds = [kind for kind, count in MIXES[mix].items() for _ in range(count)]
    random.Random(7).shuffle(kinds)
    urls = [f"http://127.0.0.{11 + n % HOSTS}:{ports[n % HOSTS]}/{kind}/{n}" for n, kind in enumerate(kinds)]
    return sorted(urls, key=lambda url: url.split("/")[2]) if by_site else urls


def kind_of(url: str) -> str:
    return url.rsplit("/", 2)[1]


def run_process(argv: list[str], stdin: str, env: dict | None, cwd: Path) -> tuple[float, float, float, str]:
    """Wall, CPU (user + system) and peak RSS of one process, and its standard output. It runs
    in a folder of its own: no tool reads this checkout's settings or ignore files."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.DEVNULL,
                                   env=env, cwd=cwd, text=True)
        process.stdin.write(stdin)  # type: ignore[union-attr]
        process.stdin.close()  # type: ignore[union-attr]
        _, status, usage = os.wait4(process.pid, 0)  # reaped here, for its rusage
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # so Popen knows it is gone
        out.seek(0)
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode("utf-8", "replace")


CITEWATCH = [str(ROOT / ".venv/bin/citewatch")]


def citewatch(urls: list[str], work: Path) -> tuple[tuple, Callable[[str], dict[str, str]]]:
    document = work / "links.txt"
    document.write_text("\n".join(urls) + "\n")
    env = dict(os.environ, CITEWATCH_ALLOW_PRIVATE="1", CITEWATCH_READ_TIMEOUT=str(TIMEOUT),
               CITEWATCH_CONNECT_TIMEOUT=str(TIMEOUT), CITEWATCH_CANARY_URL=urls[0], CITEWATCH_DB=str(work / "db"))
    argv = [*CITEWATCH, "check", "--from", str(document), "--json",
            "--concurrency", str(IN_FLIGHT), "--per-host", str(PER_HOST)]

    def parse(output: str) -> dict[str, str]:
        named = {"ok": "alive", "redirected": "alive", "not_found": "broken", "soft_404": "broken",
                 "timeout": "timeout"}
        return {row["url"]: named.get(row["status"], row["status"]) for row in json.loads(output)}
    return (argv, "", env), parse


def linkchecker(path: str) -> Callable:
    def setup(urls: list[str], work: Path) -> tuple[tuple, Callable[[str], dict[str, str]]]:
        config = work / "linkcheckerrc"
        config.write_text(f"[checking]\nmaxrequestspersecond={RATE}\n")
        argv = [path, "--config", str(config), "--stdin", "-r0", "--no-status", "-o", "csv", "-v",
                "--timeout", str(TIMEOUT), "-t", str(IN_FLIGHT)]

        def parse(output: str) -> dict[str, str]:
            lines = [line for line in output.splitlines() if line and not line.startswith("#")]
            classes = {}
            for row in csv.DictReader(io.StringIO("\n".join(lines)), delimiter=";"):
                result = (row.get("result") or "").lower()
                classes[row["urlname"]] = ("alive" if row.get("valid") == "True" else
                                           "timeout" if "timed out" in result or "timeout" in result else "broken")
            return classes
        return (argv, "\n".join(urls) + "\n", None), parse
    return setup


def linkinator(path: str) -> Callable:
    def setup(urls: list[str], work: Path) -> tuple[tuple, Callable[[str], dict[str, str]]]:
        page = work / "links.html"
        page.write_text("<html><body>" + "".join(f'<a href="{url}">{n}</a>\n' for n, url in enumerate(urls))
                        + "</body></html>")
        argv = [path, str(page), "--concurrency", str(IN_FLIGHT), "--timeout", str(TIMEOUT * 1000), "--retry",
                "--format", "json"]

        def parse(output: str) -> dict[str, str]:
            links = json.loads(output[output.index("{"):])["links"]
            return {link["url"]: "alive" if link["state"] == "OK" else "timeout" if not link["status"] else "broken"
                    for link in links if link["url"].startswith("http://127.0.0.")}
        return (argv, "", None), parse
    return setup


def measure(server: subprocess.Popen, setup: Callable, urls: list[str]) -> Outcome:
    with tempfile.TemporaryDirectory() as folder:
        (argv, stdin, env), parse = setup(urls, Path(folder))
        _ask(server, "reset")
        wall, cpu, rss, output = run_process(argv, stdin, env, Path(folder))
        stats = _ask(server, "stats")
        return Outcome(wall, cpu, rss, parse(output), stats)


def _ask(server: subprocess.Popen, line: str) -> dict:
    server.stdin.write(line + "\n")  # type: ignore[union-attr]
    server.stdin.flush()  # type: ignore[union-attr]
    return json.loads(server.stdout.readline())  # type: ignore[union-attr]


def right_share(urls: list[str], classes: dict[str, str]) -> float:
    return sum(classes.get(url) == EXPECTED[kind_of(url)] for url in urls) / len(urls)


def busy_share(timeline: list[list[float]], end: float) -> float:
    """Slot-seconds in use over the host's span (its first request to `end`), out of PER_HOST."""
    if not timeline:
        return 0.0
    busy, (last_t, last_n) = 0.0, timeline[0]
    for t, n in timeline[1:]:
        busy += min(last_n, PER_HOST) * (t - last_t)
        last_t, last_n = t, n
    return busy / (PER_HOST * max(end - timeline[0][0], 1e-9))


def sparkline(timeline: list[list[float]], end: float, step: float) -> str:
    """Requests in flight to one host, sampled every `step` seconds: 0-4, + above 4."""
    marks, index, current = [], 0, 0
    for tick in range(int(end / step) + 1):
        while index < len(timeline) and timeline[index][0] <= tick * step:
            current = timeline[index][1]
            index += 1
        marks.append(str(current) if current <= 4 else "+")
    return "".join(marks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--linkchecker", default=shutil.which("linkchecker"))
    parser.add_argument("--linkinator", default=shutil.which("linkinator"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--citewatch", help="the command that runs citewatch (another checkout, say: "
                                            "'env PYTHONPATH=/tmp/old .venv/bin/python -m pipeline')")
    parser.add_argument("--mix", choices=sorted(MIXES), action="append")
    parser.add_argument("--by-site", action="store_true", help="a site's URLs together in the list, not in turns")
    args = parser.parse_args()
    if args.citewatch:
        CITEWATCH[:] = shlex.split(args.citewatch)
    tools: dict[str, Callable] = {"citewatch": citewatch}
    for name, maker in (("LinkChecker", linkchecker), ("linkinator", linkinator)):
        path = getattr(args, name.lower())
        if path:
            tools[name] = maker(path)
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.testweb.slowweb", "--hosts", str(HOSTS), "--delay", str(DELAY), "--addresses"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    print(f"{URLS} URLs over {HOSTS} hosts, {DELAY * 1000:.0f} ms an answer, {IN_FLIGHT} in flight; "
          f"{os.cpu_count()} cores; medians of {args.repeat}")
    print(f"{'mix':5} {'tool':12} {'wall s':>7} {'x bound':>7} {'CPU s':>6} {'RSS MB':>7} {'max/host':>8} "
          f"{'right':>6} {'soft 404s':>9}")
    timelines = {}
    try:
        ports = json.loads(server.stdout.readline())["ports"]  # type: ignore[union-attr]
        for mix in args.mix or ["fast", "full"]:
            urls = urls_of(mix, ports, args.by_site)
            bound = sum(COST[kind] * count for kind, count in MIXES[mix].items()) / IN_FLIGHT
            for name, setup in tools.items():
                outcomes = [measure(server, setup, urls) for _ in range(args.repeat)]
                wall = statistics.median(o.wall for o in outcomes)
                last = outcomes[-1]
                soft = [u for u in urls if kind_of(u) == "soft"]
                caught = f"{sum(last.classes.get(u) == 'broken' for u in soft)}/{len(soft)}" if soft else "-"
                print(f"{mix:5} {name:12} {wall:7.2f} {wall / bound:7.2f} "
                      f"{statistics.median(o.cpu for o in outcomes):6.2f} {max(o.rss_mb for o in outcomes):7.0f} "
                      f"{max(last.stats['max_active']):8} {right_share(urls, last.classes):6.1%} {caught:>9}",
                      flush=True)
                timelines[mix, name] = (last.stats["timeline"], last.wall)
    finally:
        server.kill()
    for (mix, name), (lines, wall) in timelines.items():
        shares = [busy_share(line, wall) for line in lines]
        print(f"\n{name}, {mix} mix: share of each host's 4 places in use from its first request to the end: "
              f"median {statistics.median(shares):.0%}, lowest {min(shares):.0%}")
        if name == "citewatch":
            step = max(wall / 60, 0.05)
            print(f"requests in flight per host, every {step:.2f} s:")
            for host, line in enumerate(lines):
                print(f"  127.0.0.{11 + host:<3} {sparkline(line, wall, step)}")


if __name__ == "__main__":
    main()
