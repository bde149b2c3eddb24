"""The package's shape (issue 16): no import cycle between its parts, no module too long to read.

The imports are read with ast from every module of services/observatory, including the imports
inside functions (the ones that hide a cycle from Python itself) and under `if TYPE_CHECKING:`.
A node is a subpackage (observatory/ingest/ and everything in it) or a module directly under
observatory/ (observatory/poll.py)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import observatory

ROOT = Path(observatory.__file__).parent

# Cycles known when this test was written, each to be broken by issue 16 (item 2); empty this list
# as they go. An entry is the set of nodes of one strongly connected group.
KNOWN_CYCLES: list[frozenset[str]] = []  # none left; a new cycle fails the test

# Modules over MAX_LINES without a reason in their docstring, to be split by issue 16 (item 1).
# A module may stay long when its docstring says why, in a paragraph starting "Long because".
MAX_LINES = 300
KNOWN_LONG = {
    "bench/pipeline.py",  # the pipeline benchmark's scenarios
    "settings.py",  # every service's settings class (323 lines after issue 9's listeners and keys)
}


def module_name(path: Path) -> str:
    parts = ["observatory", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def node_of(module: str) -> str | None:
    """observatory.ingest.app -> ingest; observatory.poll -> poll; observatory itself -> None."""
    parts = module.split(".")
    if parts[0] != "observatory" or len(parts) < 2:
        return None
    return parts[1]


def imports_of(source: str, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement anywhere in a module's source."""
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base == "observatory":  # from observatory import poll, tracing: each name is a node
                out += [(f"observatory.{alias.name}", node.lineno) for alias in node.names]
            else:
                out.append((base, node.lineno))
    return out


def import_graph() -> dict[str, dict[str, list[str]]]:
    """node -> imported node -> ["file:line", ...] (edges between different nodes only)."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(ROOT.rglob("*.py")):
        src = node_of(module_name(path))
        if src is None:
            continue
        for target, line in imports_of(path.read_text(), module_name(path), path.name == "__init__.py"):
            dst = node_of(target)
            if dst is not None and dst != src:
                graph[src][dst].append(f"{path.relative_to(ROOT.parent)}:{line}")
    return graph


def strongly_connected(graph: dict[str, dict[str, list[str]]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of nodes that reach each other (a cycle per group of 2+)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            groups.append(group)

    nodes = set(graph) | {w for edges in graph.values() for w in edges}
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return [g for g in groups if len(g) > 1]


def describe(group: set[str], graph: dict[str, dict[str, list[str]]]) -> str:
    """The edges inside a group, each with the import lines that make it."""
    lines = [f"cycle between {sorted(group)}:"]
    for src in sorted(group):
        for dst in sorted(set(graph.get(src, {})) & group):
            lines.append(f"  {src} -> {dst}: {', '.join(graph[src][dst][:4])}")
    return "\n".join(lines)


def test_the_walk_sees_every_kind_of_import():
    """A check of the checker: imports in function bodies, under TYPE_CHECKING, relative ones."""
    source = """
import observatory.store.client
from observatory import poll, tracing
from . import endpoint
from ..events import Validator
if TYPE_CHECKING:
    from observatory.reports.forecast import ChartForecast
def late():
    from observatory.monitoring.rig import AlertingRig
"""
    found = {node_of(m) for m, _ in imports_of(source, "observatory.ingest.app", is_package=False)}
    assert found == {"store", "poll", "tracing", "ingest", "events", "reports", "monitoring"}
    assert import_graph()["ingest"]["events"], "the real tree: ingest/app.py builds the Validator"


def test_no_import_cycle_between_the_parts_of_the_package():
    graph = import_graph()
    groups = strongly_connected(graph)
    new = [g for g in groups if frozenset(g) not in KNOWN_CYCLES]
    assert not new, "import cycles (imports inside functions count):\n" + "\n".join(describe(g, graph) for g in new)
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in {frozenset(g) for g in groups}]
    assert not gone, f"cycles broken, remove them from KNOWN_CYCLES: {gone}"


def long_modules() -> dict[str, int]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        lines = len(path.read_text().splitlines())
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > MAX_LINES and "Long because" not in doc:
            out[str(path.relative_to(ROOT))] = lines
    return out


def test_no_module_over_300_lines_without_a_reason():
    long = long_modules()
    new = {name: n for name, n in long.items() if name not in KNOWN_LONG}
    assert not new, (
        f"modules over {MAX_LINES} lines: {new}; split them, or say why in the module docstring "
        "(a paragraph starting 'Long because')"
    )
    gone = sorted(KNOWN_LONG - set(long))
    assert not gone, f"no longer long, remove them from KNOWN_LONG: {gone}"


def test_the_layout_table_names_every_part_of_the_package():
    """docs/architecture.md's layout table (the rows between "## Layout" and "Beside it:") names each
    subpackage and each module directly under observatory/, and names nothing that is not there."""
    import re

    doc = (ROOT.parents[1] / "docs" / "architecture.md").read_text()
    table = doc.split("\n## Layout", 1)[1].split("\nBeside it:", 1)[0]
    named = set()
    for row in table.splitlines():
        if row.startswith("| `"):
            first_cell = row.split("|")[1]
            named |= {name.rstrip("/") for name in re.findall(r"`([^`]+)`", first_cell)}
    parts = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    parts |= {p.stem for p in ROOT.glob("*.py") if p.name != "__init__.py"}
    named = {n.removesuffix(".py") for n in named}
    assert parts - named == set(), "parts of the package docs/architecture.md's layout table does not name"
    assert named - parts == set(), "names in docs/architecture.md's layout table that are not in the package"
