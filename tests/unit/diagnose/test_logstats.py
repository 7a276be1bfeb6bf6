"""Log analysis: in-flight reconstruction, timeouts, aborts, reloads, and constant memory on big logs."""

from __future__ import annotations

import random
import tracemalloc
from datetime import datetime
from pathlib import Path

import pytest
from _diag_synth import fifo, gin_lines

from o2v.config import Settings
from o2v.diagnose import diagnose
from o2v.diagnose.fit import fit_parallelism
from o2v.diagnose.logstats import analyse_log
from o2v.servers.logs import parse_lines, read_log

T0 = datetime(2025, 3, 4, 10, 0, 0)  # a Tuesday, in working hours
DATA = Path(__file__).parents[2] / "data" / "ollama_logs"


def test_sequential_requests_run_alone() -> None:
    reqs = [(i * 10.0, i * 10.0 + 4.0) for i in range(10)]
    summary = analyse_log(parse_lines(gin_lines(reqs, T0)), timeout_s=30)
    assert summary.inference_requests == 10
    assert summary.max_in_flight == 1
    assert [p.concurrency for p in summary.levels] == [1]
    assert summary.isolated_p50_ms == pytest.approx(4000, rel=0.04)
    assert summary.queue_s_total == 0


def test_burst_of_five_on_one_slot() -> None:
    reqs = fifo([0.0] * 5, 4.0, 1)
    summary = analyse_log(parse_lines(gin_lines(reqs, T0)), timeout_s=15)
    assert summary.max_in_flight == 5
    assert summary.timeouts == 2  # 16 s and 20 s
    assert summary.peak.requests == 5
    assert summary.off_hours.requests == 0


@pytest.mark.parametrize("k", [1, 2, 4])
def test_levels_from_a_busy_log_fit_the_slot_count(k: int) -> None:
    rng = random.Random(k)
    t, arrivals = 0.0, []
    while t < 4 * 3600:
        t += rng.expovariate(0.85 * k / 6.0)  # 85 % utilisation of k slots, 6 s per request
        arrivals.append(t)
    summary = analyse_log(parse_lines(gin_lines(fifo(arrivals, 6.0, k), T0)), timeout_s=300)
    fit = fit_parallelism([p for p in summary.levels if p.requests >= 20])
    assert fit is not None
    assert abs(fit.effective_parallelism - k) <= 0.6 * k
    assert summary.isolated_p50_ms == pytest.approx(6000, rel=0.1)
    assert summary.queue_s_total is not None
    assert summary.queue_s_total > 0


def test_peak_and_off_hours_split() -> None:
    day = gin_lines([(0.0, 40.0)], datetime(2025, 3, 4, 11, 0))
    night = gin_lines([(0.0, 3.0)], datetime(2025, 3, 4, 23, 0))
    weekend = gin_lines([(0.0, 3.0)], datetime(2025, 3, 8, 11, 0))
    summary = analyse_log(parse_lines(day + night + weekend), timeout_s=30)
    assert (summary.peak.requests, summary.peak.timeouts) == (1, 1)
    assert (summary.off_hours.requests, summary.off_hours.timeouts) == (2, 0)
    assert summary.peak.hours_observed == 1
    assert summary.off_hours.hours_observed == 2


def test_rejections_do_not_count_as_latency() -> None:
    lines = [
        '[GIN] 2025/03/04 - 10:00:01 | 503 |  1.1ms | 10.0.0.1 | POST "/api/chat"',
        '[GIN] 2025/03/04 - 10:00:02 | 404 |  1.1ms | 10.0.0.1 | POST "/api/chat"',
        '[GIN] 2025/03/04 - 10:00:03 | 200 |  1.1ms | 10.0.0.1 | GET "/api/tags"',
        '[GIN] 2025/03/04 - 10:00:40 | 499 | 30.0s | 10.0.0.1 | POST "/api/chat"',
    ]
    summary = analyse_log(parse_lines(lines), timeout_s=30)
    assert summary.inference_requests == 1
    assert summary.aborts == 1
    assert summary.status_counts == {"503": 1, "404": 1, "200": 1, "499": 1}


def test_keep_alive_reloads_are_counted() -> None:
    config = ('time=2025-03-04T08:00:00.000Z level=INFO source=routes.go:1 msg="server config" '
              'env="map[OLLAMA_KEEP_ALIVE:5m0s OLLAMA_NUM_PARALLEL:1]"')
    lines = [config]
    for i in range(6):  # a request every 20 minutes, each after the model expired
        minute = 20 * i
        hh, mm = 9 + minute // 60, minute % 60
        lines.append(f'time=2025-03-04T{hh:02d}:{mm:02d}:08.000Z level=INFO source=server.go:1 '
                     'msg="llama runner started in 8.00 seconds"')
        lines.append(f'[GIN] 2025/03/04 - {hh:02d}:{mm:02d}:10 | 200 | 10.0s | 10.0.0.1 | POST "/api/generate"')
    summary = analyse_log(parse_lines(lines), timeout_s=30)
    assert summary.model_loads == 6
    assert summary.reloads_after_idle == 5  # the first load follows no request
    assert summary.keep_alive_s == 300
    assert summary.configured_num_parallel == 1


def test_foreign_format_is_reported() -> None:
    summary = analyse_log(read_log(DATA / "nginx_access.log"), timeout_s=30)
    assert not summary.format_recognised
    assert summary.unparsed_lines == 4
    assert summary.unparsed_sample[0].startswith("line 1: 192.168.1.10")


def _write_log(path: Path, lines: int) -> None:
    rng = random.Random(7)
    with path.open("w") as out:
        t = 0.0
        for i in range(lines):
            t += rng.expovariate(0.5)
            if i % 10 == 0:
                out.write("llama_model_loader: - kv  12: noise\n")
            stamp = datetime.fromtimestamp(1741082400 + t).strftime("%Y/%m/%d - %H:%M:%S")
            latency = f"{rng.uniform(0.5, 20):.6f}s"
            out.write(f'[GIN] {stamp} | 200 | {latency} |      10.0.0.{i % 50} | POST     "/api/chat"\n')


def _peak_bytes(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    summary = analyse_log(read_log(path), timeout_s=30)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, summary.inference_requests


def test_memory_does_not_grow_with_the_log(tmp_path: Path) -> None:
    small, big = tmp_path / "small.log", tmp_path / "big.log"
    _write_log(small, 2_000)
    _write_log(big, 20_000)
    small_peak, small_n = _peak_bytes(small)
    big_peak, big_n = _peak_bytes(big)
    assert (small_n, big_n) == (2_000, 20_000)
    # Ten times the lines, same working set: the window of in-flight requests, not the file.
    assert big_peak < small_peak * 1.5 + 256 * 1024
    assert big_peak < 4 * 1024 * 1024


def test_current_ollama_log_counts_loads_and_load_times() -> None:
    """Ollama 0.33 (llama-server lines, two started-in lines per load) as `o2v diagnose --log` reads it."""
    summary = analyse_log(read_log(DATA / "docker_v0_33.log"), timeout_s=30)
    assert summary.model_loads == 3
    assert summary.model_load_s_total == pytest.approx(6.45 + 36.45 + 4.02)
    assert summary.reloads_after_idle == 1  # the 10:40 load follows 55 idle minutes (keep-alive 5m)
    assert summary.configured_num_parallel == 2
    assert summary.unparsed_lines == 0
    assert summary.aborts == 1
    assert summary.inference_requests == 12  # the 499 counts, the 503 does not


def test_diagnosis_of_a_current_ollama_log_reports_its_loads() -> None:
    result = diagnose(Settings(ollama={"url": "http://127.0.0.1:9", "timeout_s": 30}),
                      log_records=read_log(DATA / "docker_v0_33.log"), probe=False)  # fmt: skip
    assert result.log is not None
    assert result.log.format_recognised
    assert (result.log.model_loads, result.log.model_load_s_total) == (3, pytest.approx(46.92))
