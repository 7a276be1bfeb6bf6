"""The vLLM simulator's paged KV cache: start-up refusal, admission by blocks, preemption under pressure.

Real servers on loopback; the comparisons are ratios between two simulators measured in the same run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from o2v.servers import OpenAIClient
from o2v.servers.metrics import VLLMMetrics
from o2v.simulate.process import SimulatorProcess, free_port

REFUSAL = "ValueError: To serve at least one request with the models's max seq len ({}), ("


def _start(args: list[str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "o2v.simulate", "vllm", "--port", str(free_port()), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_a_context_the_cache_cannot_hold_refuses_to_start_with_vllms_message() -> None:
    # Llama 3.1 8B at 16 bits on a 24 GiB card: 131072 tokens need 16 GiB of KV cache, 5.1 GiB are left.
    done = _start(["--gpu-memory-gib", "24", "--gpu-memory-utilization", "0.9", "--max-model-len", "131072"])
    assert done.returncode == 1
    assert REFUSAL.format(131072) + "16.00 GiB KV cache is needed" in done.stderr
    assert "available KV cache memory (5.10 GiB)" in done.stderr
    assert "the estimated maximum model length is 41776." in done.stderr
    assert "Engine core initialization failed" in done.stderr
    assert "Starting vLLM API server" not in done.stdout


def test_the_same_context_starts_on_a_card_that_holds_it() -> None:
    port = free_port()
    args = ["--gpu-memory-gib", "80", "--gpu-memory-utilization", "0.9", "--max-model-len", "131072"]
    with SimulatorProcess("vllm", port=port, args=args) as sim:
        stats = httpx.get(sim.url + "/_sim/stats").json()
    # (80 * 0.9 - 16.5) GiB / (16 tokens * 128 KiB) per block
    assert stats["kv_blocks_total"] == int((80 * 0.9 - 16.5) * 1024**3) // (16 * 131072)
    assert any("Maximum concurrency for 131,072 tokens per request: 3.47x" in line for line in sim.stdout_lines)


def test_a_token_capacity_too_small_for_max_model_len_refuses_too() -> None:
    done = _start(["--kv-cache-tokens", "4096", "--max-model-len", "8192"])
    assert done.returncode == 1
    assert REFUSAL.format(8192) + "1.00 GiB KV cache is needed" in done.stderr
    assert "the estimated maximum model length is 4096." in done.stderr


def _completion(url: str, prompt_words: int, max_tokens: int, stream: bool = False) -> None:
    body = {"prompt": "word " * prompt_words, "max_tokens": max_tokens, "stream": stream}
    httpx.post(url + "/v1/completions", json=body, timeout=60).raise_for_status()


def test_admission_waits_for_free_blocks() -> None:
    # 64 blocks of 16 tokens. A 299-word prompt is 300 tokens = 19 blocks; with 8 output tokens a request
    # never needs more than 20 blocks, so three run together and the fourth waits for blocks, not for a slot.
    args = ["--kv-cache-tokens", "1024", "--max-model-len", "1024", "--ttft-ms", "5", "--itl-ms", "40",
            "--response-tokens", "100"]  # fmt: skip
    with SimulatorProcess("vllm", args=args) as sim, ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: _completion(sim.url, 299, 8), range(6)))
        stats = httpx.get(sim.url + "/_sim/stats").json()
        metrics = OpenAIClient(sim.url).metrics()
    assert stats["max_running"] == 3
    assert stats["kv_blocks_free"] == stats["kv_blocks_total"] == 64
    assert metrics.num_preemptions_total == 0
    assert metrics.request_success_total["length"] == 6


def _mean_ttft(metrics: VLLMMetrics) -> float:
    assert metrics.ttft_seconds is not None
    assert metrics.ttft_seconds.count
    return metrics.ttft_seconds.sum / metrics.ttft_seconds.count


def test_an_over_committed_cache_preempts_and_raises_ttft() -> None:
    # Eight streams of 200 prompt and 200 output tokens need 8 * 25 = 200 blocks at the end; the small cache
    # has 64: a few are admitted, grow, and the newest is pushed back to the head of the queue to recompute.
    timing = ["--ttft-ms", "5", "--itl-ms", "2", "--prompt-token-ms", "0.01", "--max-model-len", "1024",
              "--response-tokens", "1000"]  # fmt: skip
    results: dict[str, VLLMMetrics] = {}
    for name, cache in (("ample", []), ("small", ["--kv-cache-tokens", "1024"])):
        with SimulatorProcess("vllm", args=timing + cache) as sim, ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _, url=sim.url: _completion(url, 199, 200, stream=True), range(8)))
            results[name] = OpenAIClient(sim.url).metrics()
    ample, small = results["ample"], results["small"]
    assert ample.num_preemptions_total == 0
    assert small.num_preemptions_total is not None
    assert small.num_preemptions_total > 0
    assert small.request_success_total["length"] == ample.request_success_total["length"] == 8
    assert small.generation_tokens_total == ample.generation_tokens_total == 8 * 200
    # Recomputed prompts are prefilled again: more prompt tokens for the same requests.
    assert small.prompt_tokens_total is not None
    assert ample.prompt_tokens_total is not None
    assert small.prompt_tokens_total > ample.prompt_tokens_total
    assert _mean_ttft(small) > 3 * _mean_ttft(ample)


def test_a_client_that_goes_away_gives_its_blocks_back() -> None:
    args = ["--kv-cache-tokens", "1024", "--max-model-len", "1024", "--ttft-ms", "5", "--itl-ms", "5",
            "--response-tokens", "500"]  # fmt: skip
    with SimulatorProcess("vllm", args=args) as sim:
        httpx.post(sim.url + "/_sim/faults", json={"disconnect_after_chunks": 3}).raise_for_status()
        body = {"prompt": "word " * 299, "max_tokens": 400, "stream": True}
        url = sim.url + "/v1/completions"
        with pytest.raises(httpx.RemoteProtocolError), httpx.stream("POST", url, json=body) as resp:
            resp.read()
        deadline = time.monotonic() + 10
        while (stats := httpx.get(sim.url + "/_sim/stats").json())["running"] and time.monotonic() < deadline:
            time.sleep(0.05)
    assert stats["running"] == 0
    assert stats["kv_blocks_free"] == stats["kv_blocks_total"] == 64
