"""The Ollama simulator's scheduler by version: queue skipping, reloads, VRAM default context, shared slots.

Each test runs a simulator subprocess on loopback.  Waits (a model load of a second or so) only order
events; the one rate figure is checked against a wide band around the calibrated value.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from o2v.diagnose.logstats import analyse_log
from o2v.servers.logs import parse_lines
from o2v.simulate.ollama_sched import SLOT_SPEEDUP
from o2v.simulate.process import SimulatorProcess

MODEL, OTHER = "llama3.1:8b", "qwen2.5:7b"
FAST = ["--ttft-ms", "5", "--itl-ms", "1", "--prompt-token-ms", "0", "--response-tokens", "4"]


def _generate(url: str, model: str, **options: int) -> httpx.Response:
    body = {"model": model, "prompt": "x", "stream": False, "options": options}
    return httpx.post(url + "/api/generate", json=body, timeout=30)


def _during_other_models_load(version: str) -> tuple[list[tuple[int, float]], list[str]]:
    """Six requests for a loaded model while another model loads (2 s), OLLAMA_MAX_QUEUE=2.

    Returns the six (status, seconds taken) and the order in which everything finished.
    """
    args = [*FAST, "--max-queue", "2", "--load-ms", "2000", "--model", MODEL, "--model", OTHER,
            "--version-string", version]  # fmt: skip
    finished: list[str] = []
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    with SimulatorProcess("ollama", args=args) as sim:
        assert _generate(sim.url, MODEL).status_code == 200  # loaded before the burst

        def send(model: str) -> None:
            t0 = time.perf_counter()
            status = _generate(sim.url, model).status_code
            with lock:
                finished.append(model)
                if model == MODEL:
                    results.append((status, time.perf_counter() - t0))

        other = threading.Thread(target=send, args=(OTHER,))
        other.start()
        deadline = time.monotonic() + 10
        while sum("starting llama" in line for line in sim.stderr_lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # until the other model's load is under way and holds the scheduler loop
        burst = [threading.Thread(target=send, args=(MODEL,)) for _ in range(6)]
        for t in burst:
            t.start()
        for t in [*burst, other]:
            t.join()
    return sorted(results), finished


def test_current_version_serves_a_loaded_model_past_the_queue() -> None:
    results, finished = _during_other_models_load("0.33.0")
    assert [status for status, _ in results] == [200] * 6  # never the 503
    assert finished == [MODEL] * 6 + [OTHER]  # and never behind the other model's load


def test_version_0_11_queues_everything_behind_a_load() -> None:
    results, _ = _during_other_models_load("0.11")
    assert [status for status, _ in results] == [200, 200, 503, 503, 503, 503]  # 2 fit the queue, 4 are "busy"
    # The two that fit waited for the rest of the other model's 2 s load (sent as it began).
    assert all(seconds >= 1.0 for status, seconds in results if status == 200), results


def test_a_different_num_ctx_reloads_the_model() -> None:
    with SimulatorProcess("ollama", args=[*FAST, "--load-ms", "50"]) as sim:
        for options in ({}, {"num_ctx": 8192}, {"num_ctx": 8192}, {}, {"num_ctx": 2048}):
            assert _generate(sim.url, MODEL, **options).status_code == 200
        stats = httpx.get(sim.url + "/_sim/stats").json()
        ps = httpx.get(sim.url + "/api/ps").json()["models"]
    # default 4096 -> 8192 (reload) -> 8192 (kept) -> default again (reload) -> 2048 (reload)
    assert stats["model_loads"] == 4
    assert ps[0]["context_length"] == 2048
    starts = [line for line in sim.stderr_lines if 'msg="starting llama-server"' in line]
    assert [s.split(" -c ")[1].split()[0] for s in starts] == ["4096", "8192", "4096", "2048"]
    summary = analyse_log(parse_lines([*sim.stderr_lines, *sim.stdout_lines]), timeout_s=30)
    assert summary.model_loads == 4  # the diagnosis sees the thrash


@pytest.mark.parametrize(
    ("flags", "context", "logged"),
    [
        ([], 4096, 'total_vram="0 B" default_num_ctx=4096'),
        (["--vram-gib", "24"], 32768, 'total_vram="24.0 GiB" default_num_ctx=32768'),
        (["--vram-gib", "80"], 131072, 'total_vram="80.0 GiB" default_num_ctx=262144'),  # capped at trained
        (["--vram-gib", "80", "--version-string", "0.15.4"], 4096, None),  # before the tiers
        (["--vram-gib", "80", "--num-ctx", "8192"], 8192, "default_num_ctx=262144"),  # OLLAMA_CONTEXT_LENGTH
    ],
)
def test_default_context_follows_vram(flags: list[str], context: int, logged: str | None) -> None:
    with SimulatorProcess("ollama", args=[*FAST, *flags]) as sim:
        _generate(sim.url, MODEL)
        ps = httpx.get(sim.url + "/api/ps").json()["models"][0]
    assert ps["context_length"] == context
    vram_lines = [line for line in sim.stderr_lines if 'msg="vram-based default context"' in line]
    if logged is None:
        assert vram_lines == []
    else:
        assert len(vram_lines) == 1
        assert logged in vram_lines[0]


async def _eval_rates(url: str, streams: int) -> list[float]:
    """Tokens per second of each of ``streams`` simultaneous requests, from Ollama's own eval metrics."""
    body = {"model": MODEL, "prompt": "x", "stream": False, "options": {"num_predict": 60}}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await client.post("/api/generate", json=body)  # load
        answers = await asyncio.gather(*(client.post("/api/generate", json=body) for _ in range(streams)))
    return [a.json()["eval_count"] / (a.json()["eval_duration"] / 1e9) for a in answers]


@pytest.mark.parametrize(("speedup", "expected"), [("measured", SLOT_SPEEDUP[3]), ("ideal", 4.0)])
def test_four_slots_share_one_runners_compute(speedup: str, expected: float) -> None:
    args = ["--ttft-ms", "0", "--itl-ms", "20", "--prompt-token-ms", "0", "--response-tokens", "200",
            "--num-parallel", "4", "--slot-speedup", speedup]  # fmt: skip
    with SimulatorProcess("ollama", args=args) as sim:
        (alone,) = asyncio.run(_eval_rates(sim.url, 1))
        together = asyncio.run(_eval_rates(sim.url, 4))
    aggregate = sum(together) / alone
    assert expected * 0.88 <= aggregate <= expected * 1.08, f"4 slots gave {aggregate:.2f}x one slot's rate"


@pytest.mark.parametrize(
    ("version", "start", "started"),
    [("0.33.0", "starting llama-server", "llama-server started in"),
     ("0.11.4", "starting llama server", "llama runner started in")],
)  # fmt: skip
def test_load_lines_match_the_version_and_diagnose_to_the_loads(version: str, start: str, started: str) -> None:
    with SimulatorProcess("ollama", args=[*FAST, "--version-string", version, "--model", MODEL,
                                          "--model", OTHER, "--load-ms", "100"]) as sim:  # fmt: skip
        for model in (MODEL, OTHER, MODEL):
            _generate(sim.url, model)
        loads = httpx.get(sim.url + "/_sim/stats").json()["model_loads"]
    assert loads == 2
    assert sum(f'msg="{start}"' in line for line in sim.stderr_lines) == 2
    written = sum(f'msg="{started}' in line for line in sim.stderr_lines)
    assert written == (4 if version == "0.33.0" else 2)
    summary = analyse_log(parse_lines([*sim.stderr_lines, *sim.stdout_lines]), timeout_s=30)
    assert summary.model_loads == 2
    assert summary.unparsed_lines == 0
