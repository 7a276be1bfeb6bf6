"""Simulator settings and helpers shared by the conformance tests (fixtures live in conftest.py).

Token timing is set to 1 ms so the whole folder runs in seconds; fidelity of *timing* is tested elsewhere
(issue 3 item 5), here it is the wire format that matters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

FAST = ["--ttft-ms", "1", "--itl-ms", "1", "--prompt-token-ms", "0", "--response-tokens", "8"]
OLLAMA_MODEL = "llama3.1:8b"
VLLM_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct"
VLLM_MAX_LEN = 2048
API_KEY = "conformance-key"


@dataclass(frozen=True)
class Target:
    """One OpenAI-compatible surface: vLLM's, or Ollama's /v1."""

    name: str
    url: str
    model: str
    max_model_len: int | None


@contextlib.contextmanager
def faults(url: str, **settings: Any) -> Iterator[None]:
    """Switch faults on a running simulator for the duration of a block, then reset them."""
    httpx.post(f"{url}/_sim/faults", json=settings, timeout=5).raise_for_status()
    try:
        yield
    finally:
        httpx.post(f"{url}/_sim/faults", json={"reset": True}, timeout=5).raise_for_status()
