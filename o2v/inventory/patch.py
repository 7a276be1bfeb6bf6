"""Client patches: finish the move in the clients' own code, as one unified diff per scanned repository.

Optional for the team: the gateway keeps every client working unchanged. A patch only makes changes that are
mechanical, so that reviewing it is reading, not re-deriving:

- an OpenAI-API base URL that points at Ollama (``host:11434``, with or without ``/v1``) points at the new base URL;
- a model tag whose vLLM served name differs is renamed, in the files the patch touches anyway;
- a Python call ``x = ollama.chat(model=..., messages=...)`` whose result is only read as
  ``x["message"]["content"]`` becomes the OpenAI SDK's ``chat.completions.create`` and
  ``x.choices[0].message.content``.

Everything else that talks to Ollama (raw HTTP to ``/api/*``, other SDK calls, JavaScript, notebooks, the address
native clients read) is listed for a person with the reason, never guessed at. The source files are read again
from disk (the inventory's evidence is redacted and shortened); a file that changed since the scan is reported,
not patched.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, Field

from o2v.inventory.python_port import port_ollama_chat_calls
from o2v.inventory.types import IntegrationPoint, Inventory

_OLLAMA_ORIGIN = re.compile(
    r"(?P<scheme>https?://)?(?P<host>localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\]|host\.docker\.internal|[A-Za-z0-9_.-]+)"
    r":11434(?!\d)(?P<v1>/v1)?"
)
_MANUAL_REASONS = {
    "native-endpoint": "calls Ollama's native HTTP API; the answer's shape differs from OpenAI's, so port it by "
    "hand (or leave it on the gateway, which translates it)",
    "ollama-sdk": "uses the Ollama SDK in a form that is not a plain `x = ollama.chat(model=, messages=)` read as "
    "`x['message']['content']`; port it by hand (or leave it on the gateway)",
    "ollama-url": "Ollama's address as native clients read it; keep it (the gateway serves it) until every "
    "native caller that reads it is ported",
}


class ManualChange(BaseModel):
    """A place a person must look at, and why the patch left it alone."""

    file: str
    line: int
    kind: str
    reason: str


class RepoPatch(BaseModel):
    """The patch for one scanned root."""

    root: str
    diff: str = Field(default="", description="Unified diff, paths relative to the root (git apply -p1).")
    files_changed: list[str] = Field(default_factory=list)
    changes: list[str] = Field(default_factory=list, description="One line per mechanical change, file:line first.")
    manual: list[ManualChange] = Field(default_factory=list)


def patch_clients(
    inventory: Inventory, *, base_url: str, served_names: dict[str, str], key_required: bool = False
) -> list[RepoPatch]:
    """One patch per scanned root of the inventory's integration points (roots in scan order).

    ``key_required``: vLLM wants an API key, which a patch never writes: each retargeted client is also listed
    for a person to give it the key (``VLLM_API_KEY`` for the ported calls).
    """
    base_url = base_url.rstrip("/").removesuffix("/v1")
    renames = {tag: name for tag, name in served_names.items() if name and name != tag}
    by_root: dict[str, dict[str, list[IntegrationPoint]]] = defaultdict(lambda: defaultdict(list))
    for point in inventory.integration_points:
        by_root[point.root][point.file].append(point)
    patches = []
    for root, files in by_root.items():
        patch = RepoPatch(root=root)
        for file, points in sorted(files.items()):
            _patch_file(patch, file, points, base_url, renames, key_required)
        patches.append(patch)
    return patches


def _patch_file(
    patch: RepoPatch,
    file: str,
    points: list[IntegrationPoint],
    base_url: str,
    renames: dict[str, str],
    key_required: bool,
) -> None:
    def manual(point: IntegrationPoint, reason: str) -> None:
        patch.manual.append(ManualChange(file=file, line=point.line, kind=point.kind, reason=reason))

    path = Path(patch.root) / file
    if not patch.root or not path.is_file():
        for point in points:
            manual(point, f"not found at {path}: scan again, or patch by hand")
        return
    if path.suffix.lower() == ".ipynb":
        for point in points:
            manual(point, f"notebook cell {point.cell}: edit the cell by hand (" + _reason(point) + ")")
        return
    before = path.read_text(encoding="utf-8")
    lines = before.splitlines(keepends=True)
    changed: list[str] = []
    python_points = [p for p in points if p.kind == "ollama-sdk" and path.suffix == ".py"]
    inserted_after, inserted = len(lines), 0
    if python_points:
        ported = port_ollama_chat_calls("".join(lines), base_url=base_url, renames=renames)
        lines = ported.source.splitlines(keepends=True)
        changed += [f"{file}:{line}: {what}" for line, what in ported.changes]
        converted = {line for line, _ in ported.changes}
        inserted_after, inserted = ported.inserted_after, ported.inserted
        for point in python_points:
            if point.line not in converted:
                manual(point, ported.blockers.get(point.line, _reason(point)))
    for point in points:
        if point in python_points:
            continue
        index = point.line - 1 + (inserted if point.line > inserted_after else 0)
        if point.api != "openai" or not 0 <= index < len(lines):
            manual(point, _reason(point))
            continue
        new_line = _OLLAMA_ORIGIN.sub(lambda m: _retarget(m, base_url), lines[index])
        if new_line == lines[index]:
            manual(point, "no Ollama URL on this line (the address comes from elsewhere): point that at "
                   f"{base_url}/v1")
            continue
        lines[index] = new_line
        changed.append(f"{file}:{point.line}: base URL -> {base_url}/v1")
        if key_required:
            manual(point, "now calls vLLM, which requires an API key: give this client the key (never in code)")
    if changed and renames and not any(m.file == file for m in patch.manual):
        # Only where nothing still talks to Ollama: a tag renamed under a native call left for a person would
        # send Ollama a name it does not know. (The ported calls rename their own model argument.)
        for number, line in enumerate(lines):
            renamed = _rename_models(line, renames)
            if renamed != line:
                lines[number] = renamed
                changed.append(f"{file}:{number + 1}: model name -> vLLM's served name")
    after = "".join(lines)
    if after == before:
        return
    patch.diff += "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{file}", f"b/{file}"
        )
    )
    patch.files_changed.append(file)
    patch.changes += changed


def _retarget(match: re.Match[str], base_url: str) -> str:
    """Ollama's origin becomes the new one; a path after it (/v1/chat/completions) is kept."""
    if match.group("scheme"):
        return base_url + (match.group("v1") or "")
    return base_url.split("://", 1)[1] + (match.group("v1") or "")


def _rename_models(line: str, renames: dict[str, str]) -> str:
    for tag, name in renames.items():
        quoted = re.compile(rf"(?P<q>[\"']){re.escape(tag)}(?P=q)")
        line = quoted.sub(lambda m, n=name: f"{m['q']}{n}{m['q']}", line)  # type: ignore[misc]
        line = re.sub(rf"(?<=[:=] ){re.escape(tag)}(?=\s*$)|(?<==){re.escape(tag)}(?=\s*$)", name, line)
    return line


def _reason(point: IntegrationPoint) -> str:
    return _MANUAL_REASONS.get(point.kind, "not a mechanical change; port it by hand")


def write_patches(patches: list[RepoPatch], out_dir: Path) -> list[Path]:
    """``<root name>.patch`` for each root with changes, and MANUAL.md listing what a person must do."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    used: set[str] = set()
    lines = ["# Client changes o2v left for a person", ""]
    for patch in patches:
        name = _unique(Path(patch.root).name or "root", used)
        if patch.diff:
            target = out_dir / f"{name}.patch"
            target.write_text(patch.diff, encoding="utf-8")
            written.append(target)
        lines += [f"## {name} (`{patch.root}`)", ""]
        if patch.diff:
            lines += [f"Apply with `git -C {patch.root} apply {out_dir.resolve() / (name + '.patch')}`.", ""]
            lines += [f"- changed {change}" for change in patch.changes] + [""]
        if patch.manual:
            lines += ["| file | line | kind | what to do |", "|---|---|---|---|"]
            lines += [f"| {m.file} | {m.line} | {m.kind} | {m.reason} |" for m in patch.manual]
        else:
            lines.append("Nothing left for a person.")
        lines.append("")
    manual = out_dir / "MANUAL.md"
    manual.write_text("\n".join(lines), encoding="utf-8")
    return [*written, manual]


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}-{n}", n + 1
    used.add(candidate)
    return candidate
