"""Imports go one way: flows -> tasks -> o2v and checks, with no module of those four packages in an import circle.

Read from the source with ``ast``: imports at module level and inside functions both count (a function-level
import back is still a circle, only a later one); imports under ``if TYPE_CHECKING:`` do not, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = ("o2v", "checks", "tasks", "flows")

# Circles that are known and left for now, each as the set of its modules. Empty: none at the time of writing.
# Cycles in o2v/gateway/, o2v/decommission/ or o2v/cutover/rehearsal.py (edited elsewhere) would be named here
# with a comment, to be removed once fixed there.
KNOWN_CYCLES: list[frozenset[str]] = []

# The modules of o2v/ that start flow runs: the CLI commands that run a flow in this process and the rehearsals
# that drive one against the simulators. By role they sit above flows/; they live in o2v/ because the `o2v`
# command does. They may import flows/ (nothing else from above), and only inside the function that runs it.
FLOW_STARTERS = frozenset(
    {
        "o2v.cli.flows_cmd",
        "o2v.cli.decommission_cmd",
        "o2v.rehearse",
        "o2v.cutover.rehearsal",
        "o2v.decommission.rehearsal",
        "o2v.decommission.rehearse_end",
    }
)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def _known(name: str) -> str | None:
    """The project module ``name`` loads: itself, or the nearest package above it (``from pkg import Name``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> dict[str, str]:
    """The project modules ``module`` imports, each with where: "module" or "function" (the first seen)."""
    path = MODULES[module]
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: dict[str, str] = {}

    def visit(node: ast.AST, where: str) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child, where)
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            where = "function"
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(here[: len(here) - node.level + 1] if node.level else [])
            source = ".".join(p for p in (base, node.module or "") if p)
            # `from pkg import sub` loads the module pkg.sub; `from pkg.mod import Name` loads pkg.mod.
            names = [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]
        for name in names:
            target = _known(name)
            if target and target != module:
                found.setdefault(target, where)
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(ast.parse(path.read_text(encoding="utf-8")), "module")
    return found


GRAPH = {module: imports(module) for module in MODULES}


def cycles() -> list[frozenset[str]]:
    """Strongly connected groups of two or more modules (Tarjan): every module in one reaches every other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[frozenset[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = {stack.pop()}
            while node not in group:
                group.add(stack.pop())
            if len(group) > 1:
                groups.append(frozenset(group))

    for node in sorted(GRAPH):
        if node not in index:
            connect(node)
    return groups


def layer(module: str) -> str:
    return module.split(".")[0]


def test_the_graph_is_read() -> None:
    assert {"o2v.config", "checks.runner", "tasks.validate", "flows.migrate"} <= set(MODULES)
    assert GRAPH["flows.migrate"], "a flow imports its tasks"
    assert GRAPH["o2v.cli.flows_cmd"].get("flows.migrate") == "function"


def test_no_module_is_in_an_import_circle() -> None:
    found = cycles()
    unknown = [sorted(group) for group in found if group not in KNOWN_CYCLES]
    assert unknown == [], "import circles (move the piece both sides need into a module below them)"
    stale = [sorted(group) for group in KNOWN_CYCLES if group not in found]
    assert stale == [], "these circles are gone: remove them from KNOWN_CYCLES"


def test_the_library_never_imports_tasks_or_flows() -> None:
    upward = {
        (module, target, where)
        for module, targets in GRAPH.items()
        for target, where in targets.items()
        if layer(module) in {"o2v", "checks"} and layer(target) in {"tasks", "flows"}
    }
    starters = {(m, t, w) for m, t, w in upward if m in FLOW_STARTERS and layer(t) == "flows" and w == "function"}
    assert upward - starters == set()
    assert {m for m, _, _ in starters} == FLOW_STARTERS, "a flow starter no longer imports a flow: drop it"


def test_tasks_never_import_flows() -> None:
    upward = {(m, t) for m, targets in GRAPH.items() for t in targets if layer(m) == "tasks" and layer(t) == "flows"}
    assert upward == set()
