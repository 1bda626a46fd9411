"""A hostile document author, a hostile website, a careless operator: each attack reproduced
on the test web first, then shown to fail."""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.config import Settings
from pipeline.extract import extract_bytes
from pipeline.http import BlockingFetcher, FetchError
from pipeline.jobs import run_documents
from pipeline.liveness import check_urls
from pipeline.model import LinkStatus
from pipeline.report import html_format, report_names
from pipeline.summary import RunOptions
from pipeline.text import read_page
from tests.testweb.origin import OriginServer

# --- pages built to stall a reader --------------------------------------------------------


@pytest.mark.slow
def test_hostile_pages_are_checked_without_hanging(origin: OriginServer, web_settings: Settings, tmp_path: Path) -> None:
    """Before: 64 KB of "<" took 6.9 s to classify and 4.8 MB over ten minutes (a
    backtracking regex); 40k nested divs took two minutes to read. A hang guard, not a
    speed claim: the benchmark measures speed."""
    urls = ["http://bait.test/hostile/lt?n=4800", "http://flat.test/hostile/flat?n=40000",
            "http://deep.test/hostile/deep?n=40000", "http://attrs.test/hostile/attrs?n=100000"]
    env = {**os.environ, "CITEWATCH_CONNECT_TO": ",".join(web_settings.connect_to), "CITEWATCH_SOFT404_PROBE": "0",
           "CITEWATCH_CHECK_MAX_BYTES": "5000000", "CITEWATCH_CANARY_URL": "http://canary.test/ok"}
    done = subprocess.run([sys.executable, "-m", "pipeline", "check", "--json", *urls], env=env, capture_output=True,
                          text=True, timeout=120)
    checks = json.loads(done.stdout)
    assert [c["status"] for c in checks] == ["ok"] * 4, done.stderr


def test_hostile_pages_are_read_whole() -> None:
    from tests.testweb.origin import hostile_page

    flat = read_page(hostile_page("flat", 40_000), "text/html")
    deep = read_page(hostile_page("deep", 40_000), "text/html")  # past libxml2's depth: read plainly
    assert len(flat.paragraphs) == 40_000 and deep.paragraphs[-1] == "x deep text" and len(deep.paragraphs) == 40_000
    bait = read_page(hostile_page("lt", 4_800), "text/html")
    assert bait.paragraphs and set(bait.paragraphs[0]) == {"<"}


# --- a verdict about a site comes from the site ---------------------------------------------


@pytest.mark.slow
def test_links_waiting_for_their_host_never_time_out(origin: OriginServer, web_settings: Settings) -> None:
    """Before: the deadline counted the wait for a place for the host, so 24 URLs at 2 s on
    one host with a 10 s deadline gave 8 time-outs, 4 of them never sent."""
    settings = dataclasses.replace(web_settings, request_deadline=2.0, check_per_host=2, soft404_probe=False,
                                   check_retries=0)
    urls = [f"http://queue.test/ok?delay=0.5&n={n}" for n in range(16)]  # 4 s of work for one host, 2 at a time
    checks = check_urls(urls, settings)
    assert [c.status for c in checks] == [LinkStatus.OK] * 16
    assert max(c.queued_ms for c in checks) > 2500 and max(c.elapsed_ms for c in checks) < 2000


def test_per_domain_headers_stay_on_their_domain(origin: OriginServer, web_settings: Settings) -> None:
    rule = {"secret.test": {"headers": {"Authorization": "Bearer s3cret"}}}
    settings = dataclasses.replace(web_settings, domains=rule, soft404_probe=False)
    origin.reset_counts()
    check_urls(["http://secret.test/redirect-to?url=http://elsewhere.test/echo",
                "http://www.secret.test/redirect-to?url=http://api.secret.test/echo"], settings)
    sent = {r.host: r.headers.get("Authorization") for r in origin.requests}
    assert sent["secret.test"] == sent["www.secret.test"] == sent["api.secret.test"] == "Bearer s3cret"
    assert sent["elsewhere.test"] is None  # the redirect led off the domain: the credentials stayed behind


# --- the guard, seen through a proxy ------------------------------------------------------


class _LoggingProxy(http.server.ThreadingHTTPServer):
    seen: list[str]


@pytest.fixture
def proxy() -> Iterator[_LoggingProxy]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.server.seen.append(self.path)
            body = b"<html><body><p>through the proxy</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = _LoggingProxy(("127.0.0.1", 0), Handler)
    server.seen = []
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_legacy_numeric_loopback_forms_are_refused_through_a_proxy(proxy: _LoggingProxy, monkeypatch) -> None:
    """Before: with HTTP_PROXY set, http://0x7f.1:PORT/ reached a loopback service: the
    proxy resolved what the guard took for a name."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    urls = ["http://0x7f.1:8080/", "http://0x7f000001/", "http://2130706433/", "http://0177.0.0.1/", "http://127.1/"]
    checks = check_urls(urls, Settings(soft404_probe=False, check_retries=0, canary_url="http://canary.test/"))
    assert [c.status for c in checks] == [LinkStatus.REFUSED] * 5
    assert "that is 127.0.0.1" in checks[0].reason and proxy.seen == []
    public = check_urls(["http://example.test/page"], Settings(soft404_probe=False, check_retries=0))
    assert public[0].status is LinkStatus.OK and proxy.seen == ["http://example.test/page"]  # names go through


# --- bodies that cannot be bounded, bodies that never end ---------------------------------


def test_a_brotli_body_is_refused_not_inflated(origin: OriginServer, web_settings: Settings) -> None:
    with BlockingFetcher(web_settings) as fetcher:  # the archive's client; the checker's is the same Fetcher
        for encoding in ("br", "zstd", "gzip, br"):
            with pytest.raises(FetchError, match="cannot be bounded"):
                fetcher.fetch(f"http://bomb.test/encoded?as={encoding}")


@pytest.mark.slow
def test_a_trickled_body_stops_at_the_deadline(origin: OriginServer, web_settings: Settings) -> None:
    """Before: the deadline was looked at only between 16 KB chunks; a byte a second ran
    past 70 s with a 5 s deadline."""
    with BlockingFetcher(dataclasses.replace(web_settings, request_deadline=1.5)) as fetcher:
        with pytest.raises(FetchError, match="deadline of 1.5s exceeded") as raised:
            fetcher.fetch("http://slow.test/trickle?seconds=60")
    assert raised.value.kind.value == "timeout"


# --- reports ----------------------------------------------------------------------------------


def test_reports_of_documents_with_one_name_do_not_overwrite_each_other(
        tmp_path: Path, plain_settings: Settings, origin: OriginServer) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "doc.txt").write_text(f"Doc {folder}\n\nhttp://{folder}.test/ok\n1 May 2016: A claim {folder}.\n")
    dots = tmp_path / "...txt"
    dots.write_text("Dots\n\nhttp://c.test/ok\n1 May 2016: A claim.\n")
    reports = tmp_path / "out" / "reports"
    settings = dataclasses.replace(plain_settings, reports_dir=str(reports))
    summary = run_documents([str(tmp_path / "a" / "doc.txt"), str(tmp_path / "b" / "doc.txt"), str(dots)], settings,
                            RunOptions(fail_on="never"))
    folders = [Path(d.reports[0]).parent for d in summary.documents]
    assert len(set(folders)) == 3 and all(f.parent == reports.resolve() for f in folders)
    assert {f.name[:4] for f in folders[:2]} == {"doc-"} and folders[2].name == "document"
    titles = {json.loads((f / "report.json").read_text())["document"]["title"] for f in folders}
    assert titles == {"Doc a", "Doc b", "Dots"}
    assert not (tmp_path / "out" / "report.html").exists()  # nothing escaped the reports folder
    assert report_names(["x/doc.txt"]) == {"x/doc.txt": "doc"}  # alone, a name stays as it was


def test_two_writers_of_one_report_never_share_a_temporary_file(tmp_path: Path) -> None:
    from pipeline.report import _replace

    target = tmp_path / "report.json"
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for _ in range(40):
                _replace(target, json.dumps({"writer": n}))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and json.loads(target.read_text())["writer"] in range(4)
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def tiny_report() -> dict:
    from pipeline.linkstate import LinkState
    from pipeline.model import Document, DocumentFormat
    from pipeline.report.document import report_document
    from pipeline.results import CitationResult, DocumentResults, SourceResult

    extraction = extract_bytes(b"Note\n\nhttp://files.test/x\n1 May 2016: said the notes.\n", "note.txt")
    citation = extraction.citations[0]
    results = DocumentResults(Document("note.txt", "Note", None, "", DocumentFormat.TEXT, "utf-8"), (
        CitationResult(citation, citation.date, (SourceResult(citation.urls[0], None, LinkState.UNCERTAIN, None),),
                       None),))
    return report_document(results)


def test_bidi_controls_in_urls_and_quotes_are_shown_not_obeyed() -> None:
    data = tiny_report()
    data["citations"][0]["sources"][0]["url"] = "http://files.test/\u202egnp.exe"
    data["citations"][0]["passages"][0]["text"] = "said \u202eseton eht"
    rendered = html_format.render(data)
    assert "\u202e" not in rendered
    assert '<bdi dir="ltr">http://files.test/[U+202E]gnp.exe</bdi>' in rendered
    assert "said [U+202E]seton eht" in rendered


# --- settings and inputs from a careless operator -------------------------------------------


def test_credentials_in_an_endpoint_are_never_recorded_or_shown(tmp_path: Path) -> None:
    from pipeline.jobs import _result_settings

    settings = Settings(wayback_cdx_url="https://user:hunter2@cdx.test/cdx")
    assert _result_settings(settings)["wayback_cdx_url"] == "https://***@cdx.test/cdx"
    shown = CliRunner().invoke(cli, ["settings", "--json"], env={"CITEWATCH_WAYBACK_CDX_URL": settings.wayback_cdx_url})
    assert shown.exit_code == 0 and "hunter2" not in shown.output and "***@cdx.test" in shown.output


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CITEWATCH_REQUEST_DEADLINE", "nan", "finite number"),
        ("CITEWATCH_ARCHIVE_CACHE_DAYS", "inf", "finite number"),
        ("CITEWATCH_DEAD_AFTER_DAYS", "1e12", "at most"),
        ("CITEWATCH_MAX_AGE", "99999999d", "longer than a century"),
        ("CITEWATCH_VERIFY_SEGMENT_SCORE", "500", "at most 100"),
        ("CITEWATCH_DOMAINS", '{"a.test": {"headers": {"X-Count": 3}}}', "headers must map names to text"),
        ("CITEWATCH_DOMAINS", '{"a.test": {"alive_statuses": ["403"]}}', "alive_statuses must be HTTP statuses"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(variable: str, value: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["settings"], env={variable: value})
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_a_document_without_end_or_a_closed_stdin_is_refused(tmp_path: Path) -> None:
    zero = subprocess.run([sys.executable, "-m", "pipeline", "extract", "/dev/zero"], capture_output=True, text=True,
                          timeout=120)
    assert zero.returncode == 2 and "too large to be a document" in zero.stderr
    closed = subprocess.run([sys.executable, "-m", "pipeline", "extract", "-"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60)
    assert closed.returncode == 0  # an empty stdin is an empty document
    shut = subprocess.run(f"{sys.executable} -m pipeline extract - <&-", shell=True, capture_output=True, text=True,
                          timeout=60)
    assert shut.returncode == 2 and "standard input is closed" in shut.stderr


def test_a_database_that_breaks_after_opening_is_one_line_and_exit_3(tmp_path: Path) -> None:
    from pipeline.store import Store

    db = tmp_path / "db.sqlite"
    store = Store.open(db)
    store.db.execute("CREATE TABLE padding (x TEXT)")
    store.db.executemany("INSERT INTO padding VALUES (?)", [("x" * 1000,) for _ in range(400)])
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(db.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # every page but the first (the schema) corrupt
    db.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["history", "http://a.test/", "--db", str(db)])
    assert result.exit_code == 3 and "internal error" not in result.output
    assert "database" in result.output


def test_robust_links_skip_a_document_read_from_stdin_and_keep_going(tmp_path: Path, plain_settings: Settings,
                                                                    origin: OriginServer) -> None:
    settings = plain_settings
    note = tmp_path / "note.md"
    note.write_text("# Note\n\n22 May 2007: [a story](http://robust.test/ok).\n")
    run_documents([str(note)], settings, RunOptions(reports=False, fail_on="never"))
    runner = CliRunner()
    env = {"CITEWATCH_DB": settings.db, "CITEWATCH_CONNECT_TO": ",".join(settings.connect_to),
           "CITEWATCH_CANARY_URL": "http://canary.test/ok", "CITEWATCH_SOFT404_PROBE": "0",
           "CITEWATCH_WAYBACK_CDX_URL": "http://127.0.0.1:9/cdx", "CITEWATCH_WAYBACK_REPLAY_URL": "http://127.0.0.1:9/web/"}
    piped = runner.invoke(cli, ["run", "-", "--no-reports", "--fail-on", "never"], env=env,
                          input="Piped\n\nhttp://robust.test/page\n1 May 2016: A claim.\n")
    assert piped.exit_code == 0, piped.output
    result = runner.invoke(cli, ["report", "--robust-links", "--out", str(tmp_path / "r"), "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    assert "warning: no Robust Links for -: the document was read from standard input" in result.output
    assert "note/robust.md" in result.output and "stdin/report.json" in result.output


@pytest.mark.slow
def test_ctrl_c_stops_a_check_that_is_reading_hostile_pages(web_settings: Settings, origin: OriginServer) -> None:
    import signal

    env = {**os.environ, "CITEWATCH_CONNECT_TO": ",".join(web_settings.connect_to), "CITEWATCH_SOFT404_PROBE": "0",
           "CITEWATCH_CHECK_MAX_BYTES": "5000000", "CITEWATCH_CANARY_URL": "http://canary.test/ok"}
    urls = [f"http://bait{n}.test/hostile/lt?n=4800" for n in range(6)] + ["http://slow.test/ok?delay=30"]

    def asked() -> int:
        return len(origin.requests_for(host="slow.test")) + sum(len(origin.requests_for(host=f"bait{n}.test"))
                                                                for n in range(6))

    before = asked()
    check = subprocess.Popen([sys.executable, "-m", "pipeline", "check", *urls], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30  # interrupt once the slow page and the baits are being fetched
    while asked() < before + 2:
        assert time.monotonic() < deadline and check.poll() is None, "the check never reached the pages"
        time.sleep(0.05)
    check.send_signal(signal.SIGINT)
    _, stderr = check.communicate(timeout=30)  # not the 30 s the slow page would take, and no hang
    assert check.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
