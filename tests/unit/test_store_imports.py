"""The store's modules import each other one way: store -> store_writer -> store_schema (and store_lock beside)."""

from __future__ import annotations

import ast
from pathlib import Path

O2V = Path(__file__).parents[2] / "o2v"
MODULES = ("store", "store_writer", "store_schema", "store_lock")


def runtime_imports(module: str) -> set[str]:
    """o2v modules imported when ``module`` is imported (``if TYPE_CHECKING:`` blocks do not count)."""
    tree = ast.parse((O2V / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.module and inner.module.startswith("o2v."):
                found.add(inner.module.removeprefix("o2v."))
            elif isinstance(inner, ast.Import):
                found.update(a.name.removeprefix("o2v.") for a in inner.names if a.name.startswith("o2v."))
    return found & set(MODULES)


def test_the_store_modules_import_each_other_one_way() -> None:
    graph = {module: runtime_imports(module) for module in MODULES}
    assert graph == {
        "store": {"store_schema", "store_writer"},
        "store_writer": {"store_schema"},
        "store_schema": set(),
        "store_lock": {"store_schema"},
    }
    writer_source = (O2V / "store_writer.py").read_text(encoding="utf-8")
    assert "o2v.store import" not in writer_source  # not even for type checking: it needs only SampleSink
