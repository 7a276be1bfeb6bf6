"""A real engine for the slow tier: llama-cpp-python's OpenAI-compatible server on a generated tiny GGUF.

Missing llama_cpp skips with the install command on a laptop and fails under CI=true (like
``tests/conftest.need``, re-stated here because this folder is a package and must not import the
top-level ``conftest`` module by name).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support.engines import free_port, need

from .tiny_gguf import write_tiny_llama

INSTALL = "pip install -e '.[engine]' (builds llama.cpp from source, about 10 minutes on 2 cores)"
ALIAS = "tiny-llama"
N_CTX = 512


@dataclass(frozen=True)
class Engine:
    url: str
    model: str
    n_ctx: int
    log: Path


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    try:
        import gguf  # noqa: F401
        import llama_cpp  # noqa: F401
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        need("llama-cpp-python's server", f"{INSTALL} ({exc})")
    work = tmp_path_factory.mktemp("engine")
    model = write_tiny_llama(work / "tiny-llama.gguf", context_length=N_CTX)
    port = free_port()
    log = work / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", ALIAS,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX), "--n_threads", "1",
        # by default a new request cuts the running one short; queue them instead, as Ollama's one slot does
        "--interrupt_requests", "False",
    ]  # fmt: skip
    with open(log, "w", encoding="utf-8") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 120 s: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield Engine(url, ALIAS, N_CTX, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
