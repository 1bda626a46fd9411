"""Archive lookups: calls per unique URL (cold and warm) and lookups per second against a
local pywb with the limiters off, in CDX mode and in TimeGate mode.

Run: .venv/bin/python benchmarks/archive_speed.py [--urls 200] [--threads 8] [--repeat 3]
Needs the test extras (pywb, warcio): `make install-test`. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, ROOT)

from pipeline.archive.client import ArchiveClient
from pipeline.archive.policy import Endpoint  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from tests.testweb.archive import Capture, PywbArchive  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--urls", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    urls = [f"http://news{n % 20}.example/story/{n}" for n in range(args.urls)]
    # a realistic mix: one URL in five was never captured; of the others, some are cited in
    # another form than the one captured (https, www., a trailing slash), which the archive folds
    captured = [url for n, url in enumerate(urls) if n % 5]
    captures = [Capture(url, f"20{10 + k * 3}0601000000", body=f"<p>{url} v{k}</p>".encode())
                for url in captured for k in range(3)]
    cited = [url.replace("http://", "https://www.", 1) + "/" if n % 7 == 0 else url for n, url in enumerate(urls)]
    with tempfile.TemporaryDirectory() as tmp:
        archive = PywbArchive(Path(tmp) / "pywb", captures).start()
        try:
            base = Settings(wayback_cdx_url=archive.cdx_url, wayback_replay_url=archive.replay_url,
                            wayback_dialect="pywb", archive_cdx_per_minute=0, archive_replay_per_second=0)
            print(f"{args.urls} URLs, {len(captured)} with 3 captures each and the rest never captured, some cited "
                  f"as https://www…/; local pywb, limiters off, {args.threads} threads, {os.cpu_count()} cores")
            for mode in ("cdx", "timegate"):
                settings = dataclasses.replace(base, archive_mode=mode)
                rates, cold_calls, warm_calls, cold_cdx = [], [], [], []
                for _ in range(args.repeat):
                    client = ArchiveClient(settings)
                    started = time.perf_counter()
                    with ThreadPoolExecutor(args.threads) as pool:
                        found = list(pool.map(lambda u, client=client: client.lookup(u, "2014-01-01"), cited))
                    elapsed = time.perf_counter() - started
                    assert sum(f.closest is not None for f in found) == len(captured)
                    rates.append(args.urls / elapsed)
                    cold_calls.append(client.requests_made / args.urls)
                    cold_cdx.append(client.policy.by_endpoint[Endpoint.CDX] / args.urls)
                    before = client.requests_made
                    for url in cited:  # a warm run: the same document again
                        client.lookup(url, "2014-01-01")
                    warm_calls.append((client.requests_made - before) / args.urls)
                cold = statistics.median(cold_calls)
                print(f"{mode:>8}: {statistics.median(rates):7.1f} lookups/s (median of {args.repeat})   "
                      f"archive calls per URL: cold {cold:.2f} (CDX {statistics.median(cold_cdx):.2f}), "
                      f"warm {statistics.median(warm_calls):.2f}")
            print("at the Internet Archive's CDX rate (24 a minute, citewatch's default), CDX mode looks up "
                  "1,440 URLs an hour cold (one request a URL), any number warm")
        finally:
            archive.stop()


if __name__ == "__main__":
    main()
