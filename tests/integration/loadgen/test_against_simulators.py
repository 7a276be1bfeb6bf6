"""The load generator and `o2v compare` against the project's own simulators, as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from o2v.cli import app
from o2v.loadgen import Workload, run_loadtest_sync
from o2v.simulate.process import SimulatorProcess

FAST = ["--ttft-ms", "10", "--itl-ms", "3", "--prompt-token-ms", "0"]


@pytest.fixture(scope="module")
def ollama() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("ollama", args=[*FAST, "--num-parallel", "1", "--model", "llama3.1:8b"]) as sim:
        yield sim


@pytest.fixture(scope="module")
def vllm() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("vllm", args=[*FAST, "--served-model-name", "llama3.1:8b", "--max-num-seqs", "16"]) as sim:
        yield sim


def quick(url: str, **fields: object) -> Workload:
    base: dict[str, object] = {"url": url, "model": "llama3.1:8b", "concurrency": [1, 4], "requests_per_level": 8,
                               "max_tokens": 8, "warmup_requests": 1}  # fmt: skip
    return Workload.model_validate(base | fields)


@pytest.mark.parametrize("api", ["openai", "ollama"])
def test_ollama_serialises_requests_and_latency_climbs(ollama: SimulatorProcess, api: str) -> None:
    result = run_loadtest_sync(quick(ollama.url, api=api, backend="ollama"))
    one, four = result.levels
    assert one.failed == 0
    assert four.failed == 0
    assert one.output_tokens_total == 8 * 8
    assert one.token_counts_from == "usage"
    # one slot: at concurrency 4 a request waits for about three others before its first token
    assert (four.ttft_ms.median or 0) > 2.5 * (one.e2e_ms.median or 0)
    assert four.request_throughput_rps == pytest.approx(one.request_throughput_rps, rel=0.5)


def test_vllm_batches_and_latency_stays_flat(vllm: SimulatorProcess) -> None:
    result = run_loadtest_sync(quick(vllm.url))
    one, four = result.levels
    assert one.failed == 0
    assert four.failed == 0
    assert (four.e2e_ms.median or 0) < 2 * (one.e2e_ms.median or 0)
    assert four.request_throughput_rps > 2 * one.request_throughput_rps


def test_injected_faults_become_error_kinds(vllm: SimulatorProcess) -> None:
    def faults(body: dict[str, object]) -> None:
        req = urllib.request.Request(vllm.url + "/_sim/faults", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        urllib.request.urlopen(req, timeout=5).read()

    faults({"error_rate": 0.5, "error_status": 503})
    try:
        level = run_loadtest_sync(quick(vllm.url, concurrency=[4], requests_per_level=40, preflight=False)).levels[0]
    finally:
        faults({"reset": True})
    assert set(level.errors_by_kind) == {"http_503"}
    assert 0.2 < level.error_rate < 0.8
    assert level.completed + level.failed == 40


def test_wrong_api_against_vllm_is_one_line(vllm: SimulatorProcess) -> None:
    result = CliRunner().invoke(app, ["loadtest", vllm.url, "-m", "llama3.1:8b", "--api", "ollama", "--no-store"])
    assert result.exit_code == 1
    assert "does not serve the Ollama native (/api/*) API" in result.output
    assert "use --api openai" in result.output


def test_loadtest_cli_writes_json_and_samples(
    ollama: SimulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("O2V__STORE__URL", f"sqlite:///{tmp_path / 'o2v.db'}")
    out = tmp_path / "lt.json"
    args = ["loadtest", ollama.url, "-m", "llama3.1:8b", "--api", "ollama", "--concurrency", "2",
            "--requests", "6", "--max-tokens", "4", "--json", str(out), "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "too few for a meaningful p95" in result.output
    data = json.loads(out.read_text())
    assert data["levels"][0]["completed"] == 6
    assert data["interrupted"] is False
    from o2v.store import Store

    stored = Store(f"sqlite:///{tmp_path / 'o2v.db'}").samples(run_id=data["run_id"])
    assert len(stored) == 6
    assert {s.backend for s in stored} == {"ollama"}


def test_ctrl_c_stops_cleanly_and_keeps_what_was_measured(ollama: SimulatorProcess, tmp_path: Path) -> None:
    out = tmp_path / "lt.json"
    cmd = [sys.executable, "-c", "from o2v.cli import main; main()", "loadtest", ollama.url, "-m", "llama3.1:8b",
           "--api", "ollama", "--concurrency", "2", "--requests", "500", "--max-tokens", "4", "--no-store",
           "--no-progress", "--json", str(out)]  # fmt: skip
    served_before = len(ollama.stdout_lines)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "O2V__STORE__URL": f"sqlite:///{tmp_path / 'x.db'}"})  # fmt: skip
    # Ctrl-C once the level is running (the simulator's access log shows its requests), however slow the start.
    deadline = time.monotonic() + 60
    while len(ollama.stdout_lines) < served_before + 6 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    data = json.loads(out.read_text())
    assert data["interrupted"] is True
    level = data["levels"][0]
    assert level["interrupted"] is True
    assert 0 < level["completed"] < 500


def test_compare_simulate_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report"
    args = ["compare", "--simulate", "--concurrency", "1,4", "--requests", "8", "--out", str(out), "--no-store",
            "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "vLLM p95 latency" in result.output
    assert "report:" in result.output
    for name in ("comparison.json", "comparison.md", "latency.png", "throughput.png", "ttft.png"):
        assert (out / name).stat().st_size > 500, name
    data = json.loads((out / "comparison.json").read_text())
    (ollama1, ollama4), (vllm1, vllm4) = data["ollama"]["levels"], data["vllm"]["levels"]
    assert ollama4["concurrency"] == vllm4["concurrency"] == 4
    # The guide's picture: Ollama's one slot queues, so its latency climbs with concurrency more than vLLM's.
    # Ratios within one run, so a busy machine's overhead (which slows both alike) does not decide.
    p95 = lambda level: level["e2e_ms"]["p95"]  # noqa: E731
    assert p95(ollama4) > p95(vllm4)
    assert p95(ollama4) / p95(ollama1) > p95(vllm4) / p95(vllm1)
    assert "![Latency vs concurrency](latency.png)" in (out / "comparison.md").read_text()
