"""The command line: version, help on every command, settings, errors as one line and an exit code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import __version__
from pipeline.cli import cli
from pipeline.config import Settings
from pipeline.errors import ExitCode


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_help_lists_exit_codes(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "--config" in result.output and "Exit codes" in result.output


def test_every_command_has_help_with_an_example(runner: CliRunner) -> None:
    assert cli.commands, "no command registered"
    for name in cli.commands:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example" in result.output and f"citewatch {name}" in result.output, name


def test_settings_json_shows_environment_values(runner: CliRunner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["settings", "--json"], env={"CITEWATCH_WAYBACK_DIALECT": "pywb"})
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)["settings"]}
    assert (rows["wayback_dialect"]["value"], rows["wayback_dialect"]["source"]) == ("pywb", "CITEWATCH_WAYBACK_DIALECT")


def test_bad_config_file_is_one_line_and_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[wayback]\ndialect = pywb\n")
    result = runner.invoke(cli, ["--config", str(config), "settings"])
    assert result.exit_code == ExitCode.USAGE
    assert result.output.strip().splitlines() == [f"citewatch: error: {config}: line 2: invalid TOML: Invalid value"]
    assert "Traceback" not in result.output


def test_config_file_in_working_directory_is_found(runner: CliRunner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("citewatch.toml").write_text("allow_private = true\n")
    result = runner.invoke(cli, ["settings"])
    assert result.exit_code == 0
    assert "citewatch.toml: line 1" in result.output


def test_unknown_command_is_usage_error(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["no-such-command"]).exit_code == 2


def test_internal_errors_are_one_line_unless_verbose(runner: CliRunner) -> None:
    @cli.command("explode", hidden=True)
    def explode() -> None:
        raise RuntimeError("boom")

    try:
        quiet = runner.invoke(cli, ["explode"])
        verbose = runner.invoke(cli, ["-v", "explode"])
    finally:
        del cli.commands["explode"]
    assert quiet.exit_code == ExitCode.CANNOT_RUN
    assert quiet.output.strip() == "citewatch: error: internal error: RuntimeError: boom (run with -v for details)"
    assert "Traceback" in verbose.output


@pytest.mark.slow
def test_python_dash_m_and_console_script_run() -> None:
    module = subprocess.run([sys.executable, "-m", "pipeline", "--version"], capture_output=True, text=True)
    script = Path(sys.executable).parent / "citewatch"
    console = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert module.returncode == 0 and __version__ in module.stdout
    assert console.returncode == 0 and __version__ in console.stdout


README = Path(__file__).parent.parent / "README.md"


def test_exit_codes_are_documented_where_users_read_them(runner: CliRunner) -> None:
    help_text = runner.invoke(cli, ["--help"]).output
    readme = README.read_text(encoding="utf-8")
    documented = {int(n) for n in re.findall(r"^\s+(\d)\s{2}", help_text, re.MULTILINE)}
    assert documented == {int(code) for code in ExitCode}
    for code in ExitCode:
        assert f"`{int(code)}`" in readme.split("Exit codes:", 1)[1][:600], code


def exit_code_of(args: list[str], **env: str) -> int:
    return CliRunner().invoke(cli, args, env=env).exit_code


def test_each_exit_code_is_what_its_situation_gives(tmp_path: Path, web_settings) -> None:
    """One real invocation a code, so that every member of ExitCode has a situation that
    produces it (a new code without one fails here)."""
    document = tmp_path / "note.txt"
    document.write_text("A note\n\nhttp://gone.test/status/404\n1 May 2016: A claim.\n")
    env = {"CITEWATCH_CONNECT_TO": ",".join(web_settings.connect_to), "CITEWATCH_SOFT404_PROBE": "0",
           "CITEWATCH_CHECK_RETRIES": "0"}
    seen = {
        ExitCode.OK: exit_code_of(["extract", str(document)]),
        ExitCode.PROBLEMS: exit_code_of(["check", "--from", str(document)], **env),
        ExitCode.USAGE: exit_code_of(["extract", str(tmp_path / "missing.txt")]),
        ExitCode.CANNOT_RUN: exit_code_of(["run", str(document), "--db", str(tmp_path / "no" / "db.sqlite")]),
    }
    assert seen == {code: int(code) for code in ExitCode}


class _Terminal:
    """A stderr that says it is a terminal, to see the progress display."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def _check(status: str):
    from pipeline.model import LinkCheck, LinkStatus

    return LinkCheck("http://a.test/", "http://a.test/", LinkStatus(status), 200, None, (), 1.0, "t", "r")


def test_progress_shows_counts_per_class_on_a_terminal_only(monkeypatch) -> None:
    from pipeline.cli import Options, progress

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress(0, Options(None, 0)) as on_result:  # unknown total: a running count
        on_result(_check("ok"))
        on_result(_check("not_found"))
    assert "\rchecking 2  ok:1 not_found:1" in terminal.text
    with progress(10, Options(None, 0)) as on_result:  # known total: a bar
        for _ in range(10):
            on_result(_check("ok"))
    assert "100%" in terminal.text and "ok:10" in terminal.text
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    with progress(10, Options(None, -1)) as on_result:  # -q
        on_result(_check("ok"))
    assert quiet.text == ""


@pytest.mark.parametrize(("what", "path"), [("commands", "docs/commands.md"), ("settings", "docs/settings.md")])
def test_the_generated_references_are_what_the_cli_and_the_settings_say(what: str, path: str) -> None:
    """docs/commands.md is every command's --help and docs/settings.md every setting's own
    description: a help text or a setting changed without `citewatch reference` fails here."""
    result = CliRunner().invoke(cli, ["reference", what])
    assert result.exit_code == 0
    committed = (Path(__file__).parent.parent / path).read_text(encoding="utf-8")
    assert result.stdout == committed, f"run: citewatch reference {what} > {path}"
    if what == "commands":
        names = [name for name, command in cli.commands.items() if not command.hidden]
        assert all(f"## `citewatch {name}`" in committed for name in names) and len(names) >= 11
    else:
        assert all(f"`{name}`" in committed for name in Settings.names())
