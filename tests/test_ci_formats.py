"""Reports for CI systems: JUnit XML, SARIF 2.1.0 (validated against its published schema) and
GitHub workflow commands, from the sample's report and from a run."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from lxml import etree

from pipeline.cli import cli
from pipeline.report.ci_formats import problems, render_github, render_junit, render_new_issues, render_sarif

SARIF_SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "sarif" / "sarif-2.1.0-rtm.5.json").read_text())
JUNIT_SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "fixtures" / "junit" / "junit-10.xsd")))


@pytest.fixture(scope="module")
def sample_data(sample_run) -> dict:
    _, _, summary = sample_run
    return json.loads(Path(summary.documents[0].reports[1]).read_text())


def test_problems_are_the_citations_not_verified_and_the_dead_links(sample_data: dict) -> None:
    data = copy.deepcopy(sample_data)
    data["citations"][0]["sources"][0].update(state="dead", line=9, column=3)
    found = problems(data)
    expected = [c for c in data["citations"] if c["verdict"] not in ("verified", "verified_live")]
    assert len([p for p in found if p["rule"] != "dead-link"]) == len(expected) == 6
    assert [p for p in found if p["rule"] == "dead-link"] == [
        {"rule": "dead-link", "line": 9, "column": 3, "level": "error",
         "message": f"dead link {data['citations'][0]['sources'][0]['url']} ({data['citations'][0]['sources'][0]['reason']})"}]


def test_sarif_validates_against_the_published_schema(sample_data: dict) -> None:
    log = json.loads(render_sarif(sample_data))
    jsonschema.validate(log, SARIF_SCHEMA)
    results = log["runs"][0]["results"]
    assert len(results) == 6 and {r["ruleId"] for r in results} <= set(r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"])
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == sample_data["document"]["path"]
    assert location["region"]["startLine"] >= 1


def test_junit_has_a_test_case_a_citation_and_a_failure_a_problem(sample_data: dict) -> None:
    suite = etree.fromstring(render_junit(sample_data).encode())
    JUNIT_SCHEMA.assertValid(suite)
    cases = suite.findall("testcase")
    citations = len(sample_data["citations"])  # one test case a citation
    assert citations > 0 and suite.tag == "testsuite" and suite.get("tests") == str(citations) == str(len(cases))
    failing = [c for c in cases if c.find("failure") is not None]
    assert suite.get("failures") == str(len(failing)) == "6"
    assert all(f.get("message") and f.get("type") for c in failing for f in c.findall("failure"))


def test_github_annotations_are_workflow_commands_escaped(sample_data: dict) -> None:
    lines = render_github(sample_data).splitlines()
    assert len(lines) == 6
    assert all(re.fullmatch(r"::(error|warning|notice) file=[^,:]+,line=\d+,col=\d+,title=[^:]+::.+", line)
               for line in lines), lines
    data = copy.deepcopy(sample_data)
    data["document"]["path"] = "notes/a,b:c.md"
    data["citations"][1]["passages"][0]["note"] = "two\nlines 100%"
    text = render_github(data)
    assert "file=notes/a%2Cb%3Ac.md," in text and "two%0Alines 100%25" in text


def test_report_writes_the_ci_files(sample_run, tmp_path: Path) -> None:
    _, settings, _ = sample_run
    result = CliRunner().invoke(cli, ["report", "--db", settings.db, "--out", str(tmp_path), "--format", "junit,sarif"])
    assert result.exit_code == 0
    written = sorted(Path(line).name for line in result.output.split())
    assert written == ["index.sarif", "report.junit.xml", "report.sarif"]  # the index: every document in one run


def test_a_run_prints_its_annotations_for_github(tmp_path: Path, web_settings, origin) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Note\n\n22 May 2007: [a story](http://gone.test/status/404) says so.\n")
    env = {"CITEWATCH_DB": str(tmp_path / "db.sqlite"), "CITEWATCH_REPORTS_DIR": str(tmp_path / "reports"),
           "CITEWATCH_CONNECT_TO": ",".join(web_settings.connect_to), "CITEWATCH_CANARY_URL": "http://canary.test/ok",
           "CITEWATCH_SOFT404_PROBE": "0", "CITEWATCH_WAYBACK_CDX_URL": "http://127.0.0.1:9/cdx",
           "CITEWATCH_WAYBACK_REPLAY_URL": "http://127.0.0.1:9/web/"}
    result = CliRunner().invoke(cli, ["run", str(note), "--format", "github,json", "--fail-on", "never"], env=env)
    assert result.exit_code == 0, result.output
    annotation = next(line for line in result.output.splitlines() if line.startswith("::"))
    assert re.fullmatch(r"::notice file=[^,]+note\.md,line=3,col=1,title=citewatch unverifiable::citation 1 is unverifiable.*",
                        annotation), annotation


def test_new_issues_are_markdown_that_escapes_what_documents_said() -> None:
    problems_seen = [{"url": "http://gone.test/a_(b)", "reason": "HTTP 404 <b>Not Found</b>",
                      "cited": [{"path": "notes/*odd*.md", "line": 5, "citation": "8a769ef67dd0aaaa"}]}]
    text = render_new_issues(problems_seen)
    assert text.startswith("# citewatch: 1 new problem\n") and "## 1 cited link died\n" in text
    assert "[http://gone.test/a\\_\\(b\\)](<http://gone.test/a_(b)>)" in text
    assert "HTTP 404 \\<b\\>Not Found\\</b\\>" in text and "notes/\\*odd\\*.md line 5 (citation 8a769ef67dd0)" in text
    assert render_new_issues([]) == ""
