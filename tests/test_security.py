"""Hostile repositories and received evidence (docs/security.md): what comes from someone else
(a repository's files, its file names, a page, a received report, evidence folder or WACZ) is
data, never instructions. Each test plays one attack on loopback."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
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
