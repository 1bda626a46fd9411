"""Report formats for CI systems, from the report document: JUnit XML (one test case a
citation), SARIF 2.1.0 (one result a problem, at the document's line and column, for
code-scanning views) and GitHub workflow commands (`::error file=…,line=…::…`)."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import quoteattr

from pipeline import PROJECT_URL, __version__
from pipeline.inert import command_data, for_bots, uri_reference, xml_text
from pipeline.model import Verdict
from pipeline.report.markdown_format import escape, link

# What a reader should look at, and how loudly: a rule a kind of problem.
RULES = {
    "dead-link": ("error", "A cited link is dead: it failed as many checks in a row, over as many days, as the "
                           "settings ask (dead_after_failures, dead_after_days; 3 over 3 days by default)."),
    "misquoted": ("error", "The quote differs from its source: a number, a name, a negation or a word."),
    "abridged": ("warning", "Every word of the quote is in the source, but words of the source were left out "
                            "without an ellipsis."),
    "paraphrase": ("note", "Not a quote: the source says it in other words; check its sentences."),
    "not-found": ("warning", "Nothing in any readable copy comes close, or the source never mentions the claim's facts."),
    "partial": ("warning", "Only part of the quote was found."),
    "unverifiable": ("note", "No readable copy of the source: the quote could not be checked."),
}
_VERDICT_RULES = {Verdict.ABRIDGED.value: "abridged", Verdict.PARAPHRASE.value: "paraphrase",
                  Verdict.MISQUOTED.value: "misquoted", Verdict.NOT_FOUND.value: "not-found",
                  Verdict.PARTIAL.value: "partial", Verdict.UNVERIFIABLE.value: "unverifiable"}


def problems(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each problem of a report document: rule, level, message, line and column."""
    found = []
    for citation in data["citations"]:
        for source in citation["sources"]:
            if source["state"] == "dead":
                found.append({"rule": "dead-link", "line": source.get("line") or citation["line_start"],
                              "column": source.get("column") or 1,
                              "message": f"dead link {source['url']} ({source.get('reason') or source['status']})"})
        rule = _VERDICT_RULES.get(citation["verdict"])
        if rule:
            notes = "; ".join(dict.fromkeys(p["note"] for p in citation["passages"] if p.get("note")))
            found.append({"rule": rule, "line": citation["line_start"], "column": 1,
                          "message": f"citation {citation['index']} is {citation['verdict']}: {notes}".rstrip(": ")})
    for problem in found:
        problem["level"] = RULES[problem["rule"]][0]
    return found


def render_junit(data: dict[str, Any]) -> str:
    """A test suite for the document, a test case a citation, a failure for each problem."""
    path = xml_text(data["document"]["path"])
    by_line: dict[int, list[dict[str, Any]]] = {}
    for problem in problems(data):
        by_line.setdefault(problem["line"], []).append(problem)
    cases = []
    failures = 0
    for citation in data["citations"]:
        lines = {citation["line_start"], *(s.get("line") for s in citation["sources"])}
        mine = [p for line in sorted(x for x in lines if x) for p in by_line.pop(line, [])]
        name = f"citation {citation['index']} ({citation['id']}), line {citation['line_start']}"
        body = "".join(f"<failure type={quoteattr(p['rule'])} message={quoteattr(xml_text(p['message']))}/>"
                       for p in mine)
        failures += bool(mine)
        cases.append(f"  <testcase classname={quoteattr(path)} name={quoteattr(name)}>{body}</testcase>")
    head = (f"<testsuite name={quoteattr('citewatch: ' + path)} tests=\"{len(cases)}\" failures=\"{failures}\" "
            f"errors=\"0\" skipped=\"0\">")
    return "\n".join(['<?xml version="1.0" encoding="UTF-8"?>', head, *cases, "</testsuite>"]) + "\n"


def render_sarif(data: dict[str, Any]) -> str:
    """One document's problems as a SARIF log."""
    return render_sarif_of([data])


def render_sarif_of(documents: list[dict[str, Any]]) -> str:
    """Several documents' problems as one SARIF log with one run: what GitHub code scanning
    takes in one upload (it no longer combines several runs of one tool)."""
    results = [{
        "ruleId": problem["rule"],
        "level": problem["level"],
        "message": {"text": problem["message"]},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": uri_reference(data["document"]["path"])},
            "region": {"startLine": problem["line"], "startColumn": problem["column"]},
        }}],
    } for data in documents for problem in problems(data)]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "citewatch", "version": __version__, "informationUri": PROJECT_URL,
                "rules": [{"id": rule, "shortDescription": {"text": text}, "defaultConfiguration": {"level": level}}
                          for rule, (level, text) in RULES.items()],
            }},
            "results": results,
        }],
    }
    return json.dumps(log, ensure_ascii=False, indent=2) + "\n"


def render_github(data: dict[str, Any]) -> str:
    """`::error file=…,line=…,col=…,title=…::message`, a line a problem (notes as ::notice)."""
    path = command_data(data["document"]["path"], property_value=True)
    lines = []
    for problem in problems(data):
        command = {"error": "error", "warning": "warning", "note": "notice"}[problem["level"]]
        lines.append(f"::{command} file={path},line={problem['line']},col={problem['column']},"
                     f"title={command_data('citewatch ' + problem['rule'], property_value=True)}"
                     f"::{command_data(problem['message'])}")
    return "\n".join(lines) + ("\n" if lines else "")


_NEW_KINDS = {  # kind: (one, several, what it means)
    "dead-link": ("cited link died", "cited links died",
                  "Dead in this run by the rule in force: as many failed checks in a row, over as many days, as "
                  "`dead_after_failures` and `dead_after_days` ask (3 over 3 days by default)."),
    "misquoted": ("quote differs from its source", "quotes differ from their source",
                  "Found in a copy of the source with a word, a number, a name or a negation changed."),
}


def render_new_issues(new_problems: list[dict[str, Any]]) -> str:
    """The problems first seen in a run (links that died in it, citations that became
    misquoted) as Markdown, for a bot to open an issue with; empty when there are none, so
    that `test -s FILE` tells. Older problems stay in the reports."""
    if not new_problems:
        return ""
    lines = [f"# citewatch: {len(new_problems)} new problem{'s' * (len(new_problems) != 1)}", ""]
    for kind, (one, several, meaning) in _NEW_KINDS.items():
        mine = [p for p in new_problems if p.get("kind", "dead-link") == kind]
        if not mine:
            continue
        lines += [f"## {len(mine)} {one if len(mine) == 1 else several}", "", meaning, ""]
        for problem in mine:
            lines.append(f"- {link(problem['url'], problem['url'])}: {for_bots(escape(problem['reason'] or kind))}")
            lines += [f"  - quote: ~~{for_bots(escape(d['quote'])) or '∅'}~~ → source: "
                      f"**{for_bots(escape(d['source'])) or '∅'}**" for d in problem.get("differences", [])]
            lines += [f"  - {for_bots(escape(place['path']))} line {place['line']} "
                      f"(citation {escape(place['citation'][:12])})" for place in problem["cited"]]
        lines.append("")
    return "\n".join(lines)
