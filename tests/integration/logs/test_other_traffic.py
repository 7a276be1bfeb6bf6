"""Other traffic on Ollama during a real comparison, counted from the Ollama simulator's own access log."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from o2v.config import Settings
from o2v.loadgen.compare import run_comparison
from o2v.servers.traffic import ollama_traffic
from o2v.simulate.process import SimulatorProcess
from tasks.validate import requests_sent

pytestmark = pytest.mark.timeout(180)
TEAM_REQUESTS = 5
CHAT = {"model": "llama3.1:8b", "stream": False, "messages": [{"role": "user", "content": "hi"}]}


def team(url: str, log: Path, started: threading.Event, done: list[int]) -> None:
    """The team's requests, sent once o2v's warm-up shows in the log, so they queue among o2v's own (one slot)."""
    deadline = time.monotonic() + 60
    while '"/v1/chat/completions"' not in (log.read_text() if log.exists() else ""):
        if time.monotonic() > deadline:
            return
        time.sleep(0.02)
    started.set()
    with httpx.Client(timeout=60) as client:
        for _ in range(TEAM_REQUESTS):
            done.append(client.post(f"{url}/api/chat", json=CHAT).status_code)


def test_the_teams_requests_during_the_ollama_window_are_counted(tmp_path: Path) -> None:
    timing = ["--ttft-ms", "60", "--itl-ms", "10"]
    with (
        SimulatorProcess("ollama", args=[*timing, "--num-parallel", "1"], log_dir=tmp_path / "logs") as ollama,
        SimulatorProcess("vllm", args=timing) as vllm,
    ):
        log = tmp_path / "logs" / f"ollama-{ollama.port}.out.log"
        settings = Settings.model_validate(
            {
                "workdir": str(tmp_path / "work"),
                "ollama": {"url": ollama.url, "log_source": "file", "log_file": str(log)},
                "vllm": {"port": vllm.port},
                "loadtest": {"concurrency": [2], "requests_per_level": 30, "max_tokens": 8, "warmup_requests": 1,
                             "model": "llama3.1:8b"},
            }
        )  # fmt: skip
        started, done = threading.Event(), []
        sender = threading.Thread(target=team, args=(ollama.url, log, started, done), daemon=True)
        sender.start()
        report = run_comparison(
            settings, out_dir=tmp_path / "cmp", vllm_url=vllm.url, vllm_model="meta-llama/Meta-Llama-3.1-8B-Instruct"
        )
        sender.join(timeout=60)
    assert started.is_set()
    assert done == [200] * TEAM_REQUESTS
    result = report.ollama
    traffic = ollama_traffic(
        settings, start=result.started, end=result.finished or result.started, own_requests=requests_sent(result)
    )
    assert traffic.own_requests == 31  # 30 measured + 1 warm-up
    assert traffic.other_requests == TEAM_REQUESTS
    assert f"{TEAM_REQUESTS} requests" in traffic.sentence()
    assert "besides o2v's 31 (log: file)" in traffic.sentence()
