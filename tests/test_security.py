"""Hostile repositories and received evidence (docs/security.md): what comes from someone else
(a repository's files, its file names, a page, a received report, evidence folder or WACZ) is
data, never instructions. Each test plays one attack on loopback."""

from __future__ import annotations

import os
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
