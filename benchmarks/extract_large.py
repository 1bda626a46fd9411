"""Extraction throughput: a generated 50 MB plain-text document with 100,000 URLs.

Run: .venv/bin/python benchmarks/extract_large.py [--mb 50] [--urls 100000] [--repeat 3]
Prints the median wall time, MB/s and the process's peak RSS. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pipeline.extract import extract  # noqa: E402

WORDS = ("Iran Taliban Tehran officials said weapons province Afghan border report according "
         "government support fighters commander Kabul training camps rockets ministry").split()


def generate(path: str, megabytes: float, urls: int) -> None:
    rng = random.Random(7)
    per_url = int(megabytes * 1024 * 1024 / urls)
    with open(path, "w", encoding="utf-8") as out:
        out.write("Friday, December 09, 2016\n\nA generated research post\n\n")
        for n in range(urls):
            host = f"news{n % 200}.example"
            out.write(f"https://www.{host}/world/{2000 + n % 20}/story-{n}.html?utm_source=feed\n")
            words = []
            size = 0
            while size < per_url - 90:
                word = rng.choice(WORDS)
                words.append(word)
                size += len(word) + 1
            out.write(f"{1 + n % 28} May {2000 + n % 20}: " + " ".join(words) + ".\n\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--urls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "large.txt")
        generate(path, args.mb, args.urls)
        size = os.path.getsize(path) / 1024 / 1024
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            extraction = extract(path)
            times.append(time.perf_counter() - started)
            assert extraction.url_count == args.urls, extraction.url_count
            del extraction
    median = statistics.median(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"document: {size:.1f} MB, {args.urls} URLs, {args.urls} citations")
    print(f"wall (median of {args.repeat}): {median:.2f} s   throughput: {size / median:.1f} MB/s")
    print(f"peak RSS: {peak:.0f} MB   cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
