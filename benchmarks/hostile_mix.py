"""Hostile pages among honest ones: does one page stall the others?

1,000 honest pages (the 46 real article pages of tests/realpages, about 140 KB each, served
in turn) are checked and read in full (as `citewatch run` reads them, for verification),
then the same 1,000 mixed with 1,000 hostile ones of the same size (150 KB of "<", 6,000
paragraphs, 14,000 nested divs, 50,000 unclosed attribute quotes), spread over 20 hosts on the
loopback test web. Printed: wall time of each, their ratio, the statuses (a time-out would be a
failure: nothing here is slow, and waiting for a host is never one), peak RSS.

Run: .venv/bin/python benchmarks/hostile_mix.py [--honest 1000] [--hostile 1000]
Needs the test extras (`make install-test`). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import trustme

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import Settings  # noqa: E402
from pipeline.flow import check_links  # noqa: E402
from tests.testweb.origin import OriginServer, Page  # noqa: E402

# Pages that stall a careless reader. (Decompression bombs are capped, tested in test_http; served by
# this in-process test server they would measure its threads, not citewatch.)
HOSTILE = ["/hostile/lt?n=150", "/hostile/flat?n=6000", "/hostile/deep?n=14000", "/hostile/attrs?n=50000"]
REAL = sorted((ROOT / "tests" / "realpages" / "pages").glob("*.html.gz"))


def run(urls: list[str], settings: Settings) -> tuple[float, Counter, float]:
    """Wall time, statuses, and the longest wait for a host before a request was sent."""
    started = time.perf_counter()
    checks, _ = check_links(urls, settings)
    wall = time.perf_counter() - started
    return wall, Counter(c.status.value for c in checks), max(c.queued_ms for c in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--honest", type=int, default=1000)
    parser.add_argument("--hostile", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    origin = OriginServer(trustme.CA()).start()
    try:
        settings = Settings(connect_to=origin.connect_to(), soft404_probe=False, check_retries=0,
                            canary_url="http://canary.test/ok", request_deadline=30)
        pages = [gzip.decompress(path.read_bytes()) for path in REAL]
        honest = [f"http://site{n % 20}.test/real/{n}" for n in range(args.honest)]
        for n in range(args.honest):
            origin.add_page(f"site{n % 20}.test", f"/real/{n}", Page(body=pages[n % len(pages)]))
        paths = [HOSTILE[n % len(HOSTILE)] for n in range(args.hostile)]
        hostile = [f"http://site{n % 20}.test{path}{'&' if '?' in path else '?'}i={n}" for n, path in enumerate(paths)]
        mixed = [url for pair in zip(honest, hostile) for url in pair] + honest[len(hostile):]
        walls = {"honest": [], "mixed": []}
        for _ in range(args.repeat):
            for label, urls in (("honest", honest), ("mixed", mixed)):
                wall, statuses, queued = run(urls, settings)
                walls[label].append(wall)
                print(f"{label}: {len(urls)} URLs in {wall:.2f} s; {dict(statuses)}; "
                      f"longest wait before sending {queued / 1000:.1f} s (not a time-out)")
        honest_wall, mixed_wall = statistics.median(walls["honest"]), statistics.median(walls["mixed"])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"medians: honest {honest_wall:.2f} s, mixed {mixed_wall:.2f} s, ratio {mixed_wall / honest_wall:.2f}; "
              f"peak RSS {peak:.0f} MB; {os.cpu_count()} cores")
    finally:
        origin.stop()


if __name__ == "__main__":
    main()
