"""The shape docs/architecture.md describes, checked on the code: imports go one way, the
pure stages do no I/O, the renderers never read the store, the code cites only documents
that are in the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "pipeline"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every pipeline module this file imports, at the top or inside a function (a late
    import still makes a cycle)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in MODULES)
    return found


GRAPH = {name: imports_of(path) - {name} for name, path in MODULES.items()}


def test_the_graph_is_read() -> None:
    assert len(MODULES) > 30 and "pipeline.store" in GRAPH["pipeline.jobs"]
    assert "pipeline.text" in GRAPH["pipeline.verify"]


def test_no_import_cycle() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(GRAPH[name]):
            if state.get(target) == 1:
                cycles.append(trail[trail.index(target):] + [target] if target in trail else [name, target])
            elif target not in state:
                visit(target, trail + [target])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def reaches(start: str, target: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name == target:
            return True
        if name not in seen:
            seen.add(name)
            todo.extend(GRAPH[name])
    return False


def test_renderers_never_import_the_store() -> None:
    report_modules = [name for name in MODULES if name.startswith("pipeline.report")]
    assert len(report_modules) >= 7
    assert [name for name in report_modules if "pipeline.store" in GRAPH[name]] == []
    assert [name for name in report_modules if reaches(name, "pipeline.evidence.store")] == []


def test_the_flow_keeps_evidence_only_through_the_callable_it_is_handed() -> None:
    assert not reaches("pipeline.flow", "pipeline.evidence.store")
    assert "pipeline.evidence.model" in GRAPH["pipeline.flow"]


PURE = ["pipeline.text", "pipeline.times", "pipeline.verify", "pipeline.linkstate", "pipeline.archive.choose",
        "pipeline.report.document", "pipeline.report.html_format", "pipeline.report.json_format",
        "pipeline.report.markdown_format", "pipeline.results", "pipeline.evidence.model"]


@pytest.mark.parametrize("name", PURE)
def test_pure_stages_do_no_network_or_storage(name: str) -> None:
    source = MODULES[name].read_text(encoding="utf-8")
    for edge in ("pipeline.http", "pipeline.store", "pipeline.jobs", "pipeline.cli"):
        assert not reaches(name, edge), f"{name} imports {edge}, directly or through another module"
    assert not re.search(r"^\s*(import|from) (requests|aiohttp|sqlite3|urllib3)\b", source, re.MULTILINE)


def test_the_cli_is_the_only_module_that_imports_click() -> None:
    users = [name for name, path in MODULES.items() if re.search(r"^\s*import click", path.read_text(), re.MULTILINE)]
    assert users == ["pipeline.cli"]


def test_code_cites_only_documents_in_the_repository() -> None:
    cited = set()
    for path in MODULES.values():
        text = path.read_text(encoding="utf-8")
        assert "DESIGN.md" not in text and "notes/wayback.md" not in text, path
        cited.update(re.findall(r"docs/[\w.-]+\.md", text))
    assert cited, "the code points at docs/"
    assert [doc for doc in sorted(cited) if not (ROOT / doc).is_file()] == []
