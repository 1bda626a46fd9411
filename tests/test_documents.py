"""Folders and globs of documents: what .gitignore and --exclude-path leave out, a document that
cannot be read skipped without stopping the run, and the index report of them all."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.config import Settings
from pipeline.documents import find_documents
from pipeline.errors import UsageError
from pipeline.jobs import run_documents
from pipeline.summary import RunOptions
from tests.testweb.origin import OriginServer

NOTE = "A note\n\nhttp://{host}.test/ok\n1 May 2016: A claim about {host}.\n"


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for relative in ("notes/a.md", "notes/b.txt", "notes/deep/c.html", "notes/drafts/d.md", "notes/e.tmp.md",
                     "posts/2016/f.md", "posts/2017/g.md", "posts/2017/image.png", ".git/x.md"):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(NOTE.format(host=path.stem.split(".")[0]))
    (root / ".gitignore").write_text("*.tmp.md\n")
    (root / "notes" / ".gitignore").write_text("drafts/\n")
    return root


def found(root: Path, *arguments: str, exclude: tuple[str, ...] = ()) -> list[str]:
    return [Path(p).relative_to(root).as_posix() if Path(p).is_absolute() else p
            for p in find_documents([str(root / a) if a != "-" else a for a in arguments], exclude, root=root)]


def test_a_folder_gives_its_documents_less_what_gitignore_says(notes: Path) -> None:
    assert found(notes, "notes") == ["notes/a.md", "notes/b.txt", "notes/deep/c.html"]


def test_a_glob_and_exclude_paths(notes: Path) -> None:
    assert found(notes, "posts/**/*.md") == ["posts/2016/f.md", "posts/2017/g.md"]
    assert found(notes, "posts/**/*.md", "notes", exclude=("posts/2017/", "deep/")) == [
        "posts/2016/f.md", "notes/a.md", "notes/b.txt"]


def test_a_file_named_outright_is_taken_even_if_ignored(notes: Path) -> None:
    assert found(notes, "notes/e.tmp.md", "-") == ["notes/e.tmp.md", "-"]


def test_a_folder_or_glob_with_no_document_is_a_usage_error(notes: Path) -> None:
    with pytest.raises(UsageError, match="no document there"):
        find_documents([str(notes / "posts/**/*.rst")], root=notes)
    with pytest.raises(UsageError, match="no document there"):
        find_documents([str(notes / "notes/drafts")], root=notes)  # everything in it ignored


def test_a_run_over_a_folder_skips_what_cannot_be_read_and_writes_an_index(
        notes: Path, tmp_path: Path, web_settings: Settings, origin: OriginServer, monkeypatch) -> None:
    (notes / "notes" / "broken.md").write_bytes(b"\x00\x01binary" * 100)
    monkeypatch.chdir(notes)
    settings = dataclasses.replace(web_settings, db=str(tmp_path / "db.sqlite"), reports_dir=str(tmp_path / "reports"),
                                   canary_url="http://canary.test/ok", soft404_probe=False,
                                   wayback_cdx_url="http://127.0.0.1:9/cdx", wayback_replay_url="http://127.0.0.1:9/web/")
    summary = run_documents(["notes", "posts/**/*.md"], settings, RunOptions(fail_on="never"))
    assert [Path(d.path).name for d in summary.documents] == ["a.md", "b.txt", "c.html", "f.md", "g.md"]
    assert [Path(s.path).name for s in summary.skipped] == ["broken.md"] and "binary" in summary.skipped[0].reason
    assert summary.exit_code == 1  # a document was skipped: something to look at, whatever --fail-on says
    index = json.loads((tmp_path / "reports" / "index.json").read_text())
    assert index["totals"]["documents"] == 5 and [e["report"] for e in index["documents"]][0] == "a/report.html"
    html = (tmp_path / "reports" / "index.html").read_text()
    assert 'href="a/report.html"' in html and "5 documents" in html
    assert (tmp_path / "reports" / "a" / "report.html").is_file()
    result = CliRunner().invoke(cli, ["run", "notes", "--exclude-path", "deep/", "--no-reports", "--fail-on", "never"],
                                env={"CITEWATCH_DB": settings.db, "CITEWATCH_CONNECT_TO": ",".join(settings.connect_to),
                                     "CITEWATCH_CANARY_URL": "http://canary.test/ok", "CITEWATCH_SOFT404_PROBE": "0",
                                     "CITEWATCH_WAYBACK_CDX_URL": "http://127.0.0.1:9/cdx"})
    assert result.exit_code == 1 and "broken.md" in result.stderr and result.stderr.count("skipped") == 1
    assert "broken.md" not in result.stdout  # said once, on stderr
    assert "c.html" not in result.output


def test_check_from_a_folder_checks_every_document(notes: Path, web_settings: Settings, origin: OriginServer) -> None:
    result = CliRunner().invoke(cli, ["check", "--from", str(notes / "posts"), "--json"],
                                env={"CITEWATCH_CONNECT_TO": ",".join(web_settings.connect_to),
                                     "CITEWATCH_SOFT404_PROBE": "0"})
    assert result.exit_code == 0
    assert [c["url"] for c in json.loads(result.stdout)] == ["http://f.test/ok", "http://g.test/ok"]


def test_verify_takes_a_folder_and_skips_what_cannot_be_read(notes: Path, web_settings: Settings,
                                                             origin: OriginServer) -> None:
    (notes / "posts" / "broken.md").write_bytes(b"\x00\x01binary" * 100)
    env = {"CITEWATCH_CONNECT_TO": ",".join(web_settings.connect_to), "CITEWATCH_SOFT404_PROBE": "0",
           "CITEWATCH_WAYBACK_CDX_URL": "http://127.0.0.1:9/cdx", "CITEWATCH_WAYBACK_REPLAY_URL": "http://127.0.0.1:9/web/"}
    result = CliRunner().invoke(cli, ["verify", str(notes / "posts"), "--json"], env=env)
    assert result.exit_code == 1  # a document was skipped
    shown = json.loads(result.stdout)
    assert [Path(d["document"]["path"]).name for d in shown] == ["f.md", "g.md"]
    assert "broken.md" in result.stderr
    one = CliRunner().invoke(cli, ["verify", str(notes / "posts" / "2016" / "f.md"), "--json"], env=env)
    assert one.exit_code == 0 and json.loads(one.stdout)["document"]["path"].endswith("f.md")  # one: as before
    bad = CliRunner().invoke(cli, ["verify", str(notes / "posts" / "broken.md")], env=env)
    assert bad.exit_code == 2


def test_the_index_escapes_what_documents_said() -> None:
    from pipeline.report import index

    data = {"totals": {"documents": 1, "citations": 1, "not_verified": 0, "dead_links": 0},
            "documents": [{"path": "notes/\u202egnp.md", "title": "<script>alert(1)</script>", "report": "a/report.html",
                           "citations": 1, "not_verified": 0, "link_states": {}}]}
    html = index.render_html(data)
    assert "<script>" not in html and "&lt;script&gt;" in html and "\u202e" not in html and "[U+202E]" in html
    markdown = index.render_markdown(data)
    assert "<script>" not in markdown and "\\<script\\>" in markdown and "\u202e" not in markdown


def test_check_documents_skips_one_that_cannot_be_read(tmp_path: Path, web_settings: Settings,
                                                       origin: OriginServer) -> None:
    good, binary = tmp_path / "good.md", tmp_path / "binary.md"
    good.write_text("[ok](http://alive.test/ok)\n")
    binary.write_bytes(b"\x00\x01binary" * 100)
    env = {"CITEWATCH_CONNECT_TO": ",".join(web_settings.connect_to), "CITEWATCH_SOFT404_PROBE": "0"}
    result = CliRunner().invoke(cli, ["check", "--documents", str(good), str(binary), "--json"], env=env)
    assert result.exit_code == 1 and "skipped" in result.stderr and "binary.md" in result.stderr
    assert [c["status"] for c in json.loads(result.stdout)] == ["ok"]  # the readable one was still checked
    alone = CliRunner().invoke(cli, ["check", "--documents", str(binary)], env=env)
    assert alone.exit_code == 2
    nothing = CliRunner().invoke(cli, ["check", "--documents"], env=env)
    assert nothing.exit_code == 2 and "give at least one document" in nothing.output
