"""The behaviour the migration is about: Ollama queues, vLLM batches.

Short timings (tens of ms) keep this fast; tolerances are generous because CI machines are shared.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from o2v.simulate.process import SimulatorProcess

TIMING = ["--ttft-ms", "60", "--itl-ms", "6", "--prompt-token-ms", "0", "--seed", "1"]
TOKENS = 25  # single request ~ 60 + 24 * 6 = 204 ms


async def _latencies(url: str, path: str, body: dict[str, object], n: int) -> list[float]:
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        await client.post(path, json=body)  # warm-up: loads the model

        async def one() -> float:
            t0 = time.perf_counter()
            resp = await client.post(path, json=body)
            assert resp.status_code == 200, resp.text
            return time.perf_counter() - t0

        single = min([await one() for _ in range(2)])
        together = sorted(await asyncio.gather(*(one() for _ in range(n))))
    return [single, *together]


def _ollama_latencies(num_parallel: int) -> list[float]:
    body = {"model": "llama3.1:8b", "prompt": "why is the sky blue", "stream": False,
            "options": {"num_predict": TOKENS}}  # fmt: skip
    with SimulatorProcess("ollama", args=[*TIMING, "--num-parallel", str(num_parallel)]) as sim:
        return asyncio.run(_latencies(sim.url, "/api/generate", body, 5))


def test_ollama_one_slot_serialises_five_requests() -> None:
    single, *five = _ollama_latencies(1)
    ratios = [t / single for t in five]
    for k, ratio in enumerate(ratios, start=1):
        assert k - 0.45 <= ratio <= k + 0.6, f"request {k} finished at {ratio:.2f}x the single latency: {ratios}"


def test_ollama_two_slots_halve_the_steps() -> None:
    single, *five = _ollama_latencies(2)
    ratios = [t / single for t in five]
    for expected, ratio in zip([1, 1, 2, 2, 3], ratios, strict=True):
        assert expected - 0.45 <= ratio <= expected + 0.6, f"ratios {ratios}, expected about [1, 1, 2, 2, 3]"


def test_vllm_batches_five_requests_within_1_3x() -> None:
    body = {"model": "meta-llama/Meta-Llama-3.1-8B-Instruct", "max_tokens": TOKENS,
            "messages": [{"role": "user", "content": "why is the sky blue"}]}  # fmt: skip
    with SimulatorProcess("vllm", args=[*TIMING, "--max-num-seqs", "16", "--response-tokens", "200"]) as sim:
        single, *five = asyncio.run(_latencies(sim.url, "/v1/chat/completions", body, 5))
    assert max(five) <= 1.3 * single + 0.05, f"single {single:.3f}s, five together {five}"


def test_vllm_waits_beyond_max_num_seqs() -> None:
    """With 2 sequences, 4 requests run as two batches: the last pair finishes about twice as late."""
    body = {"model": "meta-llama/Meta-Llama-3.1-8B-Instruct", "max_tokens": TOKENS,
            "messages": [{"role": "user", "content": "hello"}]}  # fmt: skip
    with SimulatorProcess("vllm", args=[*TIMING, "--max-num-seqs", "2", "--response-tokens", "200"]) as sim:
        single, *four = asyncio.run(_latencies(sim.url, "/v1/chat/completions", body, 4))
        metrics = httpx.get(sim.url + "/metrics").text
    # A sequence joining one step later pauses the running one for its prefill (as in vLLM): allow 1.8x.
    assert max(four[:2]) <= 1.8 * single + 0.05, f"single {single:.3f}s, four {four}"
    assert min(four[2:]) >= 1.6 * single, f"single {single:.3f}s, four {four}"
    assert 'vllm:request_queue_time_seconds_count{engine="0",model_name="meta-llama/Meta-Llama-3.1-8B-Instruct"} 7.0' \
        in metrics  # fmt: skip


@pytest.mark.parametrize("kind", ["ollama", "vllm"])
def test_streamed_token_timing_follows_flags(kind: str) -> None:
    args = ["--ttft-ms", "80", "--itl-ms", "20", "--prompt-token-ms", "0"]
    if kind == "ollama":
        path, body = "/api/chat", {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "x"}],
                                   "options": {"num_predict": 6}}  # fmt: skip
    else:
        path, body = "/v1/completions", {"prompt": "x", "max_tokens": 6, "stream": True}
    with SimulatorProcess(kind, args=args) as sim, httpx.Client(base_url=sim.url, timeout=10) as client:
        client.post(path, json={**body, "stream": False})
        t0 = time.perf_counter()
        stamps = []
        with client.stream("POST", path, json=body) as resp:
            for line in resp.iter_lines():
                if line.strip() and "[DONE]" not in line:
                    stamps.append(time.perf_counter() - t0)
    ttft = stamps[0]
    gaps = [b - a for a, b in zip(stamps[:5], stamps[1:6], strict=True)]
    assert 0.07 <= ttft <= 0.2, stamps
    assert 0.012 <= sum(gaps) / len(gaps) <= 0.04, gaps
