"""Settings: defaults < citewatch.toml < CITEWATCH_* environment variables < command-line flags."""

from __future__ import annotations

import dataclasses
import difflib
import enum
import json
import math
import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pipeline.errors import ConfigError
from pipeline.guard import ConnectTo
from pipeline.redact import redact_url
from pipeline.rules import most_specific_domain, parse_accept, url_pattern
from pipeline.times import parse_duration, parse_iso

CONFIG_FILE_NAME = "citewatch.toml"
ENV_PREFIX = "CITEWATCH_"


class ArchiveKind(enum.StrEnum):
    """How an archive is asked: the Internet Archive's CDX server and Save Page Now, pywb's
    CDX server and record mode, or any Memento archive by its TimeMap (no saving)."""

    IA = "ia"
    PYWB = "pywb"
    MEMENTO = "memento"


_HTTP_URL = re.compile(r"^https?://[^/\s]+")


def _check_table(table: Any, known: Mapping[str, Any], where: str, noun: str) -> None:
    """A TOML table with only `known` keys, each of its type: ValueError naming `where`."""
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table")
    for key, value in table.items():
        if key not in known:
            raise ValueError(f"{where}: unknown {noun} {key!r} (known: {', '.join(known)})")
        if not isinstance(value, known[key]) or (isinstance(value, bool) and known[key] is not bool):
            raise ValueError(f"{where}.{key} has the wrong type: {value!r}")


@dataclasses.dataclass(frozen=True)
class ArchiveConfig:
    """One archive to ask: its name in reports, its kind, where its index is (a CDX endpoint,
    or a TimeMap prefix for a Memento archive), its replay prefix, where saves go (None:
    it is not asked to save), and its own pace (None: the archive_* settings')."""

    name: str
    kind: ArchiveKind
    index_url: str
    replay_url: str
    save_url: str | None = None
    cdx_per_minute: float | None = None
    replay_per_second: float | None = None

    KEYS: ClassVar[dict[str, Any]] = {
        "name": str, "kind": str, "cdx_url": str, "timemap_url": str, "replay_url": str, "save_url": str,
        "cdx_per_minute": (int, float), "replay_per_second": (int, float)}

    @classmethod
    def from_table(cls, entry: Any, where: str) -> ArchiveConfig:
        """An `[[archives]]` table, checked: ValueError naming `where` and the key."""
        _check_table(entry, cls.KEYS, where, "key")
        if not entry.get("name"):
            raise ValueError(f"{where} needs a name of its own")
        try:
            kind = ArchiveKind(str(entry.get("kind")))
        except ValueError:
            raise ValueError(f"{where}.kind must be one of {', '.join(k.value for k in ArchiveKind)}") from None
        index_key = "timemap_url" if kind is ArchiveKind.MEMENTO else "cdx_url"
        for key in ("replay_url", index_key, *(["save_url"] if "save_url" in entry else [])):
            if not _HTTP_URL.match(str(entry.get(key, ""))):
                raise ValueError(f"{where}.{key} must be an http(s) URL")
        if kind is ArchiveKind.MEMENTO and "save_url" in entry:
            raise ValueError(f"{where}.save_url: a Memento archive known by its TimeMap cannot be asked to save")
        for key in ("cdx_per_minute", "replay_per_second"):
            if key in entry and not (math.isfinite(entry[key]) and entry[key] >= 0):
                raise ValueError(f"{where}.{key} must be a finite number, 0 or more")
        pace = {key: float(entry[key]) for key in ("cdx_per_minute", "replay_per_second") if key in entry}
        return cls(entry["name"], kind, entry[index_key], entry["replay_url"], entry.get("save_url"), **pace)

    def to_table(self) -> dict[str, Any]:
        """The table this came from (URLs without credentials): what `citewatch settings` shows."""
        table: dict[str, Any] = {"name": self.name, "kind": self.kind.value,
                                 "timemap_url" if self.kind is ArchiveKind.MEMENTO else "cdx_url": redact_url(self.index_url),
                                 "replay_url": redact_url(self.replay_url)}
        if self.save_url:
            table["save_url"] = redact_url(self.save_url)
        table.update({key: value for key in ("cdx_per_minute", "replay_per_second")
                      if (value := getattr(self, key)) is not None})
        return table


@dataclasses.dataclass(frozen=True)
class DomainRule:
    """How links to one domain (and the names under it) are judged and asked for: statuses
    that mean alive besides 2xx, the same in lychee's `accept` form, not checked at all, and
    headers sent to it (the operator's only: docs/security.md)."""

    alive_statuses: frozenset[int] = frozenset()
    accept: str = ""
    skip: bool = False
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    KEYS: ClassVar[dict[str, type]] = {"alive_statuses": list, "skip": bool, "headers": dict, "accept": str}

    @classmethod
    def from_table(cls, domain: str, rule: Any) -> DomainRule:
        """A `[domains."example.org"]` table, checked: ValueError naming the domain and the rule."""
        _check_table(rule, cls.KEYS, f"domains.{domain}", "rule")
        statuses = rule.get("alive_statuses", [])
        if not all(isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599 for code in statuses):
            raise ValueError(f"domains.{domain}.alive_statuses must be HTTP statuses as whole numbers "
                             f"(like [403]), got {statuses!r}")
        if "accept" in rule:
            parse_accept(rule["accept"])
        headers = rule.get("headers", {})
        if not all(isinstance(k, str) and isinstance(v, str) and "\n" not in k + v and "\r" not in k + v
                   for k, v in headers.items()):
            raise ValueError(f"domains.{domain}.headers must map names to text on one line, got {headers!r}")
        return cls(frozenset(statuses), rule.get("accept", ""), rule.get("skip", False), dict(headers))

    def to_table(self) -> dict[str, Any]:
        """The rule as written (header values hidden: they are often credentials)."""
        table: dict[str, Any] = {}
        if self.alive_statuses:
            table["alive_statuses"] = sorted(self.alive_statuses)
        if self.accept:
            table["accept"] = self.accept
        if self.skip:
            table["skip"] = True
        if self.headers:
            table["headers"] = {name: "(set)" for name in self.headers}
        return table


def _setting(default: Any, help: str, **checks: Any) -> Any:
    """A settings field: its default, a line of help, and value checks (min, choices, url)."""
    factory = {"default_factory": lambda: default} if isinstance(default, (list, dict)) else {"default": default}
    return dataclasses.field(metadata={"help": help, **checks}, **factory)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting of citewatch. A TOML table `[wayback]` with key `cdx_url` is the
    setting `wayback_cdx_url`, read from the environment as `CITEWATCH_WAYBACK_CDX_URL`."""

    # The archive. Defaults are the Internet Archive's; any Wayback-compatible archive works.
    wayback_cdx_url: str = _setting(
        "https://web.archive.org/cdx/search/cdx", "CDX search endpoint", url=True
    )
    wayback_replay_url: str = _setting(
        "https://web.archive.org/web/",
        "replay prefix, the part before <timestamp>id_/<url>",
        url=True,
    )
    wayback_save_url: str = _setting("https://web.archive.org/save", "Save Page Now endpoint", url=True)
    wayback_dialect: ArchiveKind = _setting(
        ArchiveKind.IA, "ia (Internet Archive CDX), pywb (pywb CDX) or memento (wayback_cdx_url is a TimeMap prefix)")
    archive_mode: str = _setting(
        "cdx", "cdx (one CDX query a URL) or timegate (closest memento first; CDX when unusable)",
        choices=("cdx", "timegate"),
    )
    archive_cdx_per_minute: float = _setting(24.0, "CDX and TimeMap requests a minute at most (0: no limit)", min=0)
    archive_replay_per_second: float = _setting(8.0, "replay and TimeGate requests a second at most (0: no limit)", min=0)
    archive_save_per_minute: float = _setting(4.0, "Save Page Now requests a minute at most (0: no limit)", min=0)
    archive_threads: int = _setting(8, "archive requests in flight at most (the limiters still pace them)", min=1)
    archive_pause_on_429: float = _setting(
        60.0, "seconds a whole endpoint class pauses after a 429 (the Internet Archive blocks clients that don't)", min=0
    )
    archive_retries: int = _setting(2, "further tries of an archive request after a 429, 5xx or timeout", min=0)
    archive_backoff: float = _setting(1.0, "seconds before an archive request is tried again; doubles each time, "
                                      "with jitter", min=0)
    archive_breaker_failures: int = _setting(5, "failures in a row after which the archive is not asked again this run", min=1)
    archive_after_window_days: int = _setting(
        365, "a capture on or after the claim's date is preferred when within this many days", min=0
    )
    archive_window_days: int = _setting(0, "bound CDX queries to this many days around the date (0: all captures)", min=0)
    archive_max_captures: int = _setting(25_000, "captures read at most from one CDX answer", min=1)
    archive_cache_days: float = _setting(30.0, "days an archive lookup is reused before asking again", min=0,
                                         max=36500)
    ia_access_key: str = _setting("", "Internet Archive S3 access key, for Save Page Now", secret=True)
    ia_secret_key: str = _setting("", "Internet Archive S3 secret key, for Save Page Now", secret=True)
    save_if_not_archived_within: str = _setting("30d", "Save Page Now's if_not_archived_within")
    save_timeout: float = _setting(120.0, "seconds to wait for a save to finish", min=0)

    # The fetcher's safety and limits.
    allow_private: bool = _setting(
        False, "allow requests to loopback, private and link-local addresses"
    )
    connect_to: tuple[str, ...] = _setting(
        (),
        "curl-style HOST1:PORT1:HOST2:PORT2 redirections (empty HOST1/PORT1 match any); "
        "the targets are trusted",
        check=lambda entries: _check_connect_to(entries),
    )
    ca_bundle: str = _setting(
        "", "PEM file of CAs to trust (default: REQUESTS_CA_BUNDLE, SSL_CERT_FILE, else certifi)"
    )
    connect_timeout: float = _setting(10.0, "seconds to connect", min=0.001)
    read_timeout: float = _setting(20.0, "seconds between two reads of a response", min=0.001)
    request_deadline: float = _setting(
        60.0, "seconds one request may take in all, redirects included", min=0.001
    )
    max_body_bytes: int = _setting(
        5_000_000, "bytes of a response body read at most (after decompression)", min=1
    )
    max_redirects: int = _setting(10, "redirect hops followed at most", min=0)

    # Verification: when is a quote found?
    verify_segment_score: float = _setting(
        90.0, "alignment score (0-100) at which a piece of a passage is compared word for word", min=0,
        check=lambda v: _at_most(v, 100))
    verify_partial_share: float = _setting(0.3, "share of a passage's text found for 'partial'", min=0,
                                           check=lambda v: _fraction(v))
    verify_more_captures: int = _setting(
        2, "further captures near the date read (distinct versions) when the closest lacks a passage", min=0)

    # The scheduled job.
    db: str = _setting("citewatch.sqlite", "the database (history, results): a SQLite file, or a PostgreSQL URL "
                                           "(postgresql://user@host:port/name; pip install 'citewatch[postgres]')",
                       credentials=True)
    reports_dir: str = _setting("reports", "where run and recheck write reports/<document-name>/")

    # A run on PostgreSQL shared with `citewatch worker` processes (docs/scale.md).
    share_piece_links: int = _setting(100, "URLs of one host in one piece of a shared run's link checks", min=1)
    share_piece_citations: int = _setting(200, "citations in one piece of a shared run's verification", min=1)
    worker_heartbeat: float = _setting(10.0, "seconds between a worker's heartbeats in the database", min=0.05)
    worker_stalled_after: float = _setting(
        30.0, "seconds without a heartbeat after which a worker is taken for dead and its pieces are tried again by "
              "others (more than worker_heartbeat)", min=0.1)
    worker_grace: float = _setting(
        30.0, "seconds a worker told to stop (SIGTERM, Ctrl-C) lets its pieces finish before it hands them back", min=0)

    # Evidence: the bytes verdicts rest on (docs/evidence.md).
    keep_evidence: bool = _setting(True, "keep every copy verification reads (archived and live) as WARC records")
    evidence_dir: str = _setting("", "the evidence folder (empty: citewatch-evidence next to the database file, or "
                                     "in the working folder for a PostgreSQL database)")
    evidence_budget: int = _setting(
        2_000_000_000, "bytes of WARC files past which a run drops the records no current verdict rests on "
        "(0: no budget)", min=0)
    evidence_replay_url: str = _setting(
        "", "where `citewatch evidence serve` replays the kept copies for the reports' readers (e.g. "
        "http://127.0.0.1:8090/evidence/ on the machine that runs it): the reports' 'local copy' links. Empty: "
        "no such link, as a report read anywhere else would have it dead", url=True, optional=True)
    dead_after_failures: int = _setting(3, "failing checks in a row before a URL is dead", min=1)
    dead_after_days: float = _setting(3.0, "days those failing checks must span", min=0, max=36500)
    max_age: str = _setting("20h", "a URL found alive more recently is not checked again (e.g. 12h, 7d, 0); "
                            "20h: a nightly run checks every link again",
                            check=lambda text: parse_duration(text))
    now: str = _setting("", "pretend it is this UTC time (ISO 8601): tests and backfills only",
                        check=lambda text: _check_now(text))

    # Liveness checks: how many, how fast, how politely.
    check_concurrency: int = _setting(32, "requests in flight at most, in all", min=1)
    check_per_host: int = _setting(4, "requests in flight at most to one host", min=1)
    check_min_interval: float = _setting(0.0, "seconds between two requests to one host", min=0)
    check_retries: int = _setting(2, "further tries after a reset, 5xx or 429", min=0)
    check_timeout_retries: int = _setting(
        0, "further tries after a timeout, at most check_retries (a timeout has already waited read_timeout, "
           "asking a site that is not answering again at once adds to its load, and a timeout is never counted "
           "as broken: the next run asks again)", min=0)
    check_backoff: float = _setting(1.0, "seconds before the first retry; doubles each time, with jitter", min=0)
    retry_after_cap: float = _setting(60.0, "longest Retry-After honoured, in seconds", min=0)
    check_method: str = _setting("get", "get, or head (with a GET fallback)", choices=("get", "head"))
    check_max_bytes: int = _setting(262_144, "bytes of a page read to classify it", min=1)
    soft404_probe: bool = _setting(True, "ask each site for a random sibling URL to spot soft 404s")
    robots: str = _setting(
        "probes", "obey robots.txt for: probes (the soft-404 probe's made-up URL), all (checks too: a URL it "
        "disallows is skipped), or none", choices=("probes", "all", "none"))
    canary_url: str = _setting(
        "https://www.wikipedia.org/", "fetched before a run and when every check fails, to tell offline from dead", url=True
    )
    paywall_domains: tuple[str, ...] = _setting(
        ("wsj.com", "nytimes.com", "ft.com", "thetimes.co.uk", "economist.com", "washingtonpost.com",
         "bloomberg.com", "telegraph.co.uk", "foreignpolicy.com"),
        "sites whose 401/402/403 means a paywall: alive, flagged paywall",
    )
    domains: Mapping[str, DomainRule] = _setting(
        {},
        "per-domain rules: {domain: {alive_statuses = [403], accept = \"200..=299,403\", skip = true, headers = {...}}}",
    )
    exclude: tuple[str, ...] = _setting(
        (), "URLs not to check: regular expressions, or globs with * (also read from .citewatchignore)",
        check=lambda patterns: _check_patterns(patterns))
    accept: str = _setting("", "statuses that mean alive, like lychee's 200..=299,403 (empty: 2xx by content)",
                           check=lambda text: parse_accept(text))
    include_fragments: bool = _setting(False, "check that a URL's #fragment names an id or anchor in the page")
    archives: tuple[ArchiveConfig, ...] = _setting(
        (),
        "archives to ask, in order: [{name, kind = ia|pywb|memento, cdx_url | timemap_url, replay_url, save_url, "
        "cdx_per_minute, replay_per_second}] (empty: the wayback_* settings)",
    )

    def __post_init__(self) -> None:
        """The typed settings given in their written form (a kind's name, tables, as a
        script or a test writes them) are read into their types, with the same checks."""
        for name, kind in (("wayback_dialect", ArchiveKind), ("domains", DomainRule), ("archives", ArchiveConfig)):
            object.__setattr__(self, name, _convert(kind, getattr(self, name)))

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def archive_configs(self) -> tuple[ArchiveConfig, ...]:
        """The archives to ask, in order: the `archives` list, else the one of wayback_*."""
        if self.archives:  # an `ia` archive saves through wayback_save_url unless it names its own
            return tuple(dataclasses.replace(a, save_url=self.wayback_save_url)
                         if a.kind is ArchiveKind.IA and a.save_url is None else a for a in self.archives)
        host = urllib.parse.urlsplit(self.wayback_replay_url).hostname or "the archive"
        saves = self.wayback_dialect is not ArchiveKind.MEMENTO
        return (ArchiveConfig("Internet Archive" if host == "web.archive.org" else host, self.wayback_dialect,
                              self.wayback_cdx_url, self.wayback_replay_url, self.wayback_save_url if saves else None),)

    def domain_rule(self, host: str) -> tuple[str | None, DomainRule]:
        """The domain of `domains` that `host` is or is under (the longest), and its rule."""
        domain = most_specific_domain(host, self.domains)
        return domain, self.domains[domain] if domain is not None else DomainRule()


@dataclasses.dataclass(frozen=True)
class LoadedSettings:
    """The settings and, for each one that is not a default, where its value came from;
    `warnings` for settings given that no longer do anything."""

    settings: Settings
    sources: Mapping[str, str]
    config_file: Path | None
    warnings: tuple[str, ...] = ()


# What a `citewatch.toml` found in the working directory may set: that file belongs to the
# repository being checked (a pull request can add or change it), so it may only say how to
# judge what is found (thresholds, rules, which URLs to skip), never widen where citewatch
# connects, what it sends, what it writes or how much it spends. Everything else is the
# operator's: CITEWATCH_* variables, flags, or a file named with --config (docs/security.md).
REPOSITORY_SETTINGS = frozenset({
    "verify_segment_score", "verify_partial_share", "verify_more_captures",
    "dead_after_failures", "dead_after_days", "max_age",
    "paywall_domains", "domains", "exclude", "accept", "include_fragments", "check_method", "soft404_probe",
    "archive_mode", "archive_after_window_days", "archive_window_days",
})

# What a shared run's plan carries to the workers (pipeline/shared.py): the settings that judge
# what is found, those a repository may set, and the clock. Where a worker connects, what it
# sends (per-domain headers included), how fast, and where it writes stay its own: a plan in
# the database can say no more than a repository's citewatch.toml could.
PLAN_SETTINGS = REPOSITORY_SETTINGS | {"now"}

# Settings that existed once: saying so beats "unknown setting" for a file that worked before.
REMOVED = {
    "verify_verified_share": "no longer used: a passage is verified only when every word of every piece is found",
}


def env_name(setting: str) -> str:
    return ENV_PREFIX + setting.upper()


def shown(settings: Settings, name: str) -> Any:
    """A setting's value as it may be shown or recorded: secrets as "(set)", URLs without credentials."""
    field = next(f for f in dataclasses.fields(Settings) if f.name == name)
    value = getattr(settings, name)
    if field.metadata.get("secret"):
        return "(set)" if value else ""
    if field.metadata.get("url") or field.metadata.get("credentials"):  # a database URL may hold a password
        return redact_url(value)
    if isinstance(value, enum.Enum):
        return value.value
    if name == "archives":
        return [archive.to_table() for archive in value]
    if name == "domains":
        return {domain: rule.to_table() for domain, rule in value.items()}
    return value


def plan_of(settings: Settings) -> dict[str, Any]:
    """The `PLAN_SETTINGS` of a run, as JSON (per-domain rules without their headers)."""
    plan = {name: shown(settings, name) for name in sorted(PLAN_SETTINGS)}
    plan["domains"] = {domain: {k: v for k, v in rule.items() if k != "headers"} for domain, rule in plan["domains"].items()}
    return plan


def with_plan(settings: Settings, plan: Mapping[str, Any]) -> Settings:
    """A worker's own settings with a run's plan over them: the plan's judging settings, a
    domain's headers kept from the worker's own rule for it. Raises ConfigError for a value
    this version cannot read."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    values = {name: _coerce(fields[name], plan[name], "the run's plan") for name in PLAN_SETTINGS if name in plan}
    if "domains" in values:
        own = settings.domains
        values["domains"] = {domain: dataclasses.replace(rule, headers=own[domain].headers) if domain in own else rule
                             for domain, rule in values["domains"].items()}
    return dataclasses.replace(settings, **values)


def describe(loaded: LoadedSettings) -> list[dict[str, Any]]:
    """One row per setting: name, value, source ("default", a file and line, a variable,
    "command line"), environment variable, help."""
    return [
        {
            "name": field.name,
            "value": shown(loaded.settings, field.name),
            "source": loaded.sources.get(field.name, "default"),
            "env": env_name(field.name),
            "help": field.metadata["help"],
        }
        for field in dataclasses.fields(Settings)
    ]


def load_settings(
    config_path: Path | str | None = None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedSettings:
    """Settings in order of precedence. `config_path` must exist when given and is the
    operator's own (every setting allowed); without it, `citewatch.toml` in `cwd` is read when
    present as the repository's, which may set only `REPOSITORY_SETTINGS` (a warning names
    each other setting it tries, which has no effect). Raises ConfigError naming the file and
    line, or the environment variable, of a bad value."""
    env = os.environ if env is None else env
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    warnings: list[str] = []
    path = _find_config(config_path, cwd or Path.cwd())
    repository = path is not None and config_path is None
    if path is not None:
        for name, (raw, line) in _read_config_file(path).items():
            where = f"{path}: line {line}" if line else str(path)
            if name in REMOVED:
                warnings.append(f"{where}: {name} is {REMOVED[name]}")
                continue
            if name not in fields:  # one rule for the file and the environment: said, not fatal
                warnings.append(f"{where}: unknown setting {name!r}, ignored{_did_you_mean(name, fields)}")
                continue
            if repository and name not in REPOSITORY_SETTINGS:
                warnings.append(f"{where}: {name} is the operator's to set ({env_name(name)}, a flag, or a file "
                                "named with --config), not a citewatch.toml in the working directory: ignored")
                continue
            value = _coerce(fields[name], raw, where)
            if repository and name == "domains":
                value, refused = _repository_domain_rules(value)
                warnings += [f"{where}: domains.{domain}.{rule} is the operator's to set (a file named with "
                             "--config), not a citewatch.toml in the working directory: ignored"
                             for domain, rule in refused]
            values[name] = value
            sources[name] = where

    for name, field in fields.items():
        var = env_name(name)
        if var in env:
            values[name] = _coerce(field, env[var], var)
            sources[name] = var
    warnings += [f"{env_name(name)} is {why}" for name, why in REMOVED.items() if env_name(name) in env]
    known_vars = {env_name(name): name for name in fields} | {env_name(name): name for name in REMOVED}
    for var in sorted(v for v in env if v.startswith(ENV_PREFIX) and v not in known_vars and v not in _NOT_SETTINGS):
        close = difflib.get_close_matches(var, list(known_vars), n=1)
        warnings.append(f"{var}: unknown setting, ignored" + (f" (did you mean {close[0]}?)" if close else ""))

    for name, raw in (overrides or {}).items():
        if raw is None:
            continue
        if name not in fields:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _coerce(fields[name], raw, "command line")
        sources[name] = "command line"

    return LoadedSettings(Settings(**values), sources, path, tuple(warnings))


def _repository_domain_rules(rules: Mapping[str, DomainRule]) -> tuple[dict[str, DomainRule], list[tuple[str, str]]]:
    """The per-domain rules less what only the operator may give (headers: they are sent to
    the site), and the (domain, rule) refused."""
    kept = {domain: dataclasses.replace(rule, headers={}) for domain, rule in rules.items()}
    return kept, [(domain, "headers") for domain, rule in rules.items() if rule.headers]


def _find_config(config_path: Path | str | None, cwd: Path) -> Path | None:
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        return path
    candidate = cwd / CONFIG_FILE_NAME
    return candidate if candidate.is_file() else None


def _read_config_file(path: Path) -> dict[str, tuple[Any, int | None]]:
    """Flattened `{setting: (value, line)}` of a TOML file; one level of tables."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        where = f"{path}: line {match.group(1)}" if match else str(path)
        raise ConfigError(f"{where}: invalid TOML: {message}") from exc

    lines = text.splitlines()
    flat: dict[str, tuple[Any, int | None]] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key not in _TABLE_SETTINGS:
            for sub, subvalue in value.items():
                flat[f"{key}_{sub}"] = (subvalue, _line_of(lines, sub, table=key))
        else:
            flat[key] = (value, _line_of(lines, key))
    return flat


def _line_of(lines: list[str], key: str, table: str | None = None) -> int | None:
    """The 1-based line that assigns `key` (inside `[table]` when given), for messages."""
    current: str | None = None
    assign = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(lines, 1):
        header = re.match(r"^\s*\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1).strip("\"'")
        elif current == table and assign.match(line):
            return number
    return None


def _did_you_mean(name: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_NOT_SETTINGS = {"CITEWATCH_CHROMIUM"}  # variables of the test suite, not of citewatch

# Field annotations are strings under `from __future__ import annotations`.
_TYPES = {"str": str, "bool": bool, "int": int, "float": float, "tuple[str, ...]": tuple,
          "ArchiveKind": ArchiveKind, "Mapping[str, DomainRule]": DomainRule, "tuple[ArchiveConfig, ...]": ArchiveConfig}
_TABLE_SETTINGS = {"domains", "archives"}  # TOML tables that are one setting, not a group of settings
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(field: dataclasses.Field, raw: Any, where: str) -> Any:
    """`raw` as the field's type, checked; ConfigError mentions `where` otherwise."""
    kind = _TYPES[str(field.type)]
    try:
        value = _convert(kind, raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {field.name}: {exc}") from None
    meta = field.metadata
    if "min" in meta and value < meta["min"]:
        raise ConfigError(f"{where}: {field.name}: must be at least {meta['min']}, got {value}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(f"{where}: {field.name}: must be at most {meta['max']}, got {value}")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(
            f"{where}: {field.name}: must be one of {', '.join(meta['choices'])}, got {value!r}"
        )
    if "check" in meta:
        try:
            meta["check"](value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {field.name}: {exc}") from None
    if meta.get("url") and not (meta.get("optional") and value == "") and not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(f"{where}: {field.name}: must be an http(s) URL, got {value!r}")
    return value


def _convert(kind: Any, raw: Any) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, (str, int)) and str(raw).strip().lower() in _TRUE | _FALSE:
            return str(raw).strip().lower() in _TRUE
        raise ValueError(f"expected a boolean (0/1, true/false), got {raw!r}")
    if kind is int:
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise ValueError(f"expected a whole number, got {raw!r}")
        return int(str(raw).replace("_", "")) if isinstance(raw, str) else raw
    if kind is float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise ValueError(f"expected a number, got {raw!r}")
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {raw!r}")
        return value
    if kind is tuple:
        if isinstance(raw, str):
            return tuple(part for part in re.split(r"[\s,]+", raw.strip()) if part)
        if isinstance(raw, (list, tuple)) and all(isinstance(x, str) for x in raw):
            return tuple(raw)
        raise ValueError(f"expected a list of strings, got {raw!r}")
    if kind is ArchiveKind:
        if isinstance(raw, ArchiveKind):
            return raw
        try:
            return ArchiveKind(raw)
        except ValueError:
            raise ValueError(f"must be one of {', '.join(k.value for k in ArchiveKind)}, got {raw!r}") from None
    if kind is ArchiveConfig:
        if isinstance(raw, str):
            raw = json.loads(raw) if raw.strip() else []
        if isinstance(raw, tuple) and all(isinstance(entry, ArchiveConfig) for entry in raw):
            return raw
        if not isinstance(raw, list):
            raise ValueError(f"expected a list of tables, got {raw!r}")
        archives = tuple(ArchiveConfig.from_table(entry, f"archives[{number}]") for number, entry in enumerate(raw, 1))
        names = [archive.name for archive in archives]
        if len(set(names)) != len(names):
            raise ValueError(f"archives[{len(set(names)) + 1}] needs a name of its own")
        return archives
    if kind is DomainRule:
        if isinstance(raw, str):
            raw = json.loads(raw) if raw.strip() else {}
        if not isinstance(raw, dict):
            raise ValueError(f"expected a table, got {raw!r}")
        return {domain: rule if isinstance(rule, DomainRule) else DomainRule.from_table(domain, rule)
                for domain, rule in raw.items()}
    if kind is str:
        if not isinstance(raw, str):
            raise ValueError(f"expected a string, got {raw!r}")
        return raw
    raise TypeError(f"unsupported setting type {kind!r}")


def _check_connect_to(entries: tuple[str, ...]) -> None:
    for entry in entries:
        ConnectTo.parse(entry)


def _check_patterns(patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        try:
            url_pattern(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None


def _check_now(text: str) -> None:
    if text:
        try:
            parse_iso(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 time") from None


def _at_most(value: float, top: float) -> None:
    if value > top:
        raise ValueError(f"must be at most {top:g}, got {value}")


def _fraction(value: float) -> None:
    if value > 1:
        raise ValueError(f"must be a share between 0 and 1, got {value}")
