"""The diagnosis against the Ollama simulator in a subprocess: 1, 2 and 4 real slots, and its real logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from o2v.config import Settings
from o2v.diagnose import diagnose
from o2v.servers.logs import parse_lines, server_config
from o2v.simulate.process import SimulatorProcess
from o2v.store import Store

# 12 tokens at 10 ms plus 30 ms prefill: ~0.15 s per request alone, so a sweep 1..8 takes a few seconds.
SIM_ARGS = ["--ttft-ms", "30", "--itl-ms", "10", "--response-tokens", "12"]


def _settings(url: str) -> Settings:
    return Settings(
        ollama={"url": url, "timeout_s": 30},
        diagnose={"probe_concurrency": [1, 2, 4, 8], "probe_requests_per_level": 8, "probe_max_requests": 64,
                  "probe_max_duration_s": 60, "probe_max_tokens": 12},
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("slots", [1, 2, 4])
def test_probe_finds_the_simulators_slots(slots: int, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'o2v.db'}")
    # Independent slots, so the knee sits exactly at the slot count (shared compute: the test below).
    args = [*SIM_ARGS, "--num-parallel", str(slots), "--slot-speedup", "ideal"]
    with SimulatorProcess("ollama", args=args) as sim:
        result = diagnose(_settings(sim.url), store=store, probe=True)
        log_lines = [*sim.stderr_lines, *sim.stdout_lines]
    assert result.probe is not None
    assert result.probe.ok, result.probe.error
    assert result.effective_parallelism_slots == slots, result.levels
    assert result.fit is not None
    assert result.fit.r_squared > 0.9
    assert result.probe.requests_sent <= 64
    assert len(store.samples(source="probe")) >= result.probe.requests_sent
    # The simulator writes Ollama's real log formats: its server config states the slot count.
    assert server_config(parse_lines(log_lines))["OLLAMA_NUM_PARALLEL"] == str(slots)
    assert (result.verdict == "migrate") == (slots == 1)  # 2 slots queue 1/3 at 3 users: below 50 %


@pytest.mark.timeout(120)
def test_four_slots_sharing_one_runner_measure_as_fewer() -> None:
    """Slots share one llama-server's compute (calibrated from llama.cpp): 4 slots serve like about 3."""
    with SimulatorProcess("ollama", args=[*SIM_ARGS, "--num-parallel", "4"]) as sim:
        result = diagnose(_settings(sim.url), probe=True)
    assert result.fit is not None
    assert 2.5 <= result.fit.effective_parallelism <= 3.7, result.levels


@pytest.mark.timeout(120)
def test_the_simulators_own_log_diagnoses_without_a_probe() -> None:
    with SimulatorProcess("ollama", args=[*SIM_ARGS, "--num-parallel", "1"]) as sim:
        probe_result = diagnose(_settings(sim.url), probe=True)
        lines = [*sim.stderr_lines, *sim.stdout_lines]
    assert probe_result.probe is not None
    assert probe_result.probe.ok
    from_log = diagnose(_settings("http://127.0.0.1:9"), log_records=parse_lines(lines), probe=False)
    assert from_log.log is not None
    assert from_log.log.format_recognised
    assert from_log.log.unparsed_lines == 0, from_log.log.unparsed_sample
    assert from_log.log.inference_requests >= probe_result.probe.requests_sent
    assert from_log.configured_num_parallel == 1
    assert from_log.log.max_in_flight >= 4
