"""The `citewatch` command line: Click commands only, each a thin layer over one library call."""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import io
import logging
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from pipeline import __version__
from pipeline.archive.model import ArchiveState, SaveState
from pipeline.config import LoadedSettings, describe, load_settings
from pipeline.database import is_postgres
from pipeline.documents import read_documents
from pipeline.errors import CitewatchError, ExitCode
from pipeline.evidence.commands import (
    evidence_folder,
    export_document,
    list_evidence,
    prune_evidence,
    reverify_targets,
    serve_evidence,
)
from pipeline.evidence.package import COLLECTION
from pipeline.extract import extract, extraction_json
from pipeline.extract.table import format_table
from pipeline.flow import find_snapshots
from pipeline.history import build_reports, unlock, url_history
from pipeline.inert import json_text, lines
from pipeline.jobs import recheck, run_documents, verify_documents
from pipeline.liveness import check_urls
from pipeline.model import DocumentFormat, LinkCheck
from pipeline.progress import Progress, StageProgress, no_progress
from pipeline.redact import redact_url
from pipeline.report import RENDERERS, write_file
from pipeline.report.ci_formats import render_new_issues
from pipeline.report.document import report_document
from pipeline.report.text import (
    format_checks,
    format_evidence,
    format_history,
    format_lookup,
    format_news,
    format_provenance,
    format_reverified,
    format_summary,
    format_verification,
)
from pipeline.shared import run_worker, runs_going_on, worker_name
from pipeline.summary import FAIL_ON, FailOn, RunOptions
from pipeline.times import is_claim_date

FORMATS = tuple(RENDERERS)  # report formats, one renderer each
EXIT_CODES_HELP = """
\b
Exit codes:
  0  done, nothing to flag
  1  done, problems found
  2  bad usage or unreadable input
  3  could not run (offline, lock held, database error)
"""


def _echo(text: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """Print: every line inert for a terminal or a CI log (no workflow command, no control
    character), whatever document, file name or page its values came from."""
    click.echo(lines(str(text)), err=err, nl=nl)


class _InertFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return lines(super().format(record))


@dataclasses.dataclass(frozen=True)
class Options:
    """What the group's options say, handed to every command."""

    config_path: Path | None
    verbosity: int  # -1 quiet, 0 normal, 1+ verbose
    log_file: _Stamped | None = None  # --log: progress and warnings, stamped, whatever -q says

    def load(self, **overrides: Any) -> LoadedSettings:
        loaded = load_settings(self.config_path, overrides=overrides)
        for warning in loaded.warnings:
            _echo(f"citewatch: warning: {warning}", err=True)
        return loaded


class _Group(click.Group):
    """Turns citewatch's exceptions into one line on stderr and their exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CitewatchError as exc:
            _report(ctx, str(exc), exc)
            ctx.exit(int(exc.exit_code))
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            if _HARD_SECOND_INTERRUPT and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, _second_interrupt)  # what is left is leaving: at once
            _echo("citewatch: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # `citewatch ... | head`: the reader left; say nothing more
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)
        except Exception as exc:  # a bug: still one line, the stack only with -v
            _report(ctx, f"internal error: {type(exc).__name__}: {exc} (run with -v for details)", exc)
            ctx.exit(int(ExitCode.CANNOT_RUN))


def _report(ctx: click.Context, message: str, exc: BaseException) -> None:
    options = ctx.obj if isinstance(ctx.obj, Options) else None
    if options and options.verbosity > 0:
        traceback.print_exception(exc, file=sys.stderr)
    _echo(f"citewatch: error: {message}", err=True)


db_option = click.option("--db", "db", help="The database: a SQLite file (default ./citewatch.sqlite, or CITEWATCH_DB) "
                                            "or a postgresql:// URL.")


@click.group(cls=_Group, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="citewatch")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file, the operator's own: any setting (default: ./citewatch.toml when present, read as "
         "the repository's: rules and thresholds only; docs/security.md).",
)
@click.option("-v", "--verbose", count=True, help="More detail on stderr; -v also shows tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no progress.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also append the progress of each stage and every warning, with the time, to this file "
                   "(for cron: -q mails only the news, the log keeps the rest).")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int, quiet: bool, log_path: Path | None) -> None:
    """citewatch: check that the sources a document cites are alive, archived, and still
    say what the document quotes.

    Settings come from defaults, then citewatch.toml, then CITEWATCH_* environment
    variables, then flags; `citewatch settings` shows the result. A citewatch.toml found in
    the working directory belongs to the repository being checked and may set only rules and
    thresholds; where connections go, what is sent and written are the operator's (variables,
    flags, --config FILE).
    """
    verbosity = -1 if quiet else verbose
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    _log_to_stderr(level)
    log_file = _open_log(log_path, max(logging.WARNING, level) if verbosity < 1 else level) if log_path else None
    if log_file is not None:
        ctx.call_on_close(log_file.close)
    ctx.obj = Options(config_path=config_path, verbosity=verbosity, log_file=log_file)


class _Stamped(io.TextIOBase):
    """A log file whose every line starts with the UTC time (what a morning reader needs)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._at_start = True

    def write(self, text: str) -> int:
        for piece in text.splitlines(keepends=True):
            if self._at_start:
                self.stream.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()))
            self.stream.write(lines(piece.rstrip("\n")) + ("\n" if piece.endswith("\n") else ""))
            self._at_start = piece.endswith("\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()


def _open_log(path: Path, level: int) -> _Stamped:
    """The --log file, appended to, which also receives the log records of `level` and up."""
    try:
        stamped = _Stamped(path.open("a", encoding="utf-8"))
    except OSError as exc:
        raise click.UsageError(f"--log {path}: {exc.strerror or exc}") from exc
    handler = logging.StreamHandler(stamped)
    handler.setFormatter(_InertFormatter("%(message)s"))
    handler.setLevel(level)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(min(logging.getLogger().level, level))
    return stamped


def _log_to_stderr(level: int) -> None:
    """Log lines to this invocation's stderr, inert: one handler of ours on the root logger,
    replaced at each invocation (several may run in one process: a test, a notebook)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, _InertFormatter)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_InertFormatter("citewatch: %(message)s"))
    handler.setLevel(level)  # also for a library's logger that sets a lower level of its own (bm25s: DEBUG)
    root.addHandler(handler)
    root.setLevel(level)


@cli.command("settings")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def settings_command(options: Options, as_json: bool) -> None:
    """Show the settings in force and where each value came from.

    \b
    Examples:
      citewatch settings
      CITEWATCH_WAYBACK_DIALECT=pywb citewatch settings --json
    """
    loaded = options.load()
    rows = describe(loaded)
    if as_json:
        _echo(json_text({"config_file": str(loaded.config_file) if loaded.config_file else None,
                         "settings": rows}))
        return
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        _echo(f"{row['name']:<{width}}  {_show(row['value'])}  [{row['source']}]")


@cli.command("extract")
@click.argument("document", type=str)
@click.option("--json", "as_json", is_flag=True, help="Print the extract JSON contract.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in DocumentFormat]),
    help="Read the document as this format (default: from the extension, else sniffed).",
)
@click.option("--base-url", help="The HTML document's own URL, to resolve relative links.")
def extract_command(document: str, as_json: bool, fmt: str | None, base_url: str | None) -> None:
    """Find the citations of DOCUMENT: its cited URLs and the passages they support.

    DOCUMENT is a .txt, .md or .html file, - for standard input, or a folder or a glob (each
    document in it: a table each, or with --json a JSON array). No network.

    \b
    Examples:
      citewatch extract data/000_7d4670f58732b56e.txt
      citewatch extract notes.md --json > citations.json
      curl -s https://example.org/post | citewatch extract - --format html --base-url https://example.org/post
    """
    if document != "-" and (Path(document).is_dir() or glob.has_magic(document)):  # a folder or a glob: each
        extractions, skipped = read_documents([document])
        for unread in skipped:
            _echo(f"skipped {unread['reason']}", err=True)
        if as_json:
            _echo(json_text([extraction_json(e) for e in extractions]))
        else:
            width = shutil.get_terminal_size((100, 24)).columns
            _echo("\n\n".join(format_table(e, width) for e in extractions))
        if skipped:
            raise SystemExit(int(ExitCode.PROBLEMS))
        return
    extraction = extract(document, fmt=DocumentFormat(fmt) if fmt else None, base_url=base_url)
    if as_json:
        _echo(json_text(extraction_json(extraction)))
    else:
        _echo(format_table(extraction, shutil.get_terminal_size((100, 24)).columns))


@cli.command("check")
@click.argument("urls", nargs=-1)
@click.option("--from", "from_document", help="Also check every URL cited by this document (a folder or a glob: by each).")
@click.option("--documents", "as_documents", is_flag=True,
              help="The arguments are documents (files, folders, globs) whose cited URLs to check: "
                   "for pre-commit, which passes the changed files.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array, one object per URL in input order.")
@click.option("--concurrency", type=click.IntRange(1), help="Requests in flight at most (default 32).")
@click.option("--per-host", type=click.IntRange(1), help="Requests in flight at most to one host (default 4).")
@click.option("--method", type=click.Choice(["get", "head"]), help="head: try HEAD first, GET when it fails.")
@click.option("--no-probe", is_flag=True, default=None, help="Skip the soft-404 probe of a made-up sibling URL.")
@click.option("--exclude", "exclude", multiple=True, help="Do not check URLs matching this regex (or * glob); repeatable.")
@click.option("--accept", help="Statuses that mean alive, like 200..=299,403.")
@click.option("--include-fragments", is_flag=True, default=None, help="Check that each URL's #fragment is in its page.")
@click.pass_obj
def check_command(
    options: Options, urls: tuple[str, ...], from_document: str | None, as_documents: bool, as_json: bool,
    concurrency: int | None, per_host: int | None, method: str | None, no_probe: bool | None,
    exclude: tuple[str, ...], accept: str | None, include_fragments: bool | None,
) -> None:
    """Check whether URLS are alive, and classify each: ok, redirected, soft_404,
    not_found, server_error, blocked, rate_limited, timeout, dns_error, connection_error,
    tls_error, redirect_loop, invalid_url, refused, skipped (and fragment_not_found with
    --include-fragments).

    Exit 0 when no link is broken, 1 when some are (blocked, rate-limited and timed-out
    links are not counted as broken) or a document could not be read (it is skipped), 3
    when the network looks unreachable.

    \b
    Examples:
      citewatch check https://www.theguardian.com/world/2010/jul/25/iran-backing-taliban-alqaida-afghanistan
      citewatch check --from data/000_7d4670f58732b56e.txt --json > links.json
      citewatch check --documents notes/ 'posts/**/*.md'
    """
    settings = options.load(
        check_concurrency=concurrency, check_per_host=per_host, check_method=method,
        soft404_probe=False if no_probe else None, exclude=exclude or None, accept=accept,
        include_fragments=include_fragments,
    ).settings
    if as_documents and not urls:
        raise click.UsageError("--documents: give at least one document, folder or glob")
    documents = ([from_document] if from_document else []) + (list(urls) if as_documents else [])
    targets = [] if as_documents else list(urls)
    skipped: list[dict[str, str]] = []
    if documents:
        extractions, skipped = read_documents(documents)
        for document in skipped:
            _echo(f"skipped {document['reason']}", err=True)
        targets += [url for extraction in extractions for url in extraction.unique_urls()]
    if not targets and not as_documents:
        raise click.UsageError("give at least one URL, or --from DOCUMENT")
    if not targets:
        _echo("no cited URL in these documents")
        if skipped:
            raise SystemExit(int(ExitCode.PROBLEMS))
        return
    with progress(len(targets), options) as on_result:
        checks = check_urls(targets, settings, on_result=on_result, fragments=settings.include_fragments)
    if as_json:
        _echo(json_text([c.to_json() for c in checks]))
    else:
        _echo(format_checks(checks, shutil.get_terminal_size((100, 24)).columns))
    if skipped or any(c.status.broken for c in checks):
        raise SystemExit(int(ExitCode.PROBLEMS))


@cli.command("snapshots")
@click.argument("url")
@click.option("--date", "date", help="The claim's date, YYYY[-MM[-DD]]: the capture closest to it (default: the newest).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--mode", type=click.Choice(["cdx", "timegate"]), help="timegate: ask for the closest memento first.")
@click.option("--archive-missing", is_flag=True, help="Ask the archive to save the URL when it has no capture and is alive.")
@click.pass_obj
def snapshots_command(options: Options, url: str, date: str | None, as_json: bool, mode: str | None,
                      archive_missing: bool) -> None:
    """Find the archived captures of URL: the one closest to --date (a 200 on or after
    the date preferred), the first and the last, how many and how many versions.

    Exit 0 when a usable capture exists (or was just saved), 1 when none does or the
    archive excludes the URL, 3 when the archive could not be asked.

    \b
    Examples:
      citewatch snapshots http://news.bbc.co.uk/1/hi/world/south_asia/6750785.stm --date 2007-05-22
      CITEWATCH_WAYBACK_DIALECT=pywb CITEWATCH_WAYBACK_CDX_URL=https://arquivo.pt/wayback/cdx \\
        CITEWATCH_WAYBACK_REPLAY_URL=https://arquivo.pt/wayback/ citewatch snapshots https://www.publico.pt/ --json
    """
    if date is not None and not is_claim_date(date):
        raise click.BadParameter(f"{date!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD", param_hint="--date")
    settings = options.load(archive_mode=mode).settings
    lookup, saved = find_snapshots(url, settings, date=date, archive_missing=archive_missing)
    if as_json:
        document = lookup.to_json()
        if saved is not None:
            document["save"] = saved.to_json()
        _echo(json_text(document))
    else:
        _echo(format_lookup(lookup, saved))
    if lookup.state is ArchiveState.UNAVAILABLE:
        raise SystemExit(int(ExitCode.CANNOT_RUN))
    if lookup.state in (ArchiveState.NONE, ArchiveState.EXCLUDED) and not (saved and saved.state is SaveState.SAVED):
        raise SystemExit(int(ExitCode.PROBLEMS))


@cli.command("verify")
@click.argument("documents", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document (a JSON array of them for several documents).")
@click.option("--fail-on", type=click.Choice(["unverified", "never"]), default="never", show_default=True,
              help="unverified: exit 1 when any citation is partial, not found or unverifiable.")
@click.option("--offline", is_flag=True,
              help="No network: make every verdict again from the kept bytes alone, and say what would change. "
                   "DOCUMENTS are documents as run (their record in the database), report.json files or WACZ "
                   "files written by `evidence export`.")
@click.option("--evidence", "evidence", type=click.Path(file_okay=False),
              help="With --offline: the evidence folder to read (default: the one next to the database).")
@db_option
@click.pass_obj
def verify_command(options: Options, documents: tuple[str, ...], as_json: bool, fail_on: str, offline: bool,
                   evidence: str | None, db: str | None) -> None:
    """Verify the quotes of DOCUMENTS (files, folders or globs): check their links, read the
    archived copy closest to each claim's date and the live page, and find each passage in
    them. Every copy read is kept in the evidence folder (WARC). A document that cannot be
    read among several is reported and skipped (exit 1).

    Verdicts: verified (in an archived copy), verified_live (only in the live page),
    misquoted, partial, not_found (not found verbatim: a paraphrase or translation is not a
    quote), unverifiable (no readable copy).

    With --offline, nothing is fetched: each verdict is made again from the bytes it was
    made on, their SHA-256 checked; exit 1 when a verdict would change or a kept copy is
    missing or altered.

    \b
    Examples:
      citewatch verify data/000_7d4670f58732b56e.txt
      citewatch verify notes.md --json --fail-on unverified > verification.json
      citewatch verify 'posts/**/*.md'
      citewatch verify --offline data/000_7d4670f58732b56e.txt
      citewatch verify --offline reports/000_7d4670f58732b56e/report.json --evidence ./citewatch-evidence
    """
    settings = options.load(db=db).settings
    if offline:
        outcomes = reverify_targets(documents, settings, evidence)
        if as_json:
            _echo(json_text(outcomes if len(outcomes) > 1 else outcomes[0]))
        else:
            _echo("\n\n".join(format_reverified(outcome) for outcome in outcomes))
        if any(o["summary"]["changed"] or o["summary"]["problems"] for o in outcomes):
            raise SystemExit(int(ExitCode.PROBLEMS))
        return
    if evidence:
        raise click.UsageError("--evidence goes with --offline (the folder verification keeps copies in is the "
                               "evidence_dir setting)")
    extractions, skipped = read_documents(documents)
    for document in skipped:
        _echo(f"skipped {document['reason']}", err=True)
    several = len(extractions) + len(skipped) > 1
    with stages(options) as on_progress:
        every = verify_documents(extractions, settings, on_progress=on_progress,
                                 on_warning=lambda warning: _echo(f"citewatch: warning: {warning}", err=True))
    if as_json:
        shown = [report_document(results) for results in every]
        _echo(json_text(shown if several else shown[0]))
    else:
        width = shutil.get_terminal_size((100, 24)).columns
        _echo("\n\n".join((f"== {r.document.path}\n" if several else "") + format_verification(r, width)
                               for r in every))
    unverified = fail_on == "unverified" and not all(c.verdict.is_verified for r in every for c in r.citations)
    if unverified or skipped:
        raise SystemExit(int(ExitCode.PROBLEMS))


@cli.command("run")
@click.argument("documents", nargs=-1, required=True)
@db_option
@click.option("--reports", "reports_dir", help="Where reports go: DIR/<document-name>/ (default ./reports).")
@click.option("--max-age", help="Don't re-check URLs found alive more recently than this (default 20h: each night; "
                                "0 checks all).")
@click.option("--force", is_flag=True, help="Check every URL and verify every citation, however fresh.")
@click.option("--archive-missing", is_flag=True, help="Ask the archive to save live URLs that have no capture.")
@click.option("--fail-on", type=click.Choice(list(FAIL_ON)), default="new-dead", show_default=True,
              help="What makes the exit code 1: any dead link, a link that died in this run, any citation not "
                   "verified, or nothing.")
@click.option("--format", "formats", default="html,json,md", show_default=True,
              help="Report formats to write: html, json, md, and for CI junit, sarif, github (annotations, printed).")
@click.option("--no-reports", is_flag=True, help="Write no reports.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as one JSON document.")
@click.option("--exclude-path", "exclude_paths", multiple=True,
              help="Leave out documents matching this pattern (gitignore syntax); repeatable.")
@click.option("--exclude", "exclude", multiple=True, help="Do not check URLs matching this regex (or * glob); repeatable.")
@click.option("--accept", help="Statuses that mean alive, like 200..=299,403.")
@click.option("--new-issues", "new_issues", type=click.Path(dir_okay=False),
              help="Write the problems first seen in this run (links that died, quotes newly misquoted) and "
                   "where each is cited to this Markdown file (empty when none), for a bot to open an issue.")
@click.option("--no-work", is_flag=True,
              help="On PostgreSQL: only plan the run and wait while `citewatch worker` processes do its pieces.")
@click.pass_obj
def run_command(options: Options, documents: tuple[str, ...], db: str | None, reports_dir: str | None,
                max_age: str | None, force: bool, archive_missing: bool, fail_on: str, formats: str,
                no_reports: bool, as_json: bool, exclude_paths: tuple[str, ...], exclude: tuple[str, ...],
                accept: str | None, new_issues: str | None, no_work: bool) -> None:
    """The whole pipeline, the job to schedule: extract the citations of DOCUMENTS (files,
    folders, or globs such as 'posts/**/*.md'; what .gitignore files and --exclude-path
    leave out is skipped; a document that cannot be read is reported and skipped), check
    the links that are not fresh, find archived copies, verify the quotes, store it all
    with its history, and write the reports.

    A URL is dead only after repeated failures over days (dead_after_failures,
    dead_after_days); when the network is down the run is inconclusive (exit 3) and
    nothing is marked. Exit 1 when --fail-on finds something.

    On a PostgreSQL database (--db postgresql://…) the run is shared: it puts its pieces
    (a host's links, a batch of citations) in the database's queue, takes part in them, and
    any `citewatch worker` on any machine takes them too (docs/scale.md).

    \b
    Examples:
      citewatch run data/000_7d4670f58732b56e.txt
      citewatch run posts/*.md --db /var/lib/citewatch/db.sqlite --fail-on dead --json
      citewatch run notes/ 'posts/**/*.md' --exclude-path 'drafts/'
    """
    settings = options.load(db=db, reports_dir=reports_dir, max_age=max_age, exclude=exclude or None,
                            accept=accept).settings
    if no_work and not is_postgres(settings.db):
        raise click.UsageError("--no-work is for a run on PostgreSQL, shared with `citewatch worker` processes; "
                               f"{redact_url(settings.db)} is a SQLite file")
    run_options = RunOptions(force=force, archive_missing=archive_missing, fail_on=FailOn(fail_on),
                             reports=not no_reports, formats=_formats(formats), work=not no_work)
    with stages(options) as on_progress:
        summary = run_documents(list(documents), settings, run_options, exclude=exclude_paths, on_progress=on_progress)
    for unread in summary.skipped:  # a diagnostic, once, on stderr
        _echo(f"citewatch: skipped {unread.reason}", err=True)
    for document in summary.documents:  # GitHub reads workflow commands from standard output
        click.echo(document.annotations, nl=False)  # escaped by render_github
    if new_issues:
        write_file(new_issues, render_new_issues([problem.to_json() for problem in summary.new_problems]))
    if as_json:
        _echo(json_text(summary.to_json()))
    elif options.verbosity < 0:  # -q: only what newly broke, so that cron mails only then
        if news := format_news(summary):
            _echo(news)
    else:
        _echo(format_summary(summary))
    if summary.exit_code:
        raise SystemExit(summary.exit_code)


@cli.command("recheck")
@click.argument("target")
@db_option
@click.option("--reports", "reports_dir", help="Where reports go (default ./reports).")
@click.option("--json", "as_json", is_flag=True, help="Print the citations' provenance as JSON.")
@click.pass_obj
def recheck_command(options: Options, target: str, db: str | None, reports_dir: str | None, as_json: bool) -> None:
    """Re-run one citation now, by its id (a prefix will do) or by one of its URLs: check
    its URLs whatever their age, look up snapshots, verify its passages, store the results,
    rewrite the reports, and print its provenance.

    \b
    Examples:
      citewatch recheck 8a769ef67dd0
      citewatch recheck https://www.theguardian.com/world/2010/jul/25/iran-backing-taliban-alqaida-afghanistan
    """
    settings = options.load(db=db, reports_dir=reports_dir).settings
    with stages(options) as on_progress:
        summary, provenance = recheck(target, settings, on_progress=on_progress)
    if as_json:
        _echo(json_text({"run": summary.to_json(), "citations": provenance}))
    else:
        _echo(format_provenance(provenance))
    if summary.exit_code:
        raise SystemExit(summary.exit_code)


@cli.command("report")
@db_option
@click.option("--format", "formats", default="html,json,md", show_default=True, help="Report formats to write.")
@click.option("--out", "out", help="Where reports go: OUT/<document-name>/ (default ./reports).")
@click.option("--document", "only", multiple=True, help="Only this document (its path as run); repeatable.")
@click.option("--robust-links", is_flag=True,
              help="Also write the source document with each link's archived copy (robust.html / robust.md).")
@click.pass_obj
def report_command(options: Options, db: str | None, formats: str, out: str | None, only: tuple[str, ...],
                   robust_links: bool) -> None:
    """Rebuild the provenance reports from the database, with no network: report.html
    (one self-contained page), report.json (the contract, schema in
    pipeline/report/report.schema.json) and report.md.

    \b
    Examples:
      citewatch report
      citewatch report --format json --out /srv/blog/reports --robust-links
    """
    settings = options.load(db=db, reports_dir=out).settings
    notes = lambda note: _echo(f"citewatch: warning: {note}", err=True)  # noqa: E731
    for path in build_reports(settings, _formats(formats), only=list(only), robust_links=robust_links, on_note=notes):
        _echo(path)


@cli.command("history")
@click.argument("url")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def history_command(options: Options, url: str, db: str | None, as_json: bool) -> None:
    """Past checks of URL (time, class, HTTP status, state after it) and its changes of
    state, newest first. No network.

    \b
    Examples:
      citewatch history http://news.bbc.co.uk/1/hi/world/south_asia/6750785.stm
      citewatch history https://ara.tv/28pa5 --db /var/lib/citewatch/db.sqlite --json
    """
    settings = options.load(db=db).settings
    history = url_history(url, settings)
    if as_json:
        _echo(json_text(history))
    else:
        _echo(format_history(history))


@cli.command("unlock")
@db_option
@click.pass_obj
def unlock_command(options: Options, db: str | None) -> None:
    """Clear the database's lock when the run that took it is gone but could not be told
    dead from here (it ran on another host or in a container since renamed). A run of a
    dead process on this host is taken over without this. Make sure no run is going on.

    \b
    Examples:
      citewatch unlock
      citewatch unlock --db /var/lib/citewatch/db.sqlite
    """
    settings = options.load(db=db).settings
    held = unlock(settings)
    if held is None:
        _echo(f"{redact_url(settings.db)}: not locked")
    else:
        _echo(f"{redact_url(settings.db)}: cleared the lock of PID {held['pid']} on {held['host']} "
                   f"(started {held['started_at']})")


@cli.command("worker")
@db_option
@click.option("--evidence-dir", "evidence_dir",
              help="The evidence folder this worker writes its WARC files into: the same shared folder for every "
                   "worker (default: citewatch-evidence in the working folder).")
@click.option("--concurrency", type=click.IntRange(1),
              help="Pieces at once (default: check_concurrency / check_per_host, 8).")
@click.pass_obj
def worker_command(options: Options, db: str | None, evidence_dir: str | None, concurrency: int | None) -> None:
    """Take pieces of the runs on a PostgreSQL database (a host's links, a batch of
    citations) until SIGTERM or Ctrl-C; then finish the pieces held within worker_grace
    seconds and hand back the rest. Start any number, on any machine that reaches the
    database; give them all the same settings (docs/scale.md).

    \b
    Examples:
      citewatch worker --db postgresql://citewatch@db/citewatch
      citewatch worker --db postgresql://citewatch@db/citewatch --concurrency 16 --evidence-dir /mnt/evidence
    """
    settings = options.load(db=db, evidence_dir=evidence_dir).settings
    if not is_postgres(settings.db):
        raise click.UsageError(f"a worker shares a run on PostgreSQL (--db postgresql://…); {redact_url(settings.db)} is "
                               "a SQLite file, which one `citewatch run` works on alone")
    _echo(f"citewatch: worker {worker_name()} on {redact_url(settings.db)}", err=True)
    run_worker(settings, concurrency)
    _echo(f"citewatch: worker {worker_name()} stopped", err=True)


@cli.command("runs")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def runs_command(options: Options, db: str | None, as_json: bool) -> None:
    """The runs going on: each stage's pieces done of all, and the workers taking part.

    \b
    Examples:
      citewatch runs --db postgresql://citewatch@db/citewatch
    """
    settings = options.load(db=db).settings
    found = runs_going_on(settings)
    if as_json:
        _echo(json_text(found))
        return
    if not found:
        _echo(f"{redact_url(settings.db)}: no run going on")
    for run in found:
        stages = "; ".join(f"{stage} {s['done']}/{s['total']} ({s['pieces_done']}/{s['pieces']} pieces)"
                           for stage, s in run["stages"].items()) or "planning"
        beating = "" if run["workers_beating"] is None else f"; {run['workers_beating']} worker(s) beating"
        _echo(f"run {run['run']} ({run['kind']}, started {run['started_at']}, PID {run['pid']}): {stages}{beating}; "
              f"pieces done by {', '.join(run['workers']) or 'none yet'}")


@cli.group("evidence")
def evidence_group() -> None:
    """The kept copies: the bytes each verdict was made on, as WARC files in the evidence
    folder (citewatch-evidence next to the database unless evidence_dir says otherwise).

    \b
    Examples:
      citewatch evidence ls
      citewatch evidence ls data/000_7d4670f58732b56e.txt
      citewatch evidence export data/000_7d4670f58732b56e.txt
      citewatch evidence serve --port 8090
      citewatch evidence prune
    """


@evidence_group.command("ls")
@click.argument("document", required=False)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def evidence_ls_command(options: Options, document: str | None, db: str | None, as_json: bool) -> None:
    """Without DOCUMENT: each WARC file, the run that wrote it, its new copies, revisits and
    size. With DOCUMENT (its path as run): every copy its current verdicts rest on, its
    SHA-256, and whether its record and file are there (exit 1 when one is not; `verify
    --offline` also checks the bytes against the hash)."""
    settings = options.load(db=db).settings
    listing = list_evidence(settings, document)
    _echo(json_text(listing) if as_json else format_evidence(listing))
    if document is not None and not all(c["kept"] or not c["sha256"] for c in listing["copies"]):
        raise SystemExit(int(ExitCode.PROBLEMS))


@evidence_group.command("prune")
@db_option
@click.pass_obj
def evidence_prune_command(options: Options, db: str | None) -> None:
    """Drop every kept record that no current verdict rests on (older copies, revisits of
    past runs); what the verdicts rest on is never dropped. A run does this by itself
    when the folder passes the evidence_budget setting."""
    settings = options.load(db=db).settings
    pruned = prune_evidence(settings)
    _echo(f"dropped {pruned['records_dropped']} records, freed {pruned['bytes_freed']:,} bytes "
               f"({pruned['bytes_before']:,} → {pruned['bytes_after']:,}); kept every record current verdicts rest on")


@evidence_group.command("export")
@click.argument("document")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False),
              help="Where (default: <reports>/<document-name>/evidence.wacz).")
@db_option
@click.pass_obj
def evidence_export_command(options: Options, document: str, out: str | None, db: str | None) -> None:
    """Package the copies DOCUMENT's verdicts rest on as one WACZ: one WARC of their
    records as kept, the pages index, and the report (logs/citewatch-provenance.json), openable in any
    WACZ replay tool and re-verifiable with `citewatch verify --offline FILE.wacz`. Needs
    the replay extra."""
    settings = options.load(db=db).settings
    done = export_document(settings, document, out)
    _echo(f"{done['path']}: {done['copies']} copies, {done['records']} records, {done['bytes']:,} bytes")


@evidence_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8090, show_default=True, help="Port to listen on.")
@db_option
@click.pass_obj
def evidence_serve_command(options: Options, host: str, port: int, db: str | None) -> None:
    """Replay the kept copies through pywb at http://HOST:PORT/evidence/<date>/<url> (the
    reports' "local copy" links, evidence_replay_url) until stopped. Needs the replay extra."""
    settings = options.load(db=db).settings
    _echo(f"replaying {evidence_folder(settings)} at http://{host}:{port}/{COLLECTION}/ (Ctrl-C stops)", err=True)
    raise SystemExit(serve_evidence(settings, host, port))


@cli.command("reference", hidden=True)
@click.argument("what", type=click.Choice(["commands", "settings"]))
def reference_command(what: str) -> None:
    """The command or settings reference in Markdown, from the CLI's own help and the
    settings' own descriptions: docs/commands.md and docs/settings.md are this output, and a
    test keeps them so.

    \b
    Examples:
      citewatch reference commands > docs/commands.md
      citewatch reference settings > docs/settings.md
    """
    click.echo(command_reference() if what == "commands" else settings_reference(), nl=False)


def command_reference() -> str:
    """Every command's --help, in the order `citewatch --help` lists them."""
    parts = ["# Command reference", "",
             "Generated from the command line's own help by `citewatch reference commands` (a test keeps it in",
             "sync); edit the help in `pipeline/cli.py`, not this file.", ""]

    def add(command: click.Command, path: list[str], parent: click.Context | None) -> None:
        ctx = command.make_context(" ".join(path), [], parent=parent, resilient_parsing=True, terminal_width=100,
                                   max_content_width=100)  # as a real invocation would: -h among the help options
        parts.extend([f"## `{' '.join(path)}`", "", "```", command.get_help(ctx).rstrip(), "```", ""])
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    add(sub, [*path, name], ctx)

    add(cli, ["citewatch"], None)
    return "\n".join(parts)


def settings_reference() -> str:
    """Every setting: its environment variable, default and description, from `Settings`."""
    rows = describe(load_settings(env={}, cwd=Path("/nonexistent-citewatch-reference")))
    lines = ["# Settings reference", "",
             "Generated from the settings' own descriptions by `citewatch reference settings` (a test keeps it in",
             "sync); how settings are given and which a repository's own `citewatch.toml` may set:",
             "[configuration.md](configuration.md).", "",
             "| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for row in rows:
        default, meaning = (text.replace("|", "\\|") for text in (_show(row["value"]), row["help"]))
        lines.append(f"| `{row['name']}` | `{row['env']}` | `{default}` | {meaning} |")
    return "\n".join(lines) + "\n"


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise click.BadParameter(f"unknown format {', '.join(unknown) or '(none)'}: use {', '.join(FORMATS)}",
                                 param_hint="--format")
    return chosen


@contextlib.contextmanager
def stages(options: Options) -> Iterator[Progress]:
    """Each stage's progress on stderr (done/total, what is left), unless -q: a line rewritten
    on a terminal, else a line when a stage starts, every 10 s and when it ends (a log)."""
    shown: list[StageProgress] = []
    if options.verbosity >= 0:
        shown.append(StageProgress(sys.stderr, tty=sys.stderr.isatty()))
    if options.log_file is not None:
        shown.append(StageProgress(options.log_file, tty=False))
    if not shown:
        yield no_progress
        return

    def each(stage: str, done: int, total: int) -> None:
        for one in shown:
            one(stage, done, total)

    try:
        yield each
    finally:
        for one in shown:
            one.close()


@contextlib.contextmanager
def progress(total: int, options: Options, label: str = "checking") -> Iterator[Callable[[LinkCheck], None]]:
    """A bar on stderr with counts per class, for more than a handful of URLs (or an
    unknown number, 0), when stderr is a terminal and -q was not given; otherwise a
    callback that does nothing."""
    if options.verbosity < 0 or 0 < total <= 5 or not sys.stderr.isatty():
        yield lambda check: None
        return
    counts: dict[str, int] = {}

    def tally() -> str:
        return " ".join(f"{k}:{v}" for k, v in counts.items())

    if not total:  # how many is not known up front: a running count on one line
        def count(check: LinkCheck) -> None:
            counts[check.status.value] = counts.get(check.status.value, 0) + 1
            click.echo(f"\r{label} {sum(counts.values())}  {tally()}", nl=False, err=True)

        try:
            yield count
        finally:
            if counts:
                click.echo(err=True)
        return
    with click.progressbar(length=total, label=label, file=sys.stderr, item_show_func=lambda _: tally()) as bar:  # type: ignore[var-annotated]
        def on_result(check: LinkCheck) -> None:
            counts[check.status.value] = counts.get(check.status.value, 0) + 1
            bar.update(1, check)

        yield on_result


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value) or "(none)"
    if value == "":
        return "(none)"
    return str(value)


# Ctrl-C stops the run (KeyboardInterrupt: it keeps what was done and exits 130); a second
# Ctrl-C while it stops exits at once (a lock left behind is taken over next time). Only for
# the real command, not in-process use. (The event loops of the checks run under Python's own
# handler, with which asyncio cancels its tasks cleanly: `http.run_sync`.)
_HARD_SECOND_INTERRUPT = False


def main() -> None:
    global _HARD_SECOND_INTERRUPT
    _HARD_SECOND_INTERRUPT = True
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _first_interrupt)
    cli(prog_name="citewatch")


def _first_interrupt(signum: int, frame: object) -> None:
    signal.signal(signal.SIGINT, _second_interrupt)
    raise KeyboardInterrupt


def _second_interrupt(signum: int, frame: object) -> None:
    os.write(2, b"citewatch: interrupted again: stopped at once\n")
    os._exit(130)
