"""Hostile repositories and received evidence (docs/security.md): what comes from someone else
(a repository's files, its file names, a page, a received report, evidence folder or WACZ) is
data, never instructions. Each test plays one attack on loopback."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.config import Settings, load_settings
from tests.test_integrations import SCRIPT, _env, fake_ia  # noqa: F401  (a fixture)
from tests.testweb.fake_ia import FakeInternetArchive
from tests.testweb.origin import OriginServer


# --- a repository's settings ------------------------------------------------------------


def test_a_repository_citewatch_toml_cannot_switch_the_guard_off(tmp_path: Path, web_settings: Settings,
                                                                 origin: OriginServer,
                                                                 fake_ia: FakeInternetArchive) -> None:
    """A pull request adds citewatch.toml with allow_private, connect_to, an archive endpoint and
    a header, and cites a loopback "metadata service": the Action's run never reaches it, and
    says which lines of the file had no effect."""
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
    assert loaded.settings.domains == {"example.com": {"alive_statuses": [403]}}
    assert len(loaded.warnings) == 2
    # the same file named by the operator is the operator's own: every setting counts
    named = load_settings(tmp_path / "citewatch.toml", cwd=tmp_path, env={})
    assert named.settings.allow_private is True and named.settings.domains["example.com"]["headers"]


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
