"""Hostile repositories and received evidence (docs/security.md): what comes from someone else
(a repository's files, its file names, a page, a received report, evidence folder or WACZ) is
data, never instructions. Each test plays one attack on loopback."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from pipeline.cli import cli
from pipeline.config import DomainRule, Settings, load_settings
from tests.test_evidence import Web, cli_run, folder_of, report_of, web  # noqa: F401  (web: a fixture)
from tests.test_integrations import SCRIPT, _env, fake_ia  # noqa: F401  (a fixture)
from tests.testweb.fake_ia import FakeInternetArchive
from tests.testweb.origin import OriginServer

pytestmark = pytest.mark.slow  # citewatch processes, pywb, hostile trees

# --- a repository's settings ------------------------------------------------------------


def test_a_repository_citewatch_toml_cannot_switch_the_guard_off(tmp_path: Path, web_settings: Settings,
                                                                 origin: OriginServer,
                                                                 fake_ia: FakeInternetArchive) -> None:
    """A pull request adds citewatch.toml with allow_private, connect_to, an archive endpoint and
    a header, and cites a loopback "metadata service": the Action's run never reaches it, and
    says which lines of the file had no effect."""
    origin.reset_counts()  # a test before it on this worker may have asked 127.0.0.1 itself (test_testweb)
    metadata = f"http://127.0.0.1:{origin.http_port}/echo"
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "pr.md").write_text(f'2024: [credentials]({metadata}) say "AccessKeyId".\n')
    (tmp_path / "citewatch.toml").write_text(
        'allow_private = true\nconnect_to = ["evil.test:80:127.0.0.1:1"]\ndead_after_failures = 2\n'
        '[wayback]\ncdx_url = "http://127.0.0.1:9/cdx"\n'
        '[domains."127.0.0.1"]\nheaders = { Authorization = "x" }\nalive_statuses = [403]\n')
    env = _env(web_settings, fake_ia, tmp_path, documents="notes/")
    done = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert origin.requests_for(host="127.0.0.1") == [], done.stderr
    for line, setting in [(1, "allow_private"), (2, "connect_to"), (5, "wayback_cdx_url")]:
        assert f"citewatch.toml: line {line}: {setting} is the operator's to set" in done.stderr, done.stderr
    assert "domains.127.0.0.1.headers is the operator's to set" in done.stderr
    report = (tmp_path / "citewatch-reports" / "pr" / "report.json").read_text()
    assert '"status": "refused"' in report


def test_a_repository_file_keeps_the_rules_it_may_set(tmp_path: Path) -> None:
    (tmp_path / "citewatch.toml").write_text(
        'allow_private = true\ndead_after_failures = 5\nexclude = ["tracker"]\n'
        '[domains."example.com"]\nalive_statuses = [403]\nheaders = { Cookie = "a=b" }\n')
    loaded = load_settings(cwd=tmp_path, env={})
    assert loaded.settings.allow_private is False
    assert loaded.settings.dead_after_failures == 5 and loaded.settings.exclude == ("tracker",)
    assert loaded.settings.domains == {"example.com": DomainRule(alive_statuses=frozenset({403}))}
    assert len(loaded.warnings) == 2
    # the same file named by the operator is the operator's own: every setting counts
    named = load_settings(tmp_path / "citewatch.toml", cwd=tmp_path, env={})
    assert named.settings.allow_private is True and named.settings.domains["example.com"].headers == {"Cookie": "a=b"}


def test_the_settings_command_says_which_repository_lines_were_ignored(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("citewatch.toml").write_text("canary_url = \"http://127.0.0.1/\"\nca_bundle = \"/tmp/x.pem\"\n")
    result = CliRunner().invoke(cli, ["settings", "--json"], env={k: v for k, v in os.environ.items()
                                                                 if not k.startswith("CITEWATCH_")})
    assert result.exit_code == 0
    assert "line 1: canary_url is the operator's to set" in result.stderr
    assert "line 2: ca_bundle is the operator's to set" in result.stderr
    assert '"value": "https://www.wikipedia.org/"' in result.stdout


# --- everything printed is inert ----------------------------------------------------------

_COMMAND = re.compile(r"^::(error|warning|notice) file=[^\n]*$")


def _commands_in(output: str) -> list[str]:
    """The lines GitHub's runner would take for workflow commands: `::` after white space at a
    line's start, or the legacy `##[` anywhere."""
    return [line for line in output.splitlines() if line.strip().startswith("::") or "##[" in line]


def test_forged_file_names_and_urls_print_no_workflow_command(tmp_path: Path, web_settings: Settings,
                                                               fake_ia: FakeInternetArchive) -> None:
    """File names and a cited URL carrying `::add-mask::`, `::set-output` and `##[set-env]`, run
    through the Action's script: the only commands printed are citewatch's own annotations, and
    the new-issues Markdown pings no one."""
    notes = tmp_path / "notes"
    notes.mkdir()
    forged = "x\n::add-mask::hunter2\n##[set-env name=A]b @octocat.md"
    (notes / forged).write_text("2008: [gone](http://gone.test/status/404#a##[add-mask]s3cret) said so.\n")
    (notes / "::set-output name=x::y.md").write_text("2008: [gone](http://gone.test/status/410) said so.\n")
    env = _env(web_settings, fake_ia, tmp_path, documents="notes/")
    done = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    commands = _commands_in(done.stdout) + _commands_in(done.stderr)
    assert len(commands) >= 2 and all(_COMMAND.match(line) and "##[" not in line for line in commands), commands
    assert any("hunter2" in line for line in commands)  # the forged name, escaped inside file=
    assert any("s3cret" in line for line in commands)  # the URL is shown, escaped, not dropped
    new_issues = (tmp_path / "citewatch-reports" / "new-issues.md").read_text()
    assert "@octocat" not in new_issues and "@\u200boctocat" in new_issues
    assert "\n::" not in new_issues


def test_a_passage_and_a_page_print_no_workflow_command_in_recheck(tmp_path: Path, archive_settings: Settings,
                                                                 origin: OriginServer) -> None:
    from tests.testweb.origin import Page
    origin.add_page("forged.test", "/p", Page(body=b"<title>t</title><p>Plain words here ##[add-mask]pw and "
                                              b"more words follow.</p>"))
    doc = tmp_path / "doc.txt"
    doc.write_text("http://forged.test/p\n\n\u201cPlain words here ##[add-mask]pw\r::set-output name=a::b\u201d\n")
    settings = dataclasses.replace(archive_settings, db=str(tmp_path / "db.sqlite"), reports_dir=str(tmp_path / "r"),
                                   canary_url="http://canary.test/ok", soft404_probe=False)
    env = {f"CITEWATCH_{k.upper()}": (",".join(v) if isinstance(v, tuple) else str(v))
           for k, v in dataclasses.asdict(settings).items() if k in ("connect_to", "ca_bundle", "wayback_cdx_url",
                                                                    "wayback_replay_url", "wayback_dialect", "db",
                                                                    "reports_dir", "canary_url", "soft404_probe")}
    result = CliRunner().invoke(cli, ["run", str(doc)], env=env)
    assert result.exit_code in (0, 1), result.output
    result = CliRunner().invoke(cli, ["recheck", "http://forged.test/p"], env=env)
    assert "Plain words here" in result.stdout, result.output
    assert _commands_in(result.stdout) == [] and _commands_in(result.stderr) == []


def test_junit_and_sarif_take_any_file_name() -> None:
    from xml.etree import ElementTree

    from pipeline.report.ci_formats import render_junit, render_sarif
    data = {"document": {"path": "notes/50% off #1 ?\x07\x1b[31m.md"}, "citations": [
        {"id": "c1", "index": 1, "line_start": 3, "verdict": "not_found", "sources": [],
         "passages": [{"note": "the page says \x00\x0b hello"}]}]}
    junit = ElementTree.fromstring(render_junit(data).encode())
    assert junit.find("testcase").get("classname").startswith("notes/50% off #1 ?")
    sarif = json.loads(render_sarif(data))
    uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "notes/50%25%20off%20%231%20%3F%07%1B%5B31m.md"


# --- documents stay inside their root -----------------------------------------------------


def _run_guarded(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Python code in a process of its own: a hang is a failure with a message, not a stuck suite."""
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout whose documents folder holds what a hostile pull request can add."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text('[http]\n\textraheader = AUTHORIZATION: basic c2VjcmV0 https://git.test/x\n')
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("[token](https://leak.test/?token=outside) secret\n")
    notes = root / "notes"
    (notes / "real").mkdir(parents=True)
    (notes / "real" / "a.md").write_text("[a](https://ok.test/a) fine\n")
    (notes / "config.md").symlink_to(root / ".git" / "config")  # a file link into .git
    (notes / "far.md").symlink_to(outside / "secret.md")  # a file link out of the tree
    (notes / "etc").symlink_to(outside)  # a folder link out of the tree
    (notes / "real" / "loop").symlink_to(notes)  # two loops
    (notes / "real" / "up").symlink_to(root)
    os.mkfifo(notes / "pipe.md")  # would block a reader forever
    return root


def test_documents_never_leave_their_root(repo: Path) -> None:
    from pipeline.documents import collect_documents
    for arguments in (["notes/"], ["notes/**/*.md"], ["notes/*/*.md"], ["notes/*.md"]):
        found = _run_guarded(
            "import json, sys; from pipeline.documents import collect_documents; "
            f"print(json.dumps(collect_documents({arguments!r})))", repo)
        assert found.returncode == 0, found.stderr
        paths, skipped = json.loads(found.stdout)
        assert all("secret" not in Path(p).name and "config" not in p and "pipe" not in p for p in paths), paths
        assert all(not Path(p).resolve().is_relative_to(repo.parent / "outside") for p in paths)
    monkey = os.getcwd()
    os.chdir(repo)
    try:
        paths, skipped = collect_documents(["notes/"])
        reasons = {Path(s["path"]).name: s["reason"] for s in skipped}
        assert paths == ["notes/real/a.md"]
        assert "inside .git" in reasons["config.md"]
        assert "link to a file outside" in reasons["far.md"]
        assert "not a regular file" in reasons["pipe.md"]
        # named outright: a link into .git or out of the working directory is not read either
        paths, skipped = collect_documents(["notes/config.md", "notes/far.md", "notes/pipe.md", "/dev/zero"])
        assert paths == [] and len(skipped) == 4
    finally:
        os.chdir(monkey)


def test_a_run_over_a_hostile_tree_reads_only_its_documents(repo: Path, web_settings: Settings,
                                                             fake_ia: FakeInternetArchive) -> None:
    env = _env(web_settings, fake_ia, repo, documents="notes/ notes/**/*.md")
    done = subprocess.run(["bash", str(SCRIPT)], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    reports = repo / "citewatch-reports"
    everything = "".join(p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file())
    assert "c2VjcmV0" not in everything and "token=outside" not in everything
    assert "inside .git" in done.stdout + done.stderr


def test_a_file_name_that_is_not_utf8_is_processed_and_shown_escaped(tmp_path: Path, web_settings: Settings,
                                                                    fake_ia: FakeInternetArchive) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    with open(os.path.join(os.fsencode(notes), b"caf\xe9.md"), "w") as stream:
        stream.write('22 May 2007: [the report](http://alive.test/ok) says "British troops in Afghanistan".\n')
    (notes / "ok.md").write_text("2008: [gone](http://gone.test/status/404) said so.\n")
    env = _env(web_settings, fake_ia, tmp_path, documents="notes/")
    done = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert done.returncode == 1, done.stderr  # a link died: the run went through, both documents read
    index = json.loads((tmp_path / "citewatch-reports" / "index.json").read_text())
    assert sorted(d["path"] for d in index["documents"]) == ["notes/caf\\xe9.md", "notes/ok.md"]
    assert b"internal error" not in done.stderr


# --- patterns from a repository cannot hang a run ------------------------------------------


def test_a_hostile_citewatchignore_cannot_hang_check(tmp_path: Path) -> None:
    (tmp_path / ".citewatchignore").write_text("(a+)+$\n(x+x+)+y\n!$\n")  # the URL matches only the last
    url = "http://" + "a" * 40 + ".test/" + "a" * 5000 + "!"
    done = _run_guarded("from click.testing import CliRunner; from pipeline.cli import cli; "
                        f"r = CliRunner().invoke(cli, ['check', '--json', {url!r}], "
                        "env={'CITEWATCH_CANARY_URL': 'http://127.0.0.1:9/'}); print(r.exit_code); print(r.output)",
                        tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"status": "skipped"' in done.stdout  # (a+)+$ tried and failed, in linear time
    assert "excluded by .citewatchignore line 3" in done.stdout


def test_a_pattern_re2_cannot_run_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".citewatchignore").write_text("(a)\\1\n")
    result = CliRunner().invoke(cli, ["check", "http://x.test/"])
    assert result.exit_code == 2 and ".citewatchignore line 1" in result.stderr and "Traceback" not in result.output


def test_a_hostile_gitignore_cannot_hang_a_folder_walk(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / ".gitignore").write_text("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\n")
    (tmp_path / "notes" / ("a" * 200 + ".md")).write_text("[x](https://x.test/) y\n")
    done = _run_guarded("from pipeline.documents import find_documents; print(find_documents(['notes/']))", tmp_path)
    assert done.returncode == 0 and "aaaa" in done.stdout, done.stderr


# --- received evidence is read, never changed -----------------------------------------------



@pytest.fixture
def received(web: Web, tmp_path: Path) -> tuple[Path, Path, dict]:
    """Someone else's evidence folder and report.json, copied here as they were sent."""
    from pipeline.jobs import run_documents
    run_documents([str(web.document)], web.settings)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    for path in folder_of(web).glob("*.warc.gz"):
        (theirs / path.name).write_bytes(path.read_bytes())
    report = report_of(web)
    (tmp_path / "their-report.json").write_text(json.dumps(report))
    return theirs, tmp_path / "their-report.json", report


def _offline(web: Web, *args: str) -> subprocess.CompletedProcess:
    return cli_run("verify", "--offline", *args, "--json", env=web.env())


def test_a_received_folder_is_never_written(web: Web, received: tuple[Path, Path, dict], tmp_path: Path) -> None:
    theirs, report_path, _ = received
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n" * 100)
    (theirs / "citewatch-x.warc.gz.open").symlink_to(victim)  # recovery would cut it to its last record
    (theirs / "linked.warc.gz").symlink_to(victim)  # a scan would read through it
    os.mkfifo(theirs / "fifo.warc.gz")  # a reader would block forever
    (theirs / "index.sqlite").write_bytes(b"not a database")  # a rebuild would set it aside and write anew
    before = sorted((p.name, p.is_symlink()) for p in theirs.iterdir())
    done = _offline(web, str(report_path), "--evidence", str(theirs))
    assert done.returncode == 0, done.stdout + done.stderr
    assert victim.read_text() == "precious\n" * 100
    assert sorted((p.name, p.is_symlink()) for p in theirs.iterdir()) == before
    assert (theirs / "index.sqlite").read_bytes() == b"not a database"
    assert json.loads(done.stdout)["summary"]["same"] == 3


def test_prune_touches_no_file_the_index_names_outside_the_folder(web: Web, tmp_path: Path) -> None:
    import sqlite3

    from pipeline.jobs import run_documents
    run_documents([str(web.document)], web.settings)
    folder = folder_of(web)
    victims = [tmp_path / "x.warc.gz", tmp_path / "abs.warc.gz"]
    for victim in victims:
        victim.write_bytes(b"not theirs")
    (folder / "link.warc.gz").symlink_to(victims[0])
    with sqlite3.connect(folder / "index.sqlite") as index:
        for name in ("../x.warc.gz", str(victims[1]), "link.warc.gz"):
            index.execute("INSERT INTO records (record_id, warc, offset, length, type, url, date, written_at) "
                          "VALUES (?, ?, 0, 10, 'response', 'http://x.test/', '2020', '2020')", (f"<urn:{name}>", name))
    done = cli_run("evidence", "prune", env=web.env())
    assert done.returncode == 0, done.stderr
    assert all(victim.read_bytes() == b"not theirs" for victim in victims)
    assert (folder / "link.warc.gz").is_symlink()


def test_serve_writes_nothing_through_a_planted_link(web: Web, tmp_path: Path) -> None:
    from pipeline.evidence.model import EvidenceError
    from pipeline.evidence.package import replay_root
    from pipeline.evidence.store import EvidenceStore
    from pipeline.jobs import run_documents
    run_documents([str(web.document)], web.settings)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.yaml").write_text("mine\n")
    (folder_of(web) / ".replay").symlink_to(elsewhere)
    with EvidenceStore.open(folder_of(web), create=False) as store, pytest.raises(EvidenceError, match="link"):
        replay_root(store)
    assert (elsewhere / "config.yaml").read_text() == "mine\n" and sorted(os.listdir(elsewhere)) == ["config.yaml"]
    done = cli_run("evidence", "serve", "--port", "1", env=web.env())
    assert done.returncode == 3 and "not a folder of its own" in done.stderr and "Traceback" not in done.stderr


# --- verify --offline never passes what it cannot make again -------------------------------


def _lie(received: tuple[Path, Path, dict], change) -> Path:
    _, path, report = received
    lied = json.loads(json.dumps(report))
    change(lied)
    path.write_text(json.dumps(lied))
    return path


def test_a_verdict_with_no_copies_is_a_problem_not_a_pass(web: Web, received: tuple[Path, Path, dict]) -> None:
    def strip(report: dict) -> None:
        citation = next(c for c in report["citations"] if c["verdict"] == "verified")
        citation["copies"], citation["verified_at"] = [], None
    done = _offline(web, str(_lie(received, strip)), "--evidence", str(received[0]))
    assert done.returncode == 1
    assert "names no copy it was made on" in done.stdout


def test_a_duplicate_citation_id_is_a_problem(web: Web, received: tuple[Path, Path, dict]) -> None:
    def duplicate(report: dict) -> None:
        first = report["citations"][0]
        report["citations"].append(json.loads(json.dumps(first)) | {"verdict": "verified"})
    done = _offline(web, str(_lie(received, duplicate)), "--evidence", str(received[0]))
    assert done.returncode == 1 and "given more than once" in done.stdout


def test_a_passage_hash_that_is_none_of_the_copies_is_a_problem(web: Web, received: tuple[Path, Path, dict]) -> None:
    def swap(report: dict) -> None:
        passage = next(p for c in report["citations"] for p in c["passages"] if p["evidence"])
        passage["evidence"]["sha256"] = "0" * 64
    done = _offline(web, str(_lie(received, swap)), "--evidence", str(received[0]))
    assert done.returncode == 1 and "is none of the copies the citation names" in done.stdout


def test_a_changed_content_type_is_caught_like_a_changed_payload(web: Web, received: tuple[Path, Path, dict]) -> None:
    theirs, report_path, report = received
    ref = next(p["evidence"] for c in report["citations"] for p in c["passages"]
               if p["evidence"] and p["verdict"] == "verified")
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    with open(theirs / ref["warc"], "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_headers.get_header("WARC-Record-ID") == ref["record_id"]:
                record.http_headers.replace_header("Content-Type", "application/pdf")
                body = record.raw_stream.read()
                record = writer.create_warc_record(record.rec_headers.get_header("WARC-Target-URI"), "response",
                                                   payload=io.BytesIO(body), length=len(body),
                                                   http_headers=record.http_headers,
                                                   warc_headers_dict=dict(record.rec_headers.headers))
            writer.write_record(record)
    (theirs / ref["warc"]).write_bytes(out.getvalue())
    done = _offline(web, str(report_path), "--evidence", str(theirs))
    assert done.returncode == 1
    outcome = json.loads(done.stdout)
    assert outcome["summary"]["problems"] >= 1 and "Content-Type" in done.stdout


@pytest.mark.parametrize("content, message", [
    ("[" * 100_000 + "]" * 100_000, "nested deeper"),
    ('{"schema_version": 3, "citations": "many"}', "not a citewatch report.json"),
])
def test_a_malformed_report_is_bad_input(web: Web, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    done = _offline(web, str(path))
    assert done.returncode == 2 and message in done.stderr and "internal error" not in done.stderr


def test_a_citation_of_the_wrong_shape_is_a_problem_and_the_others_are_made_again(
        web: Web, received: tuple[Path, Path, dict]) -> None:
    def break_one(report: dict) -> None:
        report["citations"][0]["passages"] = [{"verdict": 12}]
        kept = next(c for c in report["citations"][1]["copies"] if c["evidence"])
        kept["evidence"]["offset"] = -5  # a hint, never a seek before the file
        report["citations"].append(7)
    done = _offline(web, str(_lie(received, break_one)), "--evidence", str(received[0]))
    assert done.returncode == 1, done.stderr
    outcome = json.loads(done.stdout)
    assert "not a verdict record" in done.stdout and outcome["summary"]["citations"] == 2
    assert outcome["summary"]["changed"] == 0


def test_a_fifo_named_like_a_report_or_a_wacz_is_refused_not_waited_on(web: Web, tmp_path: Path) -> None:
    for name in ("r.json", "e.wacz"):
        os.mkfifo(tmp_path / name)
        done = _offline(web, str(tmp_path / name))
        assert done.returncode == 2 and "not a regular file" in done.stderr


# --- bounded by construction --------------------------------------------------------------


def test_a_wacz_bomb_is_not_unpacked(web: Web, tmp_path: Path) -> None:
    from pipeline.evidence.package import REPORT_IN_WACZ
    bomb = tmp_path / "bomb.wacz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as wacz:
        wacz.writestr(REPORT_IN_WACZ, json.dumps({"schema_version": 3, "citations": []}))
        with wacz.open("archive/a.warc.gz", "w", force_zip64=True) as member:
            for _ in range(64):
                member.write(b"\0" * (1 << 20))  # 64 MB of zeros, about 64 KB packed
    assert bomb.stat().st_size < 1 << 20
    done = _offline(web, str(bomb))
    assert done.returncode == 2 and "unpack to more than" in done.stderr


def test_a_payload_bomb_is_read_no_further_than_a_page(web: Web, received: tuple[Path, Path, dict]) -> None:
    theirs, report_path, report = received
    body = b"<p>" + b"a" * (60 << 20) + b"</p>"
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    from warcio.statusandheaders import StatusAndHeaders
    record = writer.create_warc_record("http://one.test/story", "response", payload=io.BytesIO(body),
                                       length=len(body), http_headers=StatusAndHeaders(
                                           "200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1"))
    writer.write_record(record)
    (theirs / "bomb.warc.gz").write_bytes(out.getvalue())
    assert (theirs / "bomb.warc.gz").stat().st_size < 1 << 20

    def point(lied: dict) -> None:
        for citation in lied["citations"]:
            for item in [*citation["passages"], *citation["copies"]]:
                if item["evidence"]:
                    item["evidence"] |= {"warc": "bomb.warc.gz", "offset": 0, "content_type": "text/html",
                                         "record_id": record.rec_headers.get_header("WARC-Record-ID"),
                                         "sha256": hashlib.sha256(body).hexdigest()}
    done = subprocess.run([sys.executable, "-c", (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
        "from pipeline.cli import main; sys.argv = ['citewatch'] + sys.argv[1:]; main()"),
        "verify", "--offline", str(_lie(received, point)), "--evidence", str(theirs), "--json"],
        env=web.env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "over 5,000,000 bytes" in done.stdout


@pytest.mark.parametrize("dialect, path", [("memento", "/huge/3000?u="), ("pywb", "/huge/3000"),
                                           ("pywb", "/trickle/600")])
def test_an_index_answer_that_never_ends_is_cut_at_the_caps(origin: OriginServer, dialect: str, path: str) -> None:
    from pipeline.archive.client import ArchiveClient
    from pipeline.archive.model import ArchiveState
    settings = Settings(wayback_cdx_url=f"http://127.0.0.1:{origin.http_port}{path}", wayback_dialect=dialect,
                        wayback_replay_url=f"http://127.0.0.1:{origin.http_port}/web/", archive_cdx_per_minute=0,
                        archive_retries=0, max_body_bytes=2_000_000, request_deadline=2, read_timeout=1)
    lookup = ArchiveClient(settings).lookup("http://example.test/page", "2020")
    assert lookup.state is ArchiveState.UNAVAILABLE, lookup
    assert "2,000,000 bytes" in lookup.reason or "deadline" in lookup.reason or "timed out" in lookup.reason


def test_mementos_the_guard_refuses_are_neither_read_nor_linked(tmp_path: Path) -> None:
    """A Memento archive whose TimeMap lists every memento at a loopback address of another
    port: the guard refuses each, the reason says so (not "archive: found"), and the lookup
    the report shows links none of them."""
    from pipeline.archive.many import Archives
    from pipeline.flow import archived_copy
    from tests.testweb.loopback import LoopbackServer, QuietHandler

    class Lister(LoopbackServer):
        def start(self) -> Lister:
            class Handler(QuietHandler):
                def do_GET(self) -> None:  # noqa: N802
                    rows = ['<http://127.0.0.1:9/mem/20200101000000/http://x.test/a>; rel="memento"; '
                            'datetime="Wed, 01 Jan 2020 00:00:00 GMT"']
                    self.answer(200, ",\n".join(rows).encode(), [("Content-Type", "application/link-format")])
            self.serve(Handler)
            return self

    lister = Lister().start()
    try:
        settings = Settings(wayback_dialect="memento", wayback_cdx_url=lister.base + "/timemap/",
                            wayback_replay_url=lister.base + "/mem/", archive_cdx_per_minute=0,
                            archive_replay_per_second=0)
        copy = archived_copy(Archives(settings), "http://x.test/a", "2020")
    finally:
        lister.stop()
    assert copy.page is None and "none could be read" in copy.reason and "127.0.0.1" in copy.reason
    assert "archive: found" not in copy.reason
    assert copy.lookup.closest is None and copy.lookup.first is None and copy.lookup.last is None


def test_two_databases_sharing_a_folder_never_prune_each_others_evidence(web: Web, tmp_path: Path) -> None:
    from pipeline.evidence.commands import prune_evidence, reverify_targets
    from pipeline.jobs import run_documents
    shared = tmp_path / "shared-evidence"
    first = dataclasses.replace(web.settings, db=str(tmp_path / "one.sqlite"), evidence_dir=str(shared),
                                reports_dir=str(tmp_path / "r1"))
    second = dataclasses.replace(first, db=str(tmp_path / "two.sqlite"), reports_dir=str(tmp_path / "r2"))
    other = tmp_path / "other.txt"
    other.write_text(web.document.read_text())
    run_documents([str(web.document)], first)
    run_documents([str(other)], second)  # the same copies: revisits of the first database's records
    web.document.write_text("Evidence note\n\nNothing cited any more.\n")
    run_documents([str(web.document)], first)  # the first database no longer needs its copies
    pruned = prune_evidence(first)
    outcome = reverify_targets([str(other)], second)[0]
    assert outcome["summary"]["problems"] == 0 and outcome["summary"]["changed"] == 0, outcome
    assert pruned["files_of_other_databases"] >= 1


def test_a_full_disk_is_not_taken_for_a_corrupt_index(tmp_path: Path) -> None:
    """The files may grow no more (RLIMIT_FSIZE, as a full disk answers): opening the store
    fails with one clear error, and the good index is left where it is, not set aside."""
    from pipeline.evidence.store import EvidenceStore
    EvidenceStore.open(tmp_path / "ev").close()
    index = (tmp_path / "ev" / "index.sqlite").read_bytes()
    done = _run_guarded(
        "import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192)); "
        "from pipeline.evidence.store import EvidenceStore; from pipeline.evidence.model import EvidenceError\n"
        "try:\n    EvidenceStore.open('ev')\nexcept EvidenceError as exc:\n    print('refused:', exc)", tmp_path)
    assert done.returncode == 0 and "refused:" in done.stdout and "cannot open the evidence store" in done.stdout, \
        done.stdout + done.stderr
    assert sorted(p.name for p in (tmp_path / "ev").iterdir() if "broken" in p.name) == []
    assert (tmp_path / "ev" / "index.sqlite").read_bytes() == index


def test_json_output_stays_the_same_data_and_prints_no_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open(os.fsencode(tmp_path / "doc") + b"\xe9.md", "w") as stream:
        stream.write("2008: [a](http://x.test/p#a##[add-mask]b) said \u0085 so.\n")
    name = os.fsdecode(os.fsencode(tmp_path / "doc") + b"\xe9.md")
    result = CliRunner().invoke(cli, ["extract", name, "--json"])
    assert result.exit_code == 0, result.output
    assert _commands_in(result.stdout) == []
    data = json.loads(result.stdout)
    assert data["citations"][0]["urls"][0]["url"] == "http://x.test/p#a##[add-mask]b"  # the data, unchanged


def test_a_repository_citewatch_toml_cannot_point_the_database_at_a_server(tmp_path: Path) -> None:
    """A database URL is a connection, and the run writes the documents' citations there: a
    pull request's citewatch.toml cannot set it."""
    (tmp_path / "citewatch.toml").write_text('db = "postgresql://citewatch@collector.example/loot"\n')
    loaded = load_settings(cwd=tmp_path, env={})
    assert loaded.settings.db == "citewatch.sqlite"
    assert any("db is the operator's to set" in warning for warning in loaded.warnings)
