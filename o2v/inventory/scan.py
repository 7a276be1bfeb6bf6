"""Find every place in a source tree that talks to Ollama, and say whether it uses the native or the
OpenAI-compatible API (the first needs code changes to move to vLLM, the second only a URL and model name).

Scanned: Python, JS/TS, shell, YAML, .env files, Dockerfiles and notebooks' code cells. Commented-out lines,
Markdown and vendored directories are skipped. A bare path such as ``/api/chat`` or ``/v1/chat/completions``
only counts in a file that also names Ollama (an ``:11434`` URL, the word ``ollama``, an ``OLLAMA_``
variable),
so a web app's own ``/api/chat`` route is not mistaken for an Ollama client.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from o2v.inventory.types import Api, IntegrationPoint
from o2v.redact import redact

SKIP_DIRS = {
    ".git",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    "dist",
    "build",
    ".mypy_cache",
    ".tox",
    ".pytest_cache",
    ".ruff_cache",
    "site-packages",
    ".ipynb_checkpoints",
}
CODE_SUFFIXES = {
    ".py",
    ".js",
    ".mjs",
    ".cjs",
    ".ts",
    ".tsx",
    ".jsx",
    ".sh",
    ".bash",
    ".zsh",
    ".yml",
    ".yaml",
    ".env",
    ".ipynb",
    ".dockerfile",
}
_SLASH_COMMENT = {".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx"}

_OLLAMA_URL = re.compile(
    r"(?:https?://)?(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\]|host\.docker\.internal|[A-Za-z0-9_.-]+)"
    r":11434(?!\d)(?P<path>/[\w/.{}-]*)?"
)
_NATIVE_PATH = re.compile(
    r"/api/(?:generate|chat|embed|embeddings|tags|show|ps|pull|push|create|copy|delete|version)"
    r"(?![\w-])"
)
_OPENAI_PATH = re.compile(r"/v1/(?:chat/completions|completions|embeddings|models)(?![\w-])")
_BASE_URL_KEY = re.compile(r"\b(?:base_url|baseURL|baseUrl|api_base|OPENAI_BASE_URL|OPENAI_API_BASE)\b")
_OLLAMA_SDK = re.compile(
    r"^\s*(?:import\s+ollama\b|from\s+ollama(?:\.\w+)*\s+import\b)"
    r"|\bfrom\s+['\"]ollama(?:/browser)?['\"]|\brequire\(\s*['\"]ollama(?:/browser)?['\"]\s*\)"
    r"|\bollama\.(?:chat|generate|embed|embeddings|pull|list|show|ps|create|Client|AsyncClient)\s*\("
    r"|\bnew\s+Ollama\s*\("
)
_FILE_MARKER = re.compile(r":11434(?!\d)|\bollama\b|\bOLLAMA_", re.IGNORECASE)


def _is_scanned(path: Path) -> bool:
    name = path.name
    if name == "Dockerfile" or name.startswith("Dockerfile."):
        return True
    if name == ".env" or name.startswith(".env."):
        return True
    return path.suffix.lower() in CODE_SUFFIXES


def _is_comment(line: str, suffix: str) -> bool:
    text = line.lstrip()
    if suffix in _SLASH_COMMENT:
        return text.startswith(("//", "/*", "*"))
    return text.startswith("#")


def classify_line(line: str, file_mentions_ollama: bool) -> tuple[str, Api] | None:
    """(kind, api) for one source line, or None. The most specific reading wins."""
    url = _OLLAMA_URL.search(line)
    url_path = (url.group("path") or "") if url else ""
    if url and _BASE_URL_KEY.search(line):
        return "openai-sdk", "openai"
    if _OLLAMA_SDK.search(line):
        return "ollama-sdk", "native"
    if _NATIVE_PATH.search(line) and (url or file_mentions_ollama):
        return "native-endpoint", "native"
    if _OPENAI_PATH.search(line) and (url or file_mentions_ollama):
        return "openai-endpoint", "openai"
    if url:
        return "ollama-url", ("openai" if url_path.startswith("/v1") else "native")
    return None


def _lines_of(path: Path) -> Iterator[tuple[int | None, list[str]]]:
    """(cell index or None, lines) blocks of a file; notebooks yield one block per code cell."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() != ".ipynb":
        yield None, text.splitlines()
        return
    try:
        cells = json.loads(text).get("cells", [])
    except (json.JSONDecodeError, AttributeError):
        return
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        joined = "".join(source) if isinstance(source, list) else str(source)
        yield index, joined.splitlines()


def scan_file(path: Path, root: Path) -> list[IntegrationPoint]:
    suffix = ".py" if path.suffix.lower() == ".ipynb" else path.suffix.lower()
    try:
        blocks = list(_lines_of(path))
    except OSError:
        return []
    mentions = any(
        _FILE_MARKER.search(line) for _, lines in blocks for line in lines if not _is_comment(line, suffix)
    )
    points: list[IntegrationPoint] = []
    for cell, lines in blocks:
        for number, line in enumerate(lines, start=1):
            if _is_comment(line, suffix):
                continue
            found = classify_line(line, mentions)
            if found is None:
                continue
            kind, api = found
            evidence = redact(line.strip())  # the line may carry a password or token: never keep it
            points.append(
                IntegrationPoint(
                    root=str(root.resolve()),
                    file=path.relative_to(root).as_posix(),
                    line=number,
                    cell=cell,
                    kind=kind,
                    api=api,
                    evidence=evidence if len(evidence) <= 160 else evidence[:157] + "...",
                )
            )
    return points


def iter_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if any(part in SKIP_DIRS for part in path.relative_to(root).parts[:-1]):
            continue
        if path.is_file() and _is_scanned(path):
            yield path


def scan_tree(root: Path) -> list[IntegrationPoint]:
    """Every integration point under ``root`` (a directory or one file), in path and line order."""
    root = Path(root)
    base = root.parent if root.is_file() else root
    points: list[IntegrationPoint] = []
    for path in iter_files(root):
        points.extend(scan_file(path, base))
    return points
