"""The drop-in files: the GitHub Action's run step (scripts/github-action.sh) run end to
end on the test web, twice, as two nights of a scheduled workflow; the pre-commit hook and the
GitLab example parsed, and their commands checked against the CLI they call."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import _formats, cli
from pipeline.config import Settings
from pipeline.extract import extract
from tests.testweb.fake_ia import Capture, FakeInternetArchive
from tests.testweb.origin import OriginServer, Page

pytestmark = pytest.mark.slow  # the Action's script and git

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "github-action.sh"

NOTE = """# Field notes

22 May 2007: [the report](http://alive.test/ok) says "British troops in Afghanistan are being targeted".

3 June 2008: [a story that is gone](http://gone.test/status/404) said so.
"""


@pytest.fixture
def fake_ia() -> FakeInternetArchive:
    body = b"<p>British troops in Afghanistan are being targeted by surface-to-air missiles.</p>"
    server = FakeInternetArchive([Capture("http://alive.test/ok", "20070601000000", body=body)]).start()
    yield server
    server.stop()


def _env(web_settings: Settings, fake_ia: FakeInternetArchive, workspace: Path, **inputs: str) -> dict[str, str]:
    settings = {
        "connect_to": ",".join(web_settings.connect_to), "ca_bundle": web_settings.ca_bundle,
        "canary_url": "http://canary.test/ok", "soft404_probe": "0", "check_backoff": "0.01",
        "archive_cdx_per_minute": "0", "archive_replay_per_second": "0",
        "dead_after_failures": "1", "dead_after_days": "0",  # dead on the first failure: two nights, not four
        **fake_ia.env(),
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITEWATCH_")}
    env |= {f"CITEWATCH_{name.upper()}": value for name, value in settings.items()}
    env |= {f"INPUT_{name.upper()}": value for name, value in inputs.items()}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the citewatch installed here
    env["GITHUB_OUTPUT"] = str(workspace / "github_output")
    env["GITHUB_STEP_SUMMARY"] = str(workspace / "step_summary.md")
    return env


def _night(env: dict[str, str], workspace: Path) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    Path(env["GITHUB_OUTPUT"]).write_text("")
    done = subprocess.run(["bash", str(SCRIPT)], cwd=workspace, env=env, capture_output=True, text=True, timeout=120)
    outputs = dict(line.split("=", 1) for line in Path(env["GITHUB_OUTPUT"]).read_text().splitlines())
    return done, outputs


def test_the_action_script_two_nights(tmp_path: Path, web_settings: Settings, origin: OriginServer,
                                      fake_ia: FakeInternetArchive) -> None:
    (tmp_path / "notes" / "drafts").mkdir(parents=True)
    (tmp_path / "notes" / "field.md").write_text(NOTE)
    (tmp_path / "notes" / "drafts" / "wip.md").write_text("[x](http://draft.test/ok)\n")
    (tmp_path / ".gitignore").write_text("drafts/\n")
    env = _env(web_settings, fake_ia, tmp_path, documents="notes/")

    first, outputs = _night(env, tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr  # a link died in this run: --fail-on new-dead
    annotations = [line for line in first.stdout.splitlines() if line.startswith("::")]
    assert any(re.match(r"::error file=notes/field\.md,line=5,col=\d+,title=citewatch dead-link::dead link "
                        r"http://gone\.test/status/404", line) for line in annotations), annotations
    reports = tmp_path / "citewatch-reports"
    assert {p.name for p in reports.iterdir()} >= {"index.html", "index.json", "index.md", "new-issues.md"}
    assert {p.name for p in (reports / "field").iterdir()} >= {"report.html", "report.json", "report.md",
                                                                "report.sarif", "report.github.txt"}
    sarif = json.loads((reports / "index.sarif").read_text())
    jsonschema.validate(sarif, json.loads((ROOT / "tests" / "fixtures" / "sarif" / "sarif-2.1.0-rtm.5.json").read_text()))
    assert len(sarif["runs"]) == 1 and {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                                        for r in sarif["runs"][0]["results"]} == {"notes/field.md"}
    new_issues = (reports / "new-issues.md").read_text()
    assert "http://gone.test/status/404" in new_issues and "notes/field.md line 5" in new_issues
    assert outputs == {"exit-code": "1", "reports": "citewatch-reports",
                       "new-issues": "citewatch-reports/new-issues.md"}
    assert "field.md" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert origin.requests_for(host="draft.test") == []  # .gitignore'd
    assert (tmp_path / ".citewatch" / "citewatch.sqlite").is_file()  # what the cache keeps
    evidence = tmp_path / ".citewatch" / "citewatch-evidence"
    assert len(list(evidence.glob("*.warc.gz"))) == 1  # and the bytes the verdicts rest on

    origin.reset_counts()
    fake_ia.reset()
    second, outputs = _night(env, tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr  # still dead, but not new
    assert origin.requests_for(host="alive.test") == []  # fresh: nothing asked of it, nor of the archive for it
    assert [path for _, path in fake_ia.requests if "alive.test" in path] == []
    assert len(origin.requests_for(host="gone.test")) >= 1  # a failure is never fresh
    assert (reports / "new-issues.md").read_text() == "" and outputs["new-issues"] == ""
    assert any(line.startswith("::error file=notes/field.md,line=5") for line in second.stdout.splitlines())
    report = json.loads((reports / "field" / "report.json").read_text())
    kept = {p["evidence"]["warc"] for c in report["citations"] for p in c["passages"] if p["evidence"]}
    assert kept and all((evidence / name).is_file() for name in kept)


def test_the_action_script_says_what_it_needs(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("INPUT_", "CITEWATCH_"))}
    done = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "INPUT_DOCUMENTS" in done.stderr


def test_action_yml_runs_the_script_with_the_inputs_it_reads() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    assert step["run"].endswith("/scripts/github-action.sh\"")
    read = set(re.findall(r"\$\{(INPUT_[A-Z_]+)", SCRIPT.read_text()))
    assert set(step["env"]) <= read and "INPUT_DOCUMENTS" in step["env"]
    cache_paths = {s["with"]["path"] for s in action["runs"]["steps"] if "actions/cache" in s.get("uses", "")}
    assert cache_paths == {"${{ inputs.database }}\n${{ inputs.evidence }}\n"}  # restored and saved alike
    assert step["env"]["INPUT_DB"] == "${{ inputs.database }}"
    assert step["env"]["INPUT_EVIDENCE"] == "${{ inputs.evidence }}"


def _parses(words: list[str]) -> None:
    """The words make a valid citewatch command line (options and choices exist)."""
    context = cli.make_context("citewatch", list(words), resilient_parsing=False)
    command = cli.get_command(context, words[0])
    command.make_context(words[0], words[1:], parent=context)


def test_the_pre_commit_hook_checks_the_documents_it_is_given(tmp_path: Path, web_settings: Settings,
                                                              origin: OriginServer) -> None:
    hook, = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    entry = hook["entry"].split()
    assert entry[:2] == ["citewatch", "check"] and hook["language"] == "python"
    taken = re.compile(hook["files"])
    assert all(taken.search(name) for name in ("notes/a.md", "b.txt", "c.html")) and not taken.search("setup.py")
    good, bad = tmp_path / "good.md", tmp_path / "bad.md"
    good.write_text("[ok](http://alive.test/ok)\n")
    bad.write_text("[gone](http://gone.test/status/404)\n")
    env = {"CITEWATCH_CONNECT_TO": ",".join(web_settings.connect_to), "CITEWATCH_SOFT404_PROBE": "0"}
    assert CliRunner().invoke(cli, entry[1:] + [str(good)], env=env).exit_code == 0
    result = CliRunner().invoke(cli, entry[1:] + [str(good), str(bad)], env=env)
    assert result.exit_code == 1 and "gone.test" in result.output
    assert origin.requests_for(host="web.archive.org") == []  # no archive lookups


def test_the_gitlab_example_calls_citewatch_as_it_is() -> None:
    job = yaml.safe_load((ROOT / "examples" / "gitlab-ci.yml").read_text())["citewatch"]
    command = next(line for line in job["script"] if line.startswith("citewatch "))
    words = command.replace("$DOCUMENTS_TO_CHECK", job["variables"]["DOCUMENTS_TO_CHECK"]).split()[1:]
    _parses(words)
    formats = words[words.index("--format") + 1]
    assert "junit" in _formats(formats) and job["artifacts"]["reports"]["junit"].endswith("report.junit.xml")
    with pytest.raises(click.UsageError):
        _parses(["run", "notes/", "--no-such-option"])


def test_the_compose_example_calls_citewatch_as_it_is() -> None:
    """examples/compose.yaml (docs/scale.md): its services' commands are citewatch's own, and
    a worker is given the time its pieces are allowed to finish in before it is killed."""
    compose = yaml.safe_load((ROOT / "examples" / "compose.yaml").read_text())
    services = compose["services"]
    worker, nightly = services["worker"]["command"], services["nightly"]["command"]
    assert worker[0] == nightly[0] == "citewatch" and nightly[1:3] == ["-q", "--log"]
    _parses(worker[1:])
    _parses(nightly[4:])  # after the options of citewatch itself
    assert worker[1] == "worker" and nightly[4:6] == ["run", "/documents"] and "--no-work" in nightly
    grace = Settings().worker_grace
    assert float(services["worker"]["stop_grace_period"].rstrip("s")) > grace
    assert services["worker"]["environment"]["CITEWATCH_DB"].startswith("postgresql://")


def test_quiet_run_prints_nothing_on_a_quiet_night_and_only_the_news_otherwise(
        tmp_path: Path, web_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    """What cron mails: `citewatch -q run` from cron prints nothing unless something newly broke."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "field.md").write_text(NOTE)
    env = _env(web_settings, fake_ia, tmp_path, documents="notes/")
    command = [sys.executable, "-m", "pipeline", "-q", "run", "notes/", "--db", str(tmp_path / "db.sqlite")]
    first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 1, first.stderr
    assert first.stdout == "http://gone.test/status/404 died: cited in notes/field.md line 5\n"
    assert first.stderr == ""
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert (second.returncode, second.stdout, second.stderr) == (0, "", "")  # still dead, but not news


def test_a_run_without_a_terminal_logs_each_stage_with_done_and_total(
        tmp_path: Path, web_settings: Settings, fake_ia: FakeInternetArchive) -> None:
    """Before: progress only for the link checks, only on a terminal, as "checking 10" with no
    total; the archive lookups, verification and reports said nothing (cron's log, CI)."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "field.md").write_text(NOTE)
    env = _env(web_settings, fake_ia, tmp_path, documents="notes/")
    command = [sys.executable, "-m", "pipeline", "run", "notes/", "--db", str(tmp_path / "db.sqlite")]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    lines = run.stderr.splitlines()
    links = len(extract(str(tmp_path / "notes" / "field.md")).unique_urls())
    assert lines[0] == f"links 0/{links}" and f"links {links}/{links}" in lines
    for stage in ("archive", "verification", "reports"):
        started = [line for line in lines if line.startswith(f"{stage} 0/")]
        assert len(started) == 1, lines
        total = started[0].split("/")[1]
        assert any(line.startswith(f"{stage} {total}/{total}") for line in lines), lines


@pytest.mark.slow
def test_a_week_of_nights_from_cron_mails_only_the_night_a_link_is_dead(
        tmp_path: Path, web_settings: Settings, fake_ia: FakeInternetArchive, origin: OriginServer) -> None:
    """#23's "done when": a week of nights over a folder of notes, from cron (no terminal, -q),
    with the default rules: nothing printed on quiet nights; a link alive on night 1 and gone
    from night 2 is failing from night 2 (in the report) and reported dead on night 5, once."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "field.md").write_text(
        '# Field notes\n\n22 May 2007: [the report](http://alive.test/ok) says "British troops in Afghanistan".\n\n'
        "3 June 2008: [a story](http://dying.test/story) said so.\n")
    env = _env(web_settings, fake_ia, tmp_path) | {"CITEWATCH_DEAD_AFTER_FAILURES": "3",
                                                    "CITEWATCH_DEAD_AFTER_DAYS": "3"}  # the defaults
    nights = []
    for night in range(1, 8):
        origin.add_page("dying.test", "/story", Page(200 if night == 1 else 404, b"<title>Story</title><p>said so</p>"))
        run = subprocess.run([sys.executable, "-m", "pipeline", "-q", "--log", "citewatch.log", "run", "notes/",
                              "--db", str(tmp_path / "db.sqlite")],
                             cwd=tmp_path, env=env | {"CITEWATCH_NOW": f"2026-01-{night:02d}T03:00:00Z"},
                             capture_output=True, text=True, timeout=120)
        report = json.loads((tmp_path / "reports" / "field" / "report.json").read_text())
        source = report["citations"][1]["sources"][0]
        nights.append((run.returncode, run.stdout, run.stderr, source["state"], source["failures"]))
    assert nights == [(0, "", "", "alive", 0)] + [(0, "", "", "uncertain", n) for n in (1, 2, 3)] + [
        (1, "http://dying.test/story died: cited in notes/field.md line 5\n", "", "dead", 4),
        (0, "", "", "dead", 5), (0, "", "", "dead", 6)]
    log = (tmp_path / "citewatch.log").read_text().splitlines()  # the rest is in the log, stamped
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S.*", line) for line in log)
    assert sum(line.endswith(" links 2/2") for line in log) == 7 and sum(" reports 1/1" in line for line in log) == 7
