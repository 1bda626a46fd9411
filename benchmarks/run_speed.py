"""The whole job: the sample document end to end on the test web, cold and warm (wall time,
requests counted at the servers); and a generated document of 10,000 citations over 200
hosts (wall time, peak RSS).

Run: .venv/bin/python benchmarks/run_speed.py [--citations 10000] [--hosts 200] [--skip-large] [--skip-sample]
     [--without-evidence] [--postgres]
Needs the test extras (`make install-test`). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import trustme

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import Settings  # noqa: E402
from pipeline.jobs import run_documents
from pipeline.summary import RunOptions  # noqa: E402
from tests.testweb import sample_web  # noqa: E402
from tests.testweb.archive import Capture, PywbArchive  # noqa: E402
from tests.testweb.fake_ia import FakeInternetArchive  # noqa: E402
from tests.testweb.origin import OriginServer  # noqa: E402

SAMPLE = ROOT / "data" / "000_7d4670f58732b56e.txt"


@contextlib.contextmanager
def sample_test_web(work: Path) -> Iterator[tuple[Settings, OriginServer, FakeInternetArchive]]:
    """The sample document's 46 URLs on the test web, and settings pointed at it."""
    ca = trustme.CA()
    ca_file = work / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    origin = OriginServer(ca).start()
    web = sample_web.build(str(SAMPLE), origin)
    archive = FakeInternetArchive(web.captures).start()
    try:
        yield Settings(
            connect_to=origin.connect_to(*web.hosts) + origin.connect_to(), ca_bundle=str(ca_file),
            **archive.env(), archive_cdx_per_minute=0, archive_replay_per_second=0,
            canary_url="http://canary.test/ok", check_retries=0, read_timeout=0.5, request_deadline=5,
            db=str(work / "sample.sqlite"), reports_dir=str(work / "reports"),
        ), origin, archive
    finally:
        archive.stop()
        origin.stop()


def sample(work: Path) -> None:
    with sample_test_web(work) as (settings, origin, archive):
        for label in ("cold", "warm"):
            origin.reset_counts()
            archive.reset()
            started = time.perf_counter()
            summary = run_documents([str(SAMPLE)], settings, RunOptions(fail_on="never"))
            wall = time.perf_counter() - started
            print(f"sample, {label}: {wall:.2f} s wall; {len(origin.requests)} origin requests, "
                  f"{len(archive.requests)} archive requests; {summary.checked} URLs checked, "
                  f"{summary.reused} fresh, {summary.verified} citations verified")


def large(work: Path, citations: int, hosts: int, keep_evidence: bool = True, db: str = "") -> None:
    server = subprocess.Popen([sys.executable, "-m", "tests.testweb.slowweb", "--hosts", str(hosts), "--delay", "0.02"],
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ports = json.loads(server.stdout.readline())["ports"]
        urls = [f"http://host{n % hosts}.example/story/{n}" for n in range(citations)]
        story = "A story the job verifies."  # slowweb's pages do not hold it: verified by the archive
        captures = [Capture(url, "20160601000000", body=f"<p>{story}</p>".encode()) for url in urls]
        started = time.perf_counter()
        archive = PywbArchive(work / "pywb", captures).start()
        print(f"large: pywb with {citations} captures ready in {time.perf_counter() - started:.1f} s")
        document = work / "large.txt"
        document.write_text("A generated post\n\n" + "".join(
            f"{url}\n{1 + n % 28} May 2016: {story}\n\n" for n, url in enumerate(urls)))
        settings = Settings(
            connect_to=tuple(f"host{i}.example:80:127.0.0.1:{port}" for i, port in enumerate(ports)),
            wayback_cdx_url=archive.cdx_url, wayback_replay_url=archive.replay_url, wayback_dialect="pywb",
            archive_mode="timegate", archive_cdx_per_minute=0, archive_replay_per_second=0,
            canary_url="http://host0.example/story/0", db=db or str(work / "large.sqlite"),
            reports_dir=str(work / "reports"), evidence_dir=str(work / "evidence"), check_concurrency=80,
            keep_evidence=keep_evidence,
        )
        try:
            started = time.perf_counter()
            summary = run_documents([str(document)], settings, RunOptions(fail_on="never", formats=("json",)))
            wall = time.perf_counter() - started
            # The next night, as cron runs it with the default max-age (20h): every link again.
            tomorrow = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            started = time.perf_counter()
            night = run_documents([str(document)], dataclasses.replace(settings, now=tomorrow),
                                  RunOptions(fail_on="never", formats=("json",)))
            night_wall = time.perf_counter() - started
        finally:
            archive.stop()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        kept = summary.evidence
        print(f"large: {citations} citations over {hosts} hosts: {wall:.1f} s wall, peak RSS {peak:.0f} MB; "
              f"verdicts {summary.verdicts}, links {summary.links}; evidence "
              + (f"{kept['responses']} copies, {kept['revisits']} revisits, {kept['bytes']:,} bytes" if kept else "not kept"))
        print(f"large, the next night (max-age 20h): {night_wall:.1f} s wall; {night.checked} links checked again, "
              f"{night.reused} fresh, {night.verified} citations verified again")
    finally:
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citations", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--without-evidence", action="store_true", help="keep_evidence off (to compare)")
    parser.add_argument("--postgres", action="store_true",
                        help="the large job's database on a throwaway PostgreSQL cluster (its durable defaults)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        db = ""
        if args.postgres:
            from tests.postgres import Cluster

            cluster = Cluster(durable=True).start()
            stack.callback(cluster.stop)
            db = cluster.fresh_database()
            print(f"large: on PostgreSQL ({cluster.bin.parent.name}, fsync and synchronous_commit on)")
        if not args.skip_sample:
            sample(Path(tmp))
        if not args.skip_large:
            large(Path(tmp), args.citations, args.hosts, keep_evidence=not args.without_evidence, db=db)


if __name__ == "__main__":
    main()
