"""What a run did, as typed values: its options, what each document came to, the problems
first seen in it (dead links, new misquotes, and every place a document cites them), and the
exit code they make. Pure: the run fills it, the store keeps its JSON, the CLI prints it."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection, Sequence
from typing import Any

from pipeline.archive.model import SaveResult
from pipeline.errors import ExitCode, UsageError
from pipeline.linkstate import LinkState
from pipeline.model import Verdict
from pipeline.results import CitationResult, DocumentResults


class FailOn(enum.StrEnum):
    """What makes a run's exit code 1."""

    DEAD = "dead"  # any link is dead
    NEW_DEAD = "new-dead"  # a link died in this run
    UNVERIFIED = "unverified"  # any citation is not verified
    NEVER = "never"


FAIL_ON = tuple(f.value for f in FailOn)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    force: bool = False
    archive_missing: bool = False
    fail_on: FailOn = FailOn.NEW_DEAD
    reports: bool = True
    formats: tuple[str, ...] = ("html", "json", "md")
    work: bool = True  # a run shared with workers (PostgreSQL) takes pieces itself; False: --no-work

    def __post_init__(self) -> None:
        if self.fail_on not in FAIL_ON:
            raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
        object.__setattr__(self, "fail_on", FailOn(self.fail_on))


@dataclasses.dataclass(frozen=True)
class Place:
    """Where a document cites something: its path, the line, the citation's id."""

    path: str
    line: int
    citation: str


@dataclasses.dataclass
class NewProblem:
    """A problem first seen in this run: a link that died, or a citation that became
    misquoted (with its differences), and every place it is cited."""

    kind: str  # "dead-link" or "misquoted"
    url: str
    reason: str
    cited: list[Place] = dataclasses.field(default_factory=list)
    differences: list[dict[str, str]] | None = None  # a misquote's words, quote against source

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.differences is None:
            del data["differences"]
        return data


@dataclasses.dataclass
class Failing:
    """A link failing but not dead yet: since when, how many failing checks, where cited."""

    url: str
    since: str
    failures: int
    cited: list[Place] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class DocumentSummary:
    path: str
    title: str | None
    citations: int
    verdicts: dict[str, int]
    reports: list[str] | None = None  # the files written (None: no reports this run)
    annotations: str = ""  # GitHub workflow commands, when that format was written (not in the JSON)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["annotations"]
        if self.reports is None:
            del data["reports"]
        return data


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A document that could not be read, and why."""

    path: str
    reason: str


@dataclasses.dataclass
class RunSummary:
    run_id: int
    kind: str
    status: str
    started_at: str
    finished_at: str = ""
    documents: list[DocumentSummary] = dataclasses.field(default_factory=list)
    citations: int = 0
    verdicts: dict[str, int] = dataclasses.field(default_factory=dict)
    links: dict[str, int] = dataclasses.field(default_factory=dict)  # link state: URLs in it
    classes: dict[str, int] = dataclasses.field(default_factory=dict)  # status of the latest check: URLs
    newly_dead: list[str] = dataclasses.field(default_factory=list)
    new_problems: list[NewProblem] = dataclasses.field(default_factory=list)
    failing: list[Failing] = dataclasses.field(default_factory=list)  # failing, not dead yet
    checked: int = 0
    reused: int = 0
    verified: int = 0
    saved: list[SaveResult] = dataclasses.field(default_factory=list)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)  # documents that could not be read
    index: list[str] = dataclasses.field(default_factory=list)  # the index report's files
    # what the evidence store wrote (records, bytes, kept, reused), its folder, what was pruned
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["documents"] = [d.to_json() for d in self.documents]
        data["new_problems"] = [p.to_json() for p in self.new_problems]
        data["failing"] = [dataclasses.asdict(f) for f in self.failing]
        data["saved"] = [s.to_json() for s in self.saved]
        data["skipped"] = [dataclasses.asdict(s) for s in self.skipped]
        return data


def cited_where(keys: Sequence[str], results: Sequence[DocumentResults],
                chosen: Sequence[Sequence[CitationResult]]) -> list[NewProblem]:
    """Each of `keys` (newly dead URLs) with its reason and every place a document cites it."""
    found = {key: NewProblem("dead-link", key, "") for key in keys}
    for document, group in zip(results, chosen):
        for result in group:
            for source in result.sources:
                if (problem := found.get(source.ref.key)) is not None:
                    problem.url = source.ref.url
                    problem.reason = problem.reason or (source.check.reason if source.check else "") or ""
                    problem.cited.append(Place(document.document.path, source.ref.line, result.citation.id))
    return list(found.values())


def failing_where(results: Sequence[DocumentResults], chosen: Sequence[Sequence[CitationResult]]) -> list[Failing]:
    """The links that fail but are not dead yet (uncertain, with a failing streak), oldest
    failure first, each with every place it is cited."""
    found: dict[str, Failing] = {}
    for document, group in zip(results, chosen):
        for result in group:
            for source in result.sources:
                if source.state is LinkState.UNCERTAIN and source.streak.failing_since:
                    failing = found.setdefault(source.ref.key, Failing(source.ref.url, source.streak.failing_since,
                                                                       source.streak.failures))
                    failing.cited.append(Place(document.document.path, source.ref.line, result.citation.id))
    return sorted(found.values(), key=lambda f: f.since)


def misquoted_where(ids: Collection[str], results: Sequence[DocumentResults]) -> list[NewProblem]:
    """Each citation of `ids` (misquoted in this run, not before) with its differences."""
    return [NewProblem("misquoted", result.citation.urls[0].url if result.citation.urls else "",
                       "; ".join(dict.fromkeys(p.note for p in result.passages if p.note)) or "misquoted",
                       [Place(document.document.path, result.citation.line_start, result.citation.id)],
                       [dataclasses.asdict(d) for p in result.passages for d in p.differences])
            for document in results for result in document.citations if result.citation.id in ids]


def exit_code(fail_on: FailOn, states: Collection[LinkState], newly_dead: bool, verdicts: Collection[Verdict],
              skipped: bool) -> ExitCode:
    """1 when the run found what `fail_on` names (or skipped a document), else 0."""
    problem = {
        FailOn.DEAD: LinkState.DEAD in states,
        FailOn.NEW_DEAD: newly_dead,
        FailOn.UNVERIFIED: not all(v.is_verified for v in verdicts),
        FailOn.NEVER: False,
    }[fail_on]
    return ExitCode.PROBLEMS if problem or skipped else ExitCode.OK
