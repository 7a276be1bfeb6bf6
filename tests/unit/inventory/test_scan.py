"""The sample tree holds known integration points and decoys; every point is found, nothing else."""

from __future__ import annotations

from pathlib import Path

from o2v.inventory import classify_line, scan_tree

SAMPLE = Path(__file__).parents[2] / "data" / "sample_repo"

EXPECTED = {
    (".env", 1, None, "ollama-url", "native"),
    ("Dockerfile", 2, None, "ollama-url", "native"),
    ("app/chat_native.py", 3, None, "ollama-sdk", "native"),
    ("app/chat_native.py", 5, None, "ollama-url", "native"),
    ("app/chat_native.py", 9, None, "ollama-sdk", "native"),
    ("app/chat_native.py", 16, None, "native-endpoint", "native"),
    ("app/openai_client.py", 4, None, "openai-sdk", "openai"),
    ("deploy/docker-compose.yml", 5, None, "openai-sdk", "openai"),
    ("notebooks/explore.ipynb", 2, 1, "ollama-sdk", "native"),
    ("notebooks/explore.ipynb", 3, 1, "native-endpoint", "native"),
    ("scripts/smoke.sh", 2, None, "native-endpoint", "native"),
    ("scripts/smoke.sh", 3, None, "openai-endpoint", "openai"),
    ("web/src/api.ts", 1, None, "ollama-sdk", "native"),
    ("web/src/api.ts", 3, None, "ollama-sdk", "native"),
    ("web/src/api.ts", 7, None, "ollama-sdk", "native"),
}


def test_sample_tree_exactly() -> None:
    found = {(p.file, p.line, p.cell, p.kind, p.api) for p in scan_tree(SAMPLE)}
    assert found - EXPECTED == set(), "decoys matched"
    assert EXPECTED - found == set(), "integration points missed"


def test_evidence_is_the_source_line() -> None:
    points = {(p.file, p.line): p for p in scan_tree(SAMPLE)}
    assert points[("app/openai_client.py", 4)].evidence.startswith('client = OpenAI(base_url="http://gpu-box:11434/v1"')


def test_single_file_root() -> None:
    points = scan_tree(SAMPLE / "scripts" / "smoke.sh")
    assert [(p.file, p.line) for p in points] == [("smoke.sh", 2), ("smoke.sh", 3)]


def test_classify_line_decoys() -> None:
    assert classify_line('client = OpenAI(base_url="http://localhost:8000/v1")', True) is None
    assert classify_line('fetch("/api/chat")', False) is None
    assert classify_line('fetch("/api/chat")', True) == ("native-endpoint", "native")
    assert classify_line("port = 114340", True) is None
    assert classify_line("x = my_ollama.chat()", True) is None
    assert classify_line("base = 'http://llm:11434/v1'", False) == ("ollama-url", "openai")
