"""What keeping evidence costs, on the sample document on the test web: the disk per
citation (a first run, then a second run over the unchanged web: revisits only), the run's
time with and without keeping it, and the time `verify --offline` takes to make every
verdict again from the kept bytes (medians).

Run: .venv/bin/python benchmarks/evidence_cost.py [--repeat 5]
Needs the test extras (`make install-test`). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run_speed import SAMPLE, sample_test_web  # noqa: E402
from pipeline.evidence.commands import evidence_folder, reverify_targets  # noqa: E402
from pipeline.jobs import run_documents
from pipeline.summary import RunOptions  # noqa: E402

QUIET = RunOptions(fail_on="never", formats=("json",))


def warc_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.warc.gz"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp, sample_test_web(Path(tmp)) as (base, _, _):
        walls: dict[bool, list[float]] = {True: [], False: []}
        for attempt in range(args.repeat):
            for keep in (False, True):  # fresh database and folder each time: a cold run
                work = Path(tmp) / f"{attempt}-{keep}"
                work.mkdir()
                settings = dataclasses.replace(base, db=str(work / "db.sqlite"), reports_dir=str(work / "reports"),
                                               keep_evidence=keep)
                started = time.perf_counter()
                summary = run_documents([str(SAMPLE)], settings, QUIET)
                walls[keep].append(time.perf_counter() - started)
        citations = summary.citations
        folder = evidence_folder(settings)
        first = warc_bytes(folder)
        print(f"first run: {summary.evidence['responses']} copies kept, {summary.evidence['revisits']} revisits; "
              f"{first:,} bytes of WARC, {first / citations:,.0f} bytes a citation ({citations} citations); "
              f"index {(folder / 'index.sqlite').stat().st_size:,} bytes")
        again = run_documents([str(SAMPLE)], dataclasses.replace(settings, max_age="0"), QUIET)
        second = warc_bytes(folder) - first
        print(f"second run, web unchanged: {again.evidence['responses']} new copies, "
              f"{again.evidence['revisits']} revisits, {second:,} bytes ({second / citations:,.0f} a citation)")
        off, on = statistics.median(walls[False]), statistics.median(walls[True])
        print(f"cold run, median of {args.repeat}: {off:.2f} s without keeping evidence, {on:.2f} s with "
              f"(ratio {on / off:.2f})")
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            outcome = reverify_targets([str(SAMPLE)], settings)[0]
            times.append(time.perf_counter() - started)
        print(f"verify --offline, median of {args.repeat}: {statistics.median(times):.2f} s for "
              f"{outcome['summary']['citations']} citations ({outcome['summary']['same']} same, "
              f"{outcome['summary']['problems']} problems)")


if __name__ == "__main__":
    main()
