"""Evidence you can keep: every copy a verdict rests on, kept as WARC (read back by warcio,
replayed by pywb), hashed in report.json, re-verified offline with the web and the archive
stopped, safe from a killed writer, packaged as a WACZ, pruned within a budget."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import trustme
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from pipeline.archive.client import ArchiveClient
from pipeline.archive.model import ArchiveState, Lookup
from pipeline.cli import cli
from pipeline.config import Settings
from pipeline.evidence.commands import reverify_targets
from pipeline.evidence.model import Exchange
from pipeline.evidence.package import validate_wacz
from pipeline.evidence.reverify import reverify
from pipeline.evidence.store import INDEX, UNREADABLE, EvidenceStore
from pipeline.flow import memento_exchange, verify_citation_copies
from pipeline.jobs import run_documents
from pipeline.model import Verdict
from pipeline.results import Copy
from pipeline.signals import unusable_copy
from pipeline.store import Store
from pipeline.text import read_page
from pipeline.verify import CopyKind, NormalizedPage
from tests.testweb.archive import Capture, PywbArchive, free_port
from tests.testweb.fake_ia import FakeInternetArchive
from tests.testweb.origin import OriginServer, Page
from tests.testweb.recorded_ia import RecordedArchive

pytestmark = pytest.mark.slow  # pywb, WACZ and citewatch processes

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "data" / "000_7d4670f58732b56e.txt"
SCHEMA = json.loads((ROOT / "pipeline" / "report" / "report.schema.json").read_text())

MISSILES = "British troops in Afghanistan are being targeted by surface-to-air missiles."
WEAPONS = "Iran has supplied the Taliban with small arms and explosives since 2007."
NOTE = f"""Evidence note

http://one.test/story
1 May 2016: {MISSILES}

http://two.test/fresh
2 May 2016: {WEAPONS}

http://three.test/gone
3 May 2016: The ministry said nothing at all that week about the talks. It denied a meeting in Tehran.
"""


def page(text: str) -> bytes:
    return f"<html><head><title>t</title></head><body><article><p>{text}</p></article></body></html>".encode()


CAPTURES = [
    Capture("http://one.test/story", "20160601000000", body=page(f"Report. {MISSILES} More text.")),
    Capture("http://three.test/gone", "20160603000000",
            body=page("The ministry said nothing at all that week about the talks.")),
]


@dataclasses.dataclass
class Web:
    """A web of its own (an origin and an archive), so that a test can stop it."""

    origin: OriginServer
    archive: FakeInternetArchive
    settings: Settings
    document: Path

    def stop(self) -> None:
        self.origin.stop()
        self.archive.stop()

    def env(self) -> dict[str, str]:
        values = {"db": self.settings.db, "reports_dir": self.settings.reports_dir,
                  "connect_to": ",".join(self.settings.connect_to), "ca_bundle": self.settings.ca_bundle,
                  "canary_url": self.settings.canary_url, "soft404_probe": "0",
                  "archive_cdx_per_minute": "0", "archive_replay_per_second": "0", **self.archive.env()}
        return {**os.environ, **{f"CITEWATCH_{k.upper()}": str(v) for k, v in values.items()}}


def start_web(tmp_path: Path, test_ca: trustme.CA, ca_file: Path, captures: list[Capture] = CAPTURES) -> Web:
    origin = OriginServer(test_ca).start()
    origin.add_page("one.test", "/story", Page(body=page(f"Today: {MISSILES}")))
    origin.add_page("two.test", "/fresh", Page(body=page(f"New: {WEAPONS}")))
    origin.add_page("three.test", "/gone", Page(status=404, body=b"not found"))
    archive = FakeInternetArchive(captures).start()
    document = tmp_path / "note.txt"
    document.write_text(NOTE)
    settings = Settings(
        connect_to=origin.connect_to(), ca_bundle=str(ca_file), request_deadline=10.0, **archive.env(),
        archive_cdx_per_minute=0, archive_replay_per_second=0, canary_url="http://canary.test/ok",
        db=str(tmp_path / "db.sqlite"), reports_dir=str(tmp_path / "reports"), check_backoff=0.01,
        soft404_probe=False, check_retries=0,
    )
    return Web(origin, archive, settings, document)


@pytest.fixture
def web(tmp_path: Path, test_ca: trustme.CA, ca_file: Path) -> Iterator[Web]:
    started = start_web(tmp_path, test_ca, ca_file)
    yield started
    started.stop()


def report_of(web: Web) -> dict:
    return json.loads((Path(web.settings.reports_dir) / "note" / "report.json").read_text())


def folder_of(web: Web) -> Path:
    return Path(web.settings.db).parent / "citewatch-evidence"


def records(path: Path) -> list[dict]:
    """Every record of a WARC file, as warcio reads it (it raises on a torn one)."""
    found = []
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            headers = record.rec_headers
            found.append({"type": record.rec_type, "id": headers.get_header("WARC-Record-ID"),
                          "uri": headers.get_header("WARC-Target-URI"), "date": headers.get_header("WARC-Date"),
                          "refers_to": headers.get_header("WARC-Refers-To"),
                          "digest": headers.get_header("WARC-Payload-Digest"),
                          "http": dict(record.http_headers.headers) if record.http_headers else {},
                          "payload": record.raw_stream.read()})
    return found


def all_records(folder: Path) -> dict[str, dict]:
    return {r["id"]: r | {"file": p.name} for p in sorted(folder.glob("*.warc.gz")) for r in records(p)}


def cli_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The command line, in this process (what a process adds is tested where it matters:
    `python -m pipeline` in test_cli, signals and kill -9 here and in test_run)."""
    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["citewatch", *args], result.exit_code, result.stdout, result.stderr)


# --- kept as WARC, tied to the report -------------------------------------------------


def test_a_run_keeps_every_copy_it_reads_and_the_report_names_the_bytes(web: Web) -> None:
    summary = run_documents([str(web.document)], web.settings)
    assert summary.verdicts == {"partial": 1, "verified": 1, "verified_live": 1}
    report = report_of(web)
    jsonschema.validate(report, SCHEMA)
    assert report["schema_version"] == 4
    kept = all_records(folder_of(web))
    named = 0
    for citation in report["citations"]:
        for passage in citation["passages"]:
            evidence = passage["evidence"]
            assert evidence is not None, passage  # every verdict here was made on a copy
            record = kept[evidence["record_id"]]
            assert record["type"] == "response" and record["file"] == evidence["warc"]
            assert hashlib.sha256(record["payload"]).hexdigest() == evidence["sha256"]
            assert record["uri"] == evidence["url"] == passage["location"] or passage["copy"] == "archive"
            named += 1
        read = [c for c in citation["copies"] if not c["reason"]]
        assert read and all(c["evidence"] for c in read)  # every copy read was kept
    assert named == 3
    verified = next(c for c in report["citations"] if c["verdict"] == "verified")
    archived = verified["passages"][0]["evidence"]
    record = kept[archived["record_id"]]
    assert record["date"] == "2016-06-01T00:00:00Z" == archived["date"]  # the memento's own date
    assert record["uri"] == "http://one.test/story"
    assert "Memento-Datetime" not in record["http"] and record["http"]["Content-Type"].startswith("text/html")
    metadata = [r for r in kept.values() if r["type"] == "metadata" and r["uri"] == "http://one.test/story"]
    assert metadata and b"citewatch-replay-url: " + web.archive.base.encode() in metadata[0]["payload"]
    assert b"citewatch-archive-header: Memento-Datetime: " in metadata[0]["payload"]
    assert summary.evidence["responses"] == 4 and summary.evidence["revisits"] == 0  # 2 mementos, 2 live pages


def test_a_second_run_adds_only_revisits_of_unchanged_copies(web: Web) -> None:
    first = run_documents([str(web.document)], web.settings)
    files_before = set(folder_of(web).glob("*.warc.gz"))
    second = run_documents([str(web.document)], dataclasses.replace(web.settings, max_age="0"))
    assert second.evidence["responses"] == 0 and second.evidence["revisits"] == first.evidence["responses"] == 4
    (new_file,) = set(folder_of(web).glob("*.warc.gz")) - files_before
    added = records(new_file)
    kinds = [r["type"] for r in added]
    assert kinds.count("revisit") == 4 and "response" not in kinds
    responses = {r["id"]: r for r in all_records(folder_of(web)).values() if r["type"] == "response"}
    for revisit in (r for r in added if r["type"] == "revisit"):
        original = responses[revisit["refers_to"]]
        assert revisit["digest"] == original["digest"] and revisit["payload"] == b""
    report = report_of(web)
    passage = report["citations"][0]["passages"][0]["evidence"]
    assert passage["revisit"] in {r["id"] for r in added} and passage["record_id"] in responses


def test_pywb_replays_the_kept_copies_byte_for_byte(web: Web) -> None:
    run_documents([str(web.document)], web.settings)
    report = report_of(web)
    port = free_port()
    env = web.env()
    server = subprocess.Popen([sys.executable, "-m", "pipeline", "evidence", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        for citation in report["citations"]:
            evidence = citation["passages"][0]["evidence"]
            stamp = "".join(ch for ch in evidence["date"] if ch.isdigit())[:14]
            url = f"http://127.0.0.1:{port}/evidence/{stamp}id_/{evidence['url']}"
            body = _get(url, deadline=time.monotonic() + 30)
            assert hashlib.sha256(body).hexdigest() == evidence["sha256"], url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def _get(url: str, deadline: float) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_html_and_markdown_reports_show_the_short_hash_and_the_local_copy(web: Web) -> None:
    """The local copy link only where the operator says `evidence serve` answers: before, every
    report linked 127.0.0.1:8090, dead wherever else the report was read."""
    run_documents([str(web.document)], web.settings)
    html = (Path(web.settings.reports_dir) / "note" / "report.html").read_text()
    assert "local copy" not in html and "127.0.0.1:8090" not in html  # the default: no such link
    run_documents([str(web.document)], dataclasses.replace(web.settings, max_age="0",
                                                           evidence_replay_url="http://127.0.0.1:8090/evidence/"))
    report = report_of(web)
    html = (Path(web.settings.reports_dir) / "note" / "report.html").read_text()
    evidence = report["citations"][0]["passages"][0]["evidence"]
    assert f"sha256:{evidence['sha256'][:12]}" in html
    assert 'href="http://127.0.0.1:8090/evidence/20160601000000/http://one.test/story"' in html
    # the link to the copy says which copy it is (it said "live page" for every copy: `p.copy`
    # in the template was the dict's own copy method)
    assert 'See it in the archived copy of <time title="20160601000000">1 June 2016</time>' in html
    assert "See it in the live page" in html
    markdown = (Path(web.settings.reports_dir) / "note" / "report.md").read_text()
    assert f"judged on the bytes kept as `sha256:{evidence['sha256'][:12]}` (2016-06-01T00:00:00Z" in markdown


# --- offline ----------------------------------------------------------------------------


def test_verify_offline_with_the_web_and_the_archive_stopped_gives_the_same_verdicts(web: Web, tmp_path: Path) -> None:
    run_documents([str(web.document)], web.settings)
    then = {c["id"]: (c["verdict"], [p["verdict"] for p in c["passages"]]) for c in report_of(web)["citations"]}
    env = web.env()
    web.stop()  # no origin, no archive: any request would fail
    report_path = Path(web.settings.reports_dir) / "note" / "report.json"
    for target in (str(web.document), str(report_path)):
        result = cli_run("verify", "--offline", target, "--json", env=env)
        assert result.returncode == 0, result.stderr
        outcome = json.loads(result.stdout)
        now = {c["id"]: (c["verdict_now"], [p["now"] for p in c["passages"]]) for c in outcome["citations"]}
        assert now == then and outcome["summary"] == {"citations": 3, "same": 3, "changed": 0, "problems": 0}
    # a reader's copy: the WARC files alone, without the index or the database
    copy = tmp_path / "their-copy"
    copy.mkdir()
    for warc in folder_of(web).glob("*.warc.gz"):
        (copy / warc.name).write_bytes(warc.read_bytes())
    copy.chmod(0o555)
    try:
        result = cli_run("verify", "--offline", str(report_path), "--evidence", str(copy), env={**env, "CITEWATCH_DB": "x"})
    finally:
        copy.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "3 same, 0 changed, 0 evidence problems" in result.stdout


def test_a_rule_change_changes_verdicts_and_verify_offline_says_which(web: Web) -> None:
    run_documents([str(web.document)], web.settings)
    partial = next(c for c in report_of(web)["citations"] if c["verdict"] == "partial")
    web.stop()
    stricter = {**web.env(), "CITEWATCH_VERIFY_PARTIAL_SHARE": "0.9"}  # "partial" now takes 90% of a quote
    result = cli_run("verify", "--offline", str(web.document), "--json", env=stricter)
    assert result.returncode == 1, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["summary"] == {"citations": 3, "same": 2, "changed": 1, "problems": 0}
    changed = next(c for c in outcome["citations"] if c["changed"])
    assert (changed["id"], changed["verdict_then"], changed["verdict_now"]) == (partial["id"], "partial", "not_found")
    text = cli_run("verify", "--offline", str(web.document), env=stricter).stdout
    assert f"{partial['id']}: partial → not_found" in text and "line 10: partial → not_found" in text


def test_a_tampered_copy_is_caught_by_its_hash(web: Web) -> None:
    run_documents([str(web.document)], web.settings)
    report = report_of(web)
    verified = next(c for c in report["citations"] if c["verdict"] == "verified")
    evidence = verified["passages"][0]["evidence"]
    path = folder_of(web) / evidence["warc"]
    _rewrite(path, evidence["record_id"], lambda body: body.replace(b"surface-to-air", b"shoulder-fired"))
    result = cli_run("verify", "--offline", str(web.document), "--json", env=web.env())
    assert result.returncode == 1
    outcome = json.loads(result.stdout)
    changed = next(c for c in outcome["citations"] if c["id"] == verified["id"])
    assert any("has changed" in problem and evidence["sha256"][:12] in problem for problem in changed["problems"])
    assert outcome["summary"]["problems"] >= 1
    text = cli_run("verify", "--offline", str(web.document), env=web.env()).stdout
    assert "has changed: its SHA-256 is" in text


def test_a_damaged_file_is_said_not_a_traceback(web: Web) -> None:
    run_documents([str(web.document)], web.settings)
    evidence = report_of(web)["citations"][0]["passages"][0]["evidence"]
    path = folder_of(web) / evidence["warc"]
    data = bytearray(path.read_bytes())
    for offset in range(evidence["offset"] + 40, evidence["offset"] + 60):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    result = cli_run("verify", "--offline", str(web.document), env=web.env())
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "evidence problems" in result.stdout and ("cannot be read" in result.stdout or "changed" in result.stdout)


def _rewrite(path: Path, record_id: str, change) -> None:
    """The WARC file again, one record's payload changed (its headers, digest included, kept)."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_headers.get_header("WARC-Record-ID") == record_id:
                body = change(record.raw_stream.read())
                record.http_headers.replace_header("Content-Length", str(len(body)))
                rebuilt = writer.create_warc_record(
                    record.rec_headers.get_header("WARC-Target-URI"), "response", payload=io.BytesIO(body),
                    length=len(body), http_headers=record.http_headers,
                    warc_headers_dict=dict(record.rec_headers.headers))
                writer.write_record(rebuilt)
            else:
                writer.write_record(record)
    path.write_bytes(out.getvalue())


# --- a killed writer -----------------------------------------------------------------------


def test_a_torn_tail_of_a_dead_writer_is_cut_and_every_record_before_it_reads(tmp_path: Path) -> None:
    folder = tmp_path / "evidence"
    store = EvidenceStore.open(folder, label="run 1")
    refs = [store.keep(Exchange(CopyKind.LIVE, f"http://x.test/{n}", "2026-01-01T00:00:00Z", 200,
                                {"Content-Type": "text/html"}, page(f"page {n}"))) for n in range(3)]
    name = store._name
    last = (folder / (name + ".open")).read_bytes()[refs[-1].offset:]
    store._file.write(last[:len(last) // 2])  # half of a record: a writer killed mid-write
    store._file.flush()
    store._file.close()  # the writer dies: its lock goes with it, its file stays .open and torn
    store._file = None
    store.db.close()
    assert (folder / (name + ".open")).exists()
    with pytest.raises(UNREADABLE):
        records(folder / (name + ".open"))  # a reader would trip on it
    again = EvidenceStore.open(folder, label="evidence")
    assert not (folder / (name + ".open")).exists()
    assert [r["type"] for r in records(folder / name)] == ["warcinfo", "response", "response", "response"]
    assert [again.read(ref).body for ref in refs] == [page(f"page {n}") for n in range(3)]
    again.close()


def test_a_file_being_written_is_left_alone_by_another_store(tmp_path: Path) -> None:
    folder = tmp_path / "evidence"
    writer = EvidenceStore.open(folder, label="run 1")
    ref = writer.keep(Exchange(CopyKind.LIVE, "http://x.test/", "2026-01-01T00:00:00Z", 200, {}, b"<p>one</p>"))
    other = EvidenceStore.open(folder, label="verify")
    assert (folder / (ref.warc + ".open")).exists()  # its writer holds it
    assert other.read(ref).body == b"<p>one</p>"
    other.close()
    writer.close()
    assert (folder / ref.warc).exists() and not (folder / (ref.warc + ".open")).exists()


def test_kill_9_during_a_run_leaves_a_store_every_command_reads(web: Web) -> None:
    urls = [f"http://slow{n}.test/ok?delay=0.4" for n in range(12)]
    web.document.write_text("Many\n\n" + "".join(f"{u}\n{n + 1} May 2016: Claim {n}.\n\n" for n, u in enumerate(urls)))
    env = {**web.env(), "CITEWATCH_CHECK_CONCURRENCY": "2"}
    run = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(web.document)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = folder_of(web)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(folder.glob("*.warc.gz.open")):
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert any(folder.glob("*.warc.gz.open")), "the run was not killed while writing"
    listing = cli_run("evidence", "ls", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    assert not any(folder.glob("*.open"))  # made whole
    for warc in folder.glob("*.warc.gz"):
        assert records(warc)  # every record reads
    for command in (["report"], ["verify", "--offline", str(web.document)], ["evidence", "ls", str(web.document)]):
        result = cli_run(*command, env=env)
        assert result.returncode in (0, 1) and "Traceback" not in result.stderr, (command, result.stderr)
    again = cli_run("run", str(web.document), "--json", env=env)
    assert json.loads(again.stdout)["status"] == "done"
    assert cli_run("verify", "--offline", str(web.document), env=env).returncode == 0


def test_keep_from_many_threads_at_once(tmp_path: Path) -> None:
    store = EvidenceStore.open(tmp_path / "evidence", label="threads")
    refs: list = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for k in range(20):
            ref = store.keep(Exchange(CopyKind.LIVE, f"http://t.test/{n}/{k}", "2026-01-01T00:00:00Z", 200, {},
                                      f"<p>{k % 5}</p>".encode()))
            with lock:
                refs.append(ref)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.written.responses == 5 and store.written.revisits == 155
    assert {store.read(ref).body for ref in refs} == {f"<p>{k}</p>".encode() for k in range(5)}
    store.close()


def test_on_postgresql_the_index_is_in_the_database_and_writers_share_one_folder(tmp_path: Path,
                                                                                postgres_cluster) -> None:
    """Workers on many machines write into one folder (a network file system, where SQLite's
    locks cannot be trusted): each its own WARC file, the index in the run's database. A copy
    one writer kept is a revisit for the other; any store on the database reads them all."""
    db = postgres_cluster.fresh_database()
    folder = tmp_path / "shared"
    writers = [EvidenceStore.of_database(db, str(folder), label=f"worker {n}") for n in range(2)]
    refs = [writers[n % 2].keep(Exchange(CopyKind.LIVE, f"http://t.test/{n}", "2026-01-01T00:00:00Z", 200, {},
                                         f"<p>{n % 3}</p>".encode())) for n in range(12)]
    for writer in writers:
        writer.close()
    assert not (folder / INDEX).exists() and len(list(folder.glob("*.warc.gz"))) == 2
    with EvidenceStore.of_database(db, str(folder)) as reader:
        assert [reader.read(ref).body for ref in refs] == [f"<p>{n % 3}</p>".encode() for n in range(12)]
        files = reader.files()
        assert [f["responses"] + f["revisits"] for f in files] == [6, 6]
        assert sum(f["responses"] for f in files) == 3  # each payload written once, across both writers


# --- packages -------------------------------------------------------------------------------


def test_the_wacz_validates_and_opens_in_pywb_and_reverifies(web: Web, tmp_path: Path) -> None:
    run_documents([str(web.document)], web.settings)
    report = report_of(web)
    out = tmp_path / "note.wacz"
    result = cli_run("evidence", "export", str(web.document), "-o", str(out), env=web.env())
    assert result.returncode == 0, result.stderr
    valid, said = validate_wacz(out)
    assert valid, said
    with zipfile.ZipFile(out) as wacz:
        package = json.loads(wacz.read("datapackage.json"))
        for resource in package["resources"]:  # every file listed, with its digest
            assert resource["hash"] == "sha256:" + hashlib.sha256(wacz.read(resource["path"])).hexdigest()
        listed = {r["path"] for r in package["resources"]}
        assert {"archive/evidence.warc.gz", "pages/pages.jsonl", "logs/citewatch-provenance.json"} <= listed
        packed = json.loads(wacz.read("logs/citewatch-provenance.json"))
        assert packed["citations"] == report["citations"] and packed["document"] == report["document"]
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()[1:]]
        assert {p["url"] for p in pages} >= {"http://one.test/story", "http://two.test/fresh"}
        warc = tmp_path / "from-wacz.warc.gz"
        warc.write_bytes(wacz.read("archive/evidence.warc.gz"))
    archive = PywbArchive(tmp_path / "pywb", [], warcs=[warc]).start()
    try:
        evidence = report["citations"][0]["passages"][0]["evidence"]
        with urllib.request.urlopen(f"{archive.base}20160601000000id_/{evidence['url']}", timeout=10) as answer:
            assert hashlib.sha256(answer.read()).hexdigest() == evidence["sha256"]
    finally:
        archive.stop()
    web.stop()
    again = cli_run("verify", "--offline", str(out), env=web.env())
    assert again.returncode == 0 and "3 same, 0 changed, 0 evidence problems" in again.stdout


# --- budget and listing ---------------------------------------------------------------------


def test_prune_keeps_what_current_verdicts_rest_on(web: Web) -> None:
    run_documents([str(web.document)], web.settings)
    run_documents([str(web.document)], dataclasses.replace(web.settings, max_age="0"))
    web.document.write_text(NOTE.split("http://three.test")[0])  # a citation dropped from the document
    run_documents([str(web.document)], dataclasses.replace(web.settings, max_age="0"))
    folder = folder_of(web)
    before = sum(p.stat().st_size for p in folder.glob("*.warc.gz"))
    result = cli_run("evidence", "prune", env=web.env())
    assert result.returncode == 0 and "dropped" in result.stdout, result.stderr
    after = sum(p.stat().st_size for p in folder.glob("*.warc.gz"))
    assert after < before
    store = Store.open(web.settings.db)
    needed = store.evidence_in_use()
    store.close()
    kept = all_records(folder)
    assert needed <= set(kept)  # every record a verdict rests on is still there
    assert not any(r["uri"] == "http://three.test/gone" for r in kept.values())  # the dropped citation's copies
    named = {p["evidence"]["warc"] for c in report_of(web)["citations"] for p in c["passages"] if p["evidence"]}
    assert named and all((folder / name).is_file() for name in named)  # a rewritten file keeps its name
    assert all(records(path)[0]["type"] == "warcinfo" for path in folder.glob("*.warc.gz"))  # and its writer
    offline = cli_run("verify", "--offline", str(web.document), env=web.env())
    assert offline.returncode == 0 and "0 evidence problems" in offline.stdout


def test_a_run_over_its_budget_prunes_and_says_what_it_kept(web: Web) -> None:
    run_documents([str(web.document)], web.settings)
    again = dataclasses.replace(web.settings, max_age="0")
    run_documents([str(web.document)], again)  # revisits, which the next run's verdicts no longer rest on
    summary = run_documents([str(web.document)], dataclasses.replace(again, evidence_budget=1))
    assert summary.evidence["pruned"]["records_dropped"] == 6  # run 2: 4 revisits, the 2 mementos' metadata records
    assert any("over its budget" in note for note in summary.notes)
    offline = cli_run("verify", "--offline", str(web.document), env=web.env())
    assert offline.returncode == 0 and "0 evidence problems" in offline.stdout


def test_evidence_ls_per_run_and_per_document(web: Web) -> None:
    run_documents([str(web.document)], web.settings)
    run_documents([str(web.document)], dataclasses.replace(web.settings, max_age="0"))
    runner = CliRunner()
    env = web.env()
    per_run = runner.invoke(cli, ["evidence", "ls", "--json"], env=env)
    assert per_run.exit_code == 0, per_run.output
    files = json.loads(per_run.output)["files"]
    assert [(f["label"], f["responses"], f["revisits"]) for f in files] == [("run 1", 4, 0), ("run 2", 0, 4)]
    per_document = runner.invoke(cli, ["evidence", "ls", str(web.document)], env=env)
    assert per_document.exit_code == 0, per_document.output
    assert "sha256:" in per_document.output and "no bytes (archive: none" not in per_document.output
    assert "http://two.test/fresh" in per_document.output


def test_keep_evidence_off_names_no_bytes_and_offline_says_so(web: Web) -> None:
    run_documents([str(web.document)], dataclasses.replace(web.settings, keep_evidence=False))
    report = report_of(web)
    assert all(p["evidence"] is None for c in report["citations"] for p in c["passages"])
    assert not folder_of(web).exists()
    result = cli_run("verify", "--offline", str(web.document), env=web.env())
    assert result.returncode == 1 and "its bytes were not kept" in result.stdout, result.stderr


def test_verify_keeps_its_copies_and_its_json_names_them(web: Web) -> None:
    result = CliRunner().invoke(cli, ["verify", str(web.document), "--json"], env=web.env())
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    evidence = [p["evidence"] for c in report["citations"] for p in c["passages"]]
    assert all(evidence)
    kept = all_records(folder_of(web))
    assert all(hashlib.sha256(kept[e["record_id"]]["payload"]).hexdigest() == e["sha256"] for e in evidence)


def test_bad_targets_are_one_line_and_exit_2(web: Web, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"schema_version": 2, "citations": []}))
    junk = tmp_path / "junk.wacz"
    junk.write_bytes(b"not a zip")
    for target, said in ((str(old), "schema_version 2"), (str(junk), "not a readable WACZ"),
                         ("missing.txt", "no such database")):
        result = CliRunner().invoke(cli, ["verify", "--offline", target], env=web.env())
        assert result.exit_code == 2 and said in result.output, (target, result.output)


# --- real archive answers ---------------------------------------------------------------------


def test_a_real_internet_archive_memento_is_kept_with_its_own_headers(tmp_path: Path) -> None:
    """epa.gov's climate page as the Wayback Machine answered it (recorded by EDGI's client):
    the page's headers come renamed X-Archive-Orig-*, beside the archive's own."""
    server = RecordedArchive("test_get_memento_follows_historical_redirects").start()
    try:
        client = ArchiveClient(Settings(**server.settings()))
        evidence = client.reader.read(f"{server.base}/web/20200201020357id_/http://epa.gov/climatechange")
        lookup = Lookup("http://epa.gov/climatechange", ArchiveState.FOUND, archive="Internet Archive")
        with EvidenceStore.open(tmp_path / "evidence", label="recorded") as store:
            ref = store.keep(memento_exchange(lookup, evidence))
    finally:
        server.stop()
    (warc,) = (tmp_path / "evidence").glob("*.warc.gz")
    kept = {r["type"]: r for r in records(warc)}
    response, metadata = kept["response"], kept["metadata"]
    assert hashlib.sha256(response["payload"]).hexdigest() == ref.sha256 == hashlib.sha256(evidence.body).hexdigest()
    assert response["uri"] == "https://www.epa.gov/sites/production/files/signpost/cc.html"
    assert not any(name.lower().startswith(("x-archive", "memento")) for name in response["http"])
    assert b"citewatch-archive-header: Memento-Datetime:" in metadata["payload"]
    stamp = evidence.snapshot.timestamp
    assert response["date"] == ref.date == f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}:{stamp[10:12]}:{stamp[12:]}Z"
    assert "X-Archive-Orig-Date" in evidence.headers and "Date" in response["http"]  # renamed back


def test_where_evidence_cannot_be_kept_verify_still_verifies_and_run_stops_before_checking(web: Web,
                                                                                          tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {**web.env(), "CITEWATCH_EVIDENCE_DIR": str(blocker / "evidence")}
    result = cli_run("verify", str(web.document), "--json", env=env)
    assert result.returncode == 0 and "verdicts will name no kept bytes" in result.stderr
    report = json.loads(result.stdout)
    assert {c["verdict"] for c in report["citations"]} == {"verified", "verified_live", "partial"}
    assert all(p["evidence"] is None for c in report["citations"] for p in c["passages"])
    web.origin.reset_counts()
    run = cli_run("run", str(web.document), env=env)
    assert run.returncode == 3 and "cannot open the evidence store" in run.stderr
    assert "Traceback" not in run.stderr and web.origin.requests == []  # nothing checked, nothing marked


def test_a_report_from_elsewhere_cannot_point_outside_the_evidence_folder(web: Web, tmp_path: Path) -> None:
    run_documents([str(web.document)], web.settings)
    report = report_of(web)
    secret = tmp_path / "secret.warc.gz"
    secret.write_bytes((folder_of(web) / report["citations"][0]["passages"][0]["evidence"]["warc"]).read_bytes())
    for citation in report["citations"]:
        for item in citation["passages"] + citation["copies"]:
            if item.get("evidence"):
                item["evidence"]["warc"] = "../secret.warc.gz" if citation["index"] == 1 else ".."
                item["evidence"]["record_id"] = "<urn:uuid:00000000-0000-0000-0000-000000000000>"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(report))
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli_run("verify", "--offline", str(forged), "--evidence", str(empty), env=web.env())
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "is not in" in result.stdout and "3 changed" in result.stdout  # nothing read from outside


def test_real_pages_kept_and_read_back_give_the_same_verdicts(tmp_path: Path) -> None:
    """The 46 real pages of tests/realpages (see its README), kept as archived copies and
    verified; then every verdict made again from the WARC alone: the bytes, their charset
    and their reading survive the round trip, for true quotes and quotes with a word changed."""
    from tests.test_realpages import CORPUS, HERE

    store = EvidenceStore.open(tmp_path / "evidence", label="realpages")
    copies = {}
    for entry in CORPUS:
        body = gzip.decompress((HERE / "pages" / entry["page"]).read_bytes())
        url = f"http://{entry['page']}/"
        ref = store.keep(Exchange(CopyKind.ARCHIVE, url, "2020-01-01T00:00:00Z", 200, {"Content-Type": "text/html"}, body))
        read = read_page(body, "text/html")
        copies[entry["page"]] = Copy(url, url, CopyKind.ARCHIVE, url, "20200101000000",
                                     NormalizedPage.of(read, unusable_copy(read, body)), "", ref)
    recorded = {}
    for number, entry in enumerate(CORPUS):
        changed = [re.sub(r"\b(\w{4,})\b", lambda m: m.group(1)[::-1], s, count=1) for s in entry["sentences"]]
        passages = [(s, n) for n, s in enumerate(entry["sentences"] + changed)]
        recorded[str(number)] = verify_citation_copies(passages, [copies[entry["page"]]])
    store.close()
    assert sum(p.verdict is Verdict.VERIFIED for v in recorded.values() for p in v.passages) >= 270
    with EvidenceStore.open(tmp_path / "evidence", label="reverify", create=False) as reader:
        again = reverify(recorded, reader.read)
    assert [r for r in again if r.changed or r.problems] == []
    assert len(again) == len(recorded) == len(CORPUS)  # one outcome a page


def test_every_verdict_of_the_sample_run_names_kept_bytes_and_is_made_again_offline(sample_run) -> None:
    """The sample document (36 citations, 46 URLs: dead links, walls, paywalls, a changed page)."""
    _, settings, summary = sample_run
    report = json.loads(Path(summary.documents[0].reports[1]).read_text())
    kept = all_records(Path(settings.db).parent / "citewatch-evidence")
    judged = 0
    for citation in report["citations"]:
        for passage in citation["passages"]:
            if passage["verdict"] != "unverifiable":
                evidence = passage["evidence"]
                assert hashlib.sha256(kept[evidence["record_id"]]["payload"]).hexdigest() == evidence["sha256"]
                judged += 1
        for copy in citation["copies"]:
            assert copy["evidence"] or copy["reason"], copy  # read and kept, or why it was not read
    assert judged >= 100
    outcome = reverify_targets([str(SAMPLE)], settings)[0]
    assert outcome["summary"] == {"citations": 36, "same": 36, "changed": 0, "problems": 0}


def test_the_index_is_made_again_from_the_warc_files_when_lost_or_broken(web: Web) -> None:
    run_documents([str(web.document)], web.settings)
    run_documents([str(web.document)], dataclasses.replace(web.settings, max_age="0"))
    folder = folder_of(web)
    env = web.env()
    before = json.loads(cli_run("evidence", "ls", "--json", env=env).stdout)["files"]
    shown = [(f["name"], f["label"], f["responses"], f["revisits"], f["bytes"]) for f in before]
    for damage in ("lost", "broken"):
        for path in folder.glob("index.sqlite*"):
            path.unlink()
        if damage == "broken":
            (folder / "index.sqlite").write_bytes(b"not a database at all")
        listing = cli_run("evidence", "ls", "--json", env=env)
        assert listing.returncode == 0, listing.stderr
        assert "made again from the WARC files" in listing.stderr
        again = json.loads(listing.stdout)["files"]
        assert [(f["name"], f["label"], f["responses"], f["revisits"], f["bytes"]) for f in again] == shown
    assert len(list(folder.glob("index.sqlite.broken-*"))) == 1  # set aside, not deleted
    per_document = cli_run("evidence", "ls", str(web.document), "--json", env=env)
    assert per_document.returncode == 0 and all(c["kept"] for c in json.loads(per_document.stdout)["copies"]
                                                if c["sha256"])
    third = run_documents([str(web.document)], dataclasses.replace(web.settings, max_age="0"))
    assert third.evidence["responses"] == 0 and third.evidence["revisits"] == 4  # the payloads are known again
    assert cli_run("verify", "--offline", str(web.document), env=env).returncode == 0


def test_a_body_cut_at_its_limit_is_kept_as_cut_and_marked(tmp_path: Path) -> None:
    with EvidenceStore.open(tmp_path / "evidence", label="cut") as store:
        ref = store.keep(Exchange(CopyKind.LIVE, "http://big.test/", "2026-01-01T00:00:00Z", 200,
                                  {"Content-Type": "text/html", "Content-Length": "9000000", "Content-Encoding": "gzip"},
                                  b"<p>" + b"x" * 1000, truncated=True))
        assert store.read(ref).body == b"<p>" + b"x" * 1000
    (record,) = [r for r in records(next((tmp_path / "evidence").glob("*.warc.gz"))) if r["type"] == "response"]
    with open(next((tmp_path / "evidence").glob("*.warc.gz")), "rb") as stream:
        truncated = [r.rec_headers.get_header("WARC-Truncated") for r in ArchiveIterator(stream) if r.rec_type == "response"]
    assert truncated == ["length"]
    assert record["http"]["Content-Length"] == "1003" and "Content-Encoding" not in record["http"]  # the bytes as kept


def test_evidence_ls_says_not_kept_when_the_file_is_gone_whatever_the_index_says(web: Web) -> None:
    run_documents([str(web.document)], web.settings)
    for warc in folder_of(web).glob("*.warc.gz"):
        warc.unlink()
    listing = cli_run("evidence", "ls", str(web.document), "--json", env=web.env())
    assert listing.returncode == 1, listing.stderr
    copies = [c for c in json.loads(listing.stdout)["copies"] if c["sha256"]]
    assert copies and not any(c["kept"] for c in copies)
    assert "NOT KEPT" in cli_run("evidence", "ls", str(web.document), env=web.env()).stdout


def test_a_run_that_cannot_open_its_evidence_folder_is_recorded_failed_not_done(web: Web, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = cli_run("run", str(web.document), env={**web.env(), "CITEWATCH_EVIDENCE_DIR": str(blocker / "x")})
    assert result.returncode == 3
    store = Store.open(web.settings.db)
    runs = store.db.execute("SELECT status FROM runs").fetchall()
    locked = store.db.execute("SELECT COUNT(*) FROM lock").fetchone()[0]
    store.close()
    assert [r[0] for r in runs] == ["failed"] and locked == 0


def test_evidence_serve_stopped_by_sigterm_stops_pywb_and_frees_the_port(web: Web) -> None:
    import socket
    run_documents([str(web.document)], web.settings)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "pipeline", "evidence", "serve", "--port", str(port)],
                              env=web.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    deadline = time.monotonic() + 30
    while not listening():
        assert time.monotonic() < deadline and server.poll() is None, "pywb never listened"
        time.sleep(0.1)
    server.send_signal(signal.SIGTERM)  # to citewatch only, as systemd's stop of a simple service
    assert server.wait(timeout=30) is not None
    deadline = time.monotonic() + 30
    while listening():
        assert time.monotonic() < deadline, "pywb still holds the port after citewatch stopped"
        time.sleep(0.1)
