"""Settings: precedence, names, and clear errors naming the file and line or the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.config import ArchiveKind, DomainRule, Settings, describe, env_name, load_settings
from pipeline.errors import ConfigError, ExitCode


def test_defaults_are_the_internet_archives(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, env={}).settings
    assert settings.wayback_cdx_url == "https://web.archive.org/cdx/search/cdx"
    assert settings.wayback_replay_url == "https://web.archive.org/web/"
    assert settings.wayback_save_url == "https://web.archive.org/save"
    assert settings.wayback_dialect == "ia"
    assert settings.allow_private is False


def test_environment_names_are_the_documented_ones() -> None:
    names = {env_name(name) for name in Settings.names()}
    assert {
        "CITEWATCH_WAYBACK_CDX_URL",
        "CITEWATCH_WAYBACK_REPLAY_URL",
        "CITEWATCH_WAYBACK_SAVE_URL",
        "CITEWATCH_WAYBACK_DIALECT",
        "CITEWATCH_ALLOW_PRIVATE",
    } <= names


def test_precedence_default_file_env_flag(tmp_path: Path) -> None:
    (tmp_path / "citewatch.toml").write_text(
        'max_redirects = 3\n[wayback]\ndialect = "pywb"\ncdx_url = "http://file.example/cdx"\n'
        'replay_url = "http://file.example/web/"\n'
    )
    env = {"CITEWATCH_WAYBACK_CDX_URL": "http://env.example/cdx", "CITEWATCH_MAX_REDIRECTS": "4"}
    # named by the operator (--config): every setting counts; found in the working directory,
    # the file is the repository's (tests/test_security.py)
    loaded = load_settings(tmp_path / "citewatch.toml", cwd=tmp_path, env=env, overrides={"max_redirects": 5})
    s = loaded.settings
    assert s.wayback_dialect == "pywb"  # file beats default
    assert s.wayback_replay_url == "http://file.example/web/"
    assert s.wayback_cdx_url == "http://env.example/cdx"  # env beats file
    assert s.max_redirects == 5  # flag beats env
    assert s.wayback_save_url == "https://web.archive.org/save"  # untouched default
    assert loaded.sources["wayback_dialect"] == f"{tmp_path / 'citewatch.toml'}: line 3"
    assert loaded.sources["wayback_cdx_url"] == "CITEWATCH_WAYBACK_CDX_URL"
    assert loaded.sources["max_redirects"] == "command line"


def test_explicit_config_path_is_read_instead_of_the_working_directorys(tmp_path: Path) -> None:
    (tmp_path / "citewatch.toml").write_text("allow_private = true\n")
    other = tmp_path / "other.toml"
    other.write_text("max_body_bytes = 1000\n")
    s = load_settings(other, cwd=tmp_path, env={}).settings
    assert s.max_body_bytes == 1000
    assert s.allow_private is False


@pytest.mark.parametrize("text", ["1", "true", "yes", "ON"])
def test_allow_private_reads_truthy_words(text: str, tmp_path: Path) -> None:
    assert load_settings(cwd=tmp_path, env={"CITEWATCH_ALLOW_PRIVATE": text}).settings.allow_private


def test_connect_to_from_environment_is_a_list(tmp_path: Path) -> None:
    env = {"CITEWATCH_CONNECT_TO": "a.test:80:127.0.0.1:8080, *.test:443:127.0.0.1:8443"}
    s = load_settings(cwd=tmp_path, env=env).settings
    assert s.connect_to == ("a.test:80:127.0.0.1:8080", "*.test:443:127.0.0.1:8443")


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "citewatch.toml"
    path.write_text('[wayback]\ndialect = "pywb"\ncdx_url = \n')
    with pytest.raises(ConfigError) as err:
        load_settings(cwd=tmp_path, env={})
    assert str(err.value).startswith(f"{path}: line 3: invalid TOML")
    assert err.value.exit_code == ExitCode.USAGE


def test_unknown_key_names_line_and_suggests(tmp_path: Path) -> None:
    # One rule for a file's keys and CITEWATCH_* variables (the hostile-web issue): a warning
    # that names the line and suggests the setting meant; the value is not applied.
    path = tmp_path / "citewatch.toml"
    path.write_text("# settings\n\n[wayback]\ndialekt = 'pywb'\n")
    loaded = load_settings(cwd=tmp_path, env={"CITEWATCH_WAYBAK_DIALECT": "pywb"})
    assert any(re.search(r"line 4: unknown setting 'wayback_dialekt', ignored \(did you mean 'wayback_dialect'\?\)", w)
               for w in loaded.warnings)
    assert "CITEWATCH_WAYBAK_DIALECT: unknown setting, ignored (did you mean CITEWATCH_WAYBACK_DIALECT?)" in loaded.warnings
    assert loaded.settings.wayback_dialect == "ia"


def test_wrong_type_in_file_names_line(tmp_path: Path) -> None:
    (tmp_path / "citewatch.toml").write_text('dead_after_failures = "many"\n')
    with pytest.raises(ConfigError, match=r"line 1: dead_after_failures: "):
        load_settings(cwd=tmp_path, env={})


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("CITEWATCH_WAYBACK_DIALECT", "wayback", "must be one of ia, pywb"),
        ("CITEWATCH_ALLOW_PRIVATE", "perhaps", "expected a boolean"),
        ("CITEWATCH_WAYBACK_CDX_URL", "ftp://x/cdx", "must be an http(s) URL"),
        ("CITEWATCH_READ_TIMEOUT", "-1", "must be at least"),
        ("CITEWATCH_CONNECT_TO", "a.test:80", "is not HOST1:PORT1:HOST2:PORT2"),
    ],
)
def test_bad_environment_value_names_the_variable(var: str, value: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(cwd=tmp_path, env={var: value})
    assert str(err.value).startswith(var)
    assert message in str(err.value)


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", cwd=tmp_path, env={})


def test_describe_lists_every_setting_with_its_source(tmp_path: Path) -> None:
    rows = describe(load_settings(cwd=tmp_path, env={"CITEWATCH_ALLOW_PRIVATE": "1"}))
    assert [row["name"] for row in rows] == Settings.names()
    by_name = {row["name"]: row for row in rows}
    assert by_name["allow_private"]["source"] == "CITEWATCH_ALLOW_PRIVATE"
    assert by_name["wayback_dialect"]["source"] == "default"
    assert all(row["help"] for row in rows)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ('[{"name": "A", "kind": "ftp", "replay_url": "http://a.test/"}]', "kind must be one of ia, pywb, memento"),
        ('[{"name": "A", "kind": "memento", "replay_url": "http://a.test/"}]', "timemap_url must be an http(s) URL"),
        ('[{"name": "A", "kind": "ia", "cdx_url": "http://a.test/cdx", "replay_url": "http://a.test/"},'
         ' {"name": "A", "kind": "ia", "cdx_url": "http://b.test/cdx", "replay_url": "http://b.test/"}]', "a name of its own"),
        ('[{"name": "A", "kind": "pywb", "cdx_url": "http://a.test/cdx", "replay_url": "http://a.test/", "cdx_per_minute": -1}]',
         "finite number, 0 or more"),
        ('{"name": "A"}', "expected a list"),
    ],
)
def test_archives_are_checked(entries: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(env={"CITEWATCH_ARCHIVES": entries})


def test_archives_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "citewatch.toml").write_text(
        '[[archives]]\nname = "Arquivo"\nkind = "pywb"\ncdx_url = "https://arquivo.pt/wayback/cdx"\n'
        'replay_url = "https://arquivo.pt/wayback/"\n\n[[archives]]\nname = "Today"\nkind = "memento"\n'
        'timemap_url = "https://archive.today/timemap/"\nreplay_url = "https://archive.ph/"\n')
    loaded = load_settings(tmp_path / "citewatch.toml", cwd=tmp_path, env={})
    arquivo, today = loaded.settings.archives
    assert (arquivo.name, arquivo.kind, arquivo.index_url) == ("Arquivo", ArchiveKind.PYWB, "https://arquivo.pt/wayback/cdx")
    assert (today.kind, today.index_url, today.save_url) == (ArchiveKind.MEMENTO, "https://archive.today/timemap/", None)
    shown = {row["name"]: row for row in describe(loaded)}["archives"]
    assert shown["value"][1] == {"name": "Today", "kind": "memento", "timemap_url": "https://archive.today/timemap/",
                                 "replay_url": "https://archive.ph/"}
    assert shown["source"] == str(tmp_path / "citewatch.toml")


def test_each_archive_saves_at_its_own_save_url(tmp_path: Path) -> None:
    """Before: `save_url` was read by the archive client but refused by the settings
    ("unknown key 'save_url'"), so saving to a second archive could not be configured."""
    (tmp_path / "ops.toml").write_text(
        '[[archives]]\nname = "Ours"\nkind = "pywb"\ncdx_url = "https://ours.example/cdx"\n'
        'replay_url = "https://ours.example/web/"\nsave_url = "https://ours.example/record/"\n\n'
        '[[archives]]\nname = "IA"\nkind = "ia"\ncdx_url = "https://web.archive.org/cdx/search/cdx"\n'
        'replay_url = "https://web.archive.org/web/"\n')
    settings = load_settings(tmp_path / "ops.toml", cwd=tmp_path, env={}).settings
    ours, ia = settings.archive_configs()
    assert ours.save_url == "https://ours.example/record/"
    assert ia.save_url == settings.wayback_save_url  # an `ia` archive without one saves where the IA does
    with pytest.raises(ConfigError, match=r"archives\[1\]\.save_url: a Memento archive"):
        load_settings(env={"CITEWATCH_ARCHIVES": '[{"name": "T", "kind": "memento", "timemap_url": "https://t/tm/", '
                                                 '"replay_url": "https://t/", "save_url": "https://t/save"}]'})


def test_domain_rules_are_typed_and_the_most_specific_domain_wins() -> None:
    settings = Settings(domains={"example.org": {"alive_statuses": [403]}, "News.Example.org": {"skip": True}})
    assert settings.domain_rule("a.news.example.org.") == ("News.Example.org", DomainRule(skip=True))
    domain, rule = settings.domain_rule("www.example.org")
    assert (domain, rule.alive_statuses, rule.skip) == ("example.org", frozenset({403}), False)
    assert settings.domain_rule("example.com") == (None, DomainRule())
