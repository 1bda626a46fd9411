"""The shape docs/architecture.md describes, checked on the code: imports go one way, the
pure stages do no I/O, the renderers never read the store, the code cites only documents
that are in the repository."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "pipeline"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node that runs: an `if TYPE_CHECKING:` block names a type for the checker
    and loads nothing, so it is left out."""
    found: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def imported_names(path: Path) -> set[str]:
    """Every module name this file imports when it runs, at the top or inside a function (a
    late import still makes a cycle), with each `from m import n` also as `m.n`."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imports_of(path: Path) -> set[str]:
    """The pipeline modules this file imports."""
    return {name for name in imported_names(path) if name in MODULES}


IMPORTED = {name: imported_names(path) for name, path in MODULES.items()}
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


def closure(start: str) -> set[str]:
    """Every pipeline module `start` loads, itself included."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(GRAPH[name])
    return seen


# Libraries that open connections. waybackpy is one (its client owns a requests session),
# though citewatch uses only its query writer and line reader.
HTTP_LIBRARIES = ("requests", "aiohttp", "urllib3", "httpx", "http.client", "urllib.request")
NETWORK_LIBRARIES = (*HTTP_LIBRARIES, "waybackpy")
THE_EDGE = {"pipeline.http", "pipeline.guard"}


def libraries_reached(start: str, libraries: tuple[str, ...]) -> dict[str, set[str]]:
    """For each module `start` loads, the `libraries` it imports itself."""
    found = {}
    for name in closure(start):
        hits = {lib for lib in libraries for imported in IMPORTED[name]
                if imported == lib or imported.startswith(lib + ".")}
        if hits:
            found[name] = hits
    return found


def test_only_the_edge_imports_an_http_library() -> None:
    importers = {name for name in MODULES
                 if any(imported == lib or imported.startswith(lib + ".")
                        for imported in IMPORTED[name] for lib in HTTP_LIBRARIES)}
    assert "pipeline.http" in importers  # the check reads what it means to
    assert importers <= THE_EDGE, f"outside the HTTP edge: {sorted(importers - THE_EDGE)}"


STORES = ["pipeline.store", "pipeline.evidence.store"]


@pytest.mark.parametrize("name", STORES)
def test_the_stores_reach_no_http_client(name: str) -> None:
    """All the way down: not through a model, not through an archive package."""
    assert closure(name) & (THE_EDGE | {"pipeline.liveness", "pipeline.flow", "pipeline.jobs"}) == set()
    assert [m for m in closure(name) if m.startswith("pipeline.archive.") and m != "pipeline.archive.model"] == []
    assert libraries_reached(name, NETWORK_LIBRARIES) == {}


REPORTS = sorted(name for name in MODULES if name == "pipeline.report" or name.startswith("pipeline.report."))
NOT_FOR_RENDERERS = THE_EDGE | {"pipeline.liveness", "pipeline.archive.client", "pipeline.archive.many",
                                "pipeline.store", "pipeline.evidence.store", "pipeline.jobs", "pipeline.flow"}


@pytest.mark.parametrize("name", REPORTS)
def test_renderers_reach_no_network_and_no_store(name: str) -> None:
    assert len(REPORTS) >= 8
    assert closure(name) & NOT_FOR_RENDERERS == set(), f"{name} loads {sorted(closure(name) & NOT_FOR_RENDERERS)}"
    assert libraries_reached(name, (*NETWORK_LIBRARIES, "sqlite3")) == {}


def test_stored_and_rendered_values_live_with_the_results_not_the_algorithm() -> None:
    assert not reaches("pipeline.results", "pipeline.verify") and not reaches("pipeline.results", "pipeline.support")
    assert "pipeline.verify" not in closure("pipeline.store")
    assert "pipeline.results.QuoteMatch" in IMPORTED["pipeline.verify"]


def test_importing_the_store_and_a_renderer_loads_no_http_client() -> None:
    """The graph above is read from the source; this is the interpreter's word for it,
    third-party imports included."""
    clients = ["requests", "aiohttp", "urllib3", "httpx", "waybackpy", *sorted(THE_EDGE)]
    probe = ("import sys, pipeline.store, pipeline.evidence.store, pipeline.report.text, pipeline.report.html_format; "
             f"print(sorted(n for n in {clients!r} if n in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"


def test_the_flow_keeps_evidence_only_through_the_callable_it_is_handed() -> None:
    assert not reaches("pipeline.flow", "pipeline.evidence.store")
    assert "pipeline.evidence.model" in GRAPH["pipeline.flow"]


def test_nothing_is_patched_at_import() -> None:
    """No module assigns, at its top level, to an attribute of something it imported (a
    monkey-patch of another module, class or function)."""
    patched = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {(alias.asname or alias.name).split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                base = target
                while isinstance(base, ast.Attribute):
                    base = base.value
                if target is not base and isinstance(base, ast.Name) and base.id in imported:
                    patched.append(f"{name}: {ast.unparse(target)}")
    assert patched == []


PURE = ["pipeline.text", "pipeline.times", "pipeline.verify", "pipeline.support", "pipeline.linkstate",
        "pipeline.archive.choose", "pipeline.report.document", "pipeline.report.html_format",
        "pipeline.report.json_format", "pipeline.report.markdown_format", "pipeline.report.text",
        "pipeline.report.ci_formats", "pipeline.results", "pipeline.evidence.model"]


@pytest.mark.parametrize("name", PURE)
def test_pure_stages_do_no_network_or_storage(name: str) -> None:
    for edge in (*THE_EDGE, "pipeline.liveness", "pipeline.store", "pipeline.evidence.store", "pipeline.jobs",
                 "pipeline.cli"):
        assert not reaches(name, edge), f"{name} imports {edge}, directly or through another module"
    assert libraries_reached(name, (*NETWORK_LIBRARIES, "sqlite3")) == {}


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
