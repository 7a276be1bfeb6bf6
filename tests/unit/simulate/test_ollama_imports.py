"""The Ollama simulator's modules import one way: no module reaches back up (issue 12 clean-up)."""

from __future__ import annotations

import ast
from pathlib import Path

import o2v.simulate

PACKAGE = Path(o2v.simulate.__file__).parent


def _imports(path: Path) -> set[str]:
    """Sibling modules a file imports, at top level, lazily or under TYPE_CHECKING alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("o2v.simulate."):
            found.add(node.module.rsplit(".", 1)[1])
    return found - {path.stem}


def test_ollama_modules_form_no_import_cycle() -> None:
    graph = {p.stem: _imports(p) for p in PACKAGE.glob("ollama*.py")}
    assert len(graph) >= 8
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        for dep in sorted(graph.get(module, ())):
            assert dep not in path, "import cycle: " + " -> ".join((*path, dep))
            if dep not in done:
                visit(dep, (*path, dep))
        done.add(module)

    for module in sorted(graph):
        visit(module, (module,))
    assert "ollama" not in set().union(*graph.values())  # the app module sits on top
