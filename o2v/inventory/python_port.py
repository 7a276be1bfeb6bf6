"""Port the one Ollama SDK idiom whose OpenAI equivalent is mechanical, in Python source, by its syntax tree.

``reply = ollama.chat(model=M, messages=X)`` read only as ``reply["message"]["content"]`` becomes
``reply = _vllm.chat.completions.create(model=M, messages=X)`` read as ``reply.choices[0].message.content``,
with ``_vllm = OpenAI(base_url=..., api_key=os.environ.get("VLLM_API_KEY", "EMPTY"))`` after the imports (the key
comes from the environment, never from the patch). Any other use of the result, streaming, options, or another
``ollama.*`` call blocks that call, with the reason; ``import ollama`` goes only when nothing else uses it.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field

CLIENT = "_vllm"
_ALLOWED_KEYWORDS = {"model", "messages"}


@dataclass
class Ported:
    source: str
    changes: list[tuple[int, str]] = field(default_factory=list)  # (original line, what changed)
    blockers: dict[int, str] = field(default_factory=dict)  # original line -> why it was left alone
    inserted_after: int = 0  # original line after which the client lines were inserted
    inserted: int = 0


def port_ollama_chat_calls(source: str, *, base_url: str, renames: dict[str, str]) -> Ported:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return Ported(source, blockers={exc.lineno or 1: f"not valid Python ({exc.msg}); port it by hand"})
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    edits: list[tuple[ast.AST, str]] = []
    result = Ported(source)
    ported_calls: set[ast.AST] = set()
    for node in ast.walk(tree):
        if not _is_ollama_chat_assign(node):
            continue
        assert isinstance(node, ast.Assign)
        reason = _why_not(node, parents)
        if reason:
            result.blockers[node.lineno] = reason
            continue
        call = node.value
        assert isinstance(call, ast.Call)
        edits.append((call.func, f"{CLIENT}.chat.completions.create"))
        for keyword in call.keywords:
            value = keyword.value
            if keyword.arg == "model" and isinstance(value, ast.Constant) and value.value in renames:
                edits.append((value, json.dumps(renames[value.value])))
        for read in _reads(node, parents):
            edits.append((read, f"{node.targets[0].id}.choices[0].message.content"))  # type: ignore[attr-defined]
        result.changes.append((node.lineno, "ollama.chat -> OpenAI chat.completions.create"))
        ported_calls.add(call.func)
    if not edits:
        return result
    other_uses = [
        n for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "ollama"
        and n not in ported_calls
    ]
    import_node = next(
        (n for n in tree.body if isinstance(n, ast.Import) and [a.name for a in n.names] == ["ollama"]
         and n.names[0].asname is None),
        None,
    )
    if import_node is not None and not other_uses:
        edits.append((import_node, "from openai import OpenAI"))
        result.changes.append((import_node.lineno, "import ollama -> from openai import OpenAI"))
        openai_import = ""
    else:
        openai_import = "from openai import OpenAI\n"
    result.source = _apply(source, edits)
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    after = max((n.end_lineno or n.lineno) for n in imports) if imports else 0
    has_os = any(isinstance(n, ast.Import) and any(a.name == "os" and a.asname is None for a in n.names)
                 for n in imports)
    added = openai_import + ("" if has_os else "import os\n") + (
        f'\n{CLIENT} = OpenAI(base_url="{base_url}/v1", api_key=os.environ.get("VLLM_API_KEY", "EMPTY"))\n'
    )
    lines = result.source.splitlines(keepends=True)
    result.source = "".join(lines[:after] + [added] + lines[after:])
    result.inserted_after, result.inserted = after, added.count("\n")
    return result


def _is_ollama_chat_assign(node: ast.AST) -> bool:
    if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Call):
        return False
    func = node.value.func
    return isinstance(func, ast.Attribute) and func.attr == "chat" and isinstance(func.value, ast.Name) and (
        func.value.id == "ollama"
    )


def _why_not(node: ast.Assign, parents: dict[ast.AST, ast.AST]) -> str | None:
    call = node.value
    assert isinstance(call, ast.Call)
    if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
        return "the reply is unpacked or stored in an attribute; port it by hand"
    if call.args or {k.arg for k in call.keywords} != _ALLOWED_KEYWORDS:
        extra = sorted(str(k.arg) for k in call.keywords if k.arg not in _ALLOWED_KEYWORDS)
        return f"arguments beyond model= and messages= ({', '.join(extra) or 'positional'}); port it by hand"
    name = node.targets[0].id
    scope = _scope(node, parents)
    loads = [n for n in ast.walk(scope) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)]
    if len(loads) != len(_reads(node, parents)):
        return f"`{name}` is used other than as {name}['message']['content']; port it by hand"
    return None


def _scope(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.AST:
    while node in parents and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Module):
        node = parents[node]
    return node


def _reads(node: ast.Assign, parents: dict[ast.AST, ast.AST]) -> list[ast.Subscript]:
    """Every ``name["message"]["content"]`` in the assignment's scope (the outer subscript nodes)."""
    name = node.targets[0].id  # type: ignore[attr-defined]
    found = []
    for inner in ast.walk(_scope(node, parents)):
        if (
            isinstance(inner, ast.Subscript) and isinstance(inner.value, ast.Name) and inner.value.id == name
            and _key(inner) == "message"
        ):
            outer = parents.get(inner)
            if isinstance(outer, ast.Subscript) and outer.value is inner and _key(outer) == "content":
                found.append(outer)
    return found


def _key(node: ast.Subscript) -> object:
    return node.slice.value if isinstance(node.slice, ast.Constant) else None


def _apply(source: str, edits: list[tuple[ast.AST, str]]) -> str:
    """Replace each node's exact source span (ast offsets are UTF-8 byte columns), last first."""
    data = source.encode("utf-8")
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line.encode("utf-8")))
    spans: list[tuple[int, int, bytes]] = []
    for node, text in edits:
        start = starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
        end = starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
        spans.append((start, end, text.encode("utf-8")))
    for start, end, replacement in sorted(spans, reverse=True):
        data = data[:start] + replacement + data[end:]
    return data.decode("utf-8")
