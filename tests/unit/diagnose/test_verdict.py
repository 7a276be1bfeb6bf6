"""diagnose() end to end without a network: stored probe samples and logs lead to the right verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _diag_synth import closed_loop_samples, fifo, gin_lines

from o2v.config import Settings
from o2v.diagnose import diagnose
from o2v.servers.logs import parse_lines
from o2v.store import Store

DATA = Path(__file__).parents[2] / "data" / "ollama_logs"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'o2v.db'}")


def _recent() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


@pytest.mark.parametrize(("k", "verdict", "problem"), [(1, "migrate", "concurrency"), (2, "stay", "none"),
                                                        (4, "stay", "none")])
def test_stored_baseline_probes(store: Store, k: int, verdict: str, problem: str) -> None:
    store.add_samples(closed_loop_samples([1, 2, 4, 8], 3.0, k, t0=_recent()))
    result = diagnose(Settings(), store=store, probe=False)
    assert result.effective_parallelism_slots == k
    assert result.service_ms == pytest.approx(3000, rel=0.02)
    assert (result.verdict, result.problem) == (verdict, problem)
    assert result.queue_share == pytest.approx(max(0.0, 1 - k / 3), abs=0.01)
    assert result.timeout_crossing_concurrency is not None
    assert any("store" in s for s in result.evidence_sources)


def test_slow_alone_is_hardware_not_concurrency(store: Store) -> None:
    store.add_samples(closed_loop_samples([1, 2, 4], 12.0, 1, t0=_recent()))
    result = diagnose(Settings(), store=store, probe=False)
    assert result.verdict == "stay"
    assert result.problem == "hardware_or_model_size"
    assert result.findings[0].kind == "slow_at_concurrency_1"
    assert "vLLM would not fix this" in result.reasons[0]
    assert "queueing is present too" in result.reasons[1]


def test_keep_alive_reloads_are_configuration() -> None:
    lines = ['time=2025-03-04T08:00:00.000Z level=INFO source=routes.go:1 msg="server config" '
             'env="map[OLLAMA_KEEP_ALIVE:5m0s OLLAMA_NUM_PARALLEL:1]"']
    for i in range(8):
        minute = 20 * i
        hh, mm = 9 + minute // 60, minute % 60
        lines.append(f'time=2025-03-04T{hh:02d}:{mm:02d}:08.000Z level=INFO source=server.go:1 '
                     'msg="llama runner started in 8.00 seconds"')
        lines.append(f'[GIN] 2025/03/04 - {hh:02d}:{mm:02d}:10 | 200 | 10.0s | 10.0.0.1 | POST "/api/generate"')
    result = diagnose(Settings(), log_records=parse_lines(lines), probe=False)
    assert (result.verdict, result.problem) == ("stay", "keep_alive_reloads")
    assert "OLLAMA_KEEP_ALIVE" in result.reasons[0]


def test_a_queueing_team_log_says_migrate() -> None:
    # Eight people, bursts of three to five requests at once, one slot, 4 s each.
    arrivals = [burst * 120.0 + j * 0.5 for burst in range(60) for j in range(3 + burst % 3)]
    lines = gin_lines(fifo(arrivals, 4.0, 1), datetime(2025, 3, 4, 9, 30))
    lines += gin_lines([(i * 600.0, i * 600.0 + 4.0) for i in range(6)], datetime(2025, 3, 4, 20, 0))
    result = diagnose(Settings(), log_records=parse_lines(lines), probe=False)
    assert result.verdict == "migrate"
    assert result.problem == "concurrency"
    assert result.effective_parallelism_slots == 1
    assert result.queue_share is not None
    assert result.queue_share > 0.5
    assert result.developer_hours_lost_per_week is not None
    assert result.developer_hours_lost_per_week > 1
    signs = {s.id: s for s in result.signs}
    assert signs["peak_timeouts"].status in {"present", "absent"}
    assert signs["concurrent_streaming"].status == "present"


def test_nothing_to_go_on_is_inconclusive() -> None:
    result = diagnose(Settings(), probe=False)
    assert result.verdict == "inconclusive"
    assert result.effective_parallelism is None


def test_foreign_log_is_inconclusive_and_says_why() -> None:
    result = diagnose(Settings(), log_path=DATA / "nginx_access.log", probe=False)
    assert result.verdict == "inconclusive"
    assert any("not in Ollama's format: 4 of 4 lines unparsed" in r for r in result.reasons)


def test_unreachable_ollama_is_a_recorded_failed_probe(store: Store, port: int) -> None:
    settings = Settings(ollama={"url": f"http://127.0.0.1:{port}"})
    result = diagnose(settings, store=store, probe=True)
    assert result.probe is not None
    assert result.probe.attempted
    assert not result.probe.ok
    assert "Unreachable" in (result.probe.error or "")
    assert result.verdict == "inconclusive"
    failed = store.samples(source="probe")
    assert [(s.status, s.error_kind) for s in failed] == [(0, "probe_failed")]


def test_observed_human_signs(store: Store) -> None:
    store.add_samples(closed_loop_samples([1, 2, 4, 8], 1.0, 4, t0=_recent()))
    result = diagnose(Settings(), store=store, probe=False,
                      observed={"informal_coordination": True, "multiple_instances": True,
                                "non_developer_users": True})
    assert result.signs_present == 3
    assert result.verdict == "migrate"


def test_a_fit_that_straddles_the_threshold_is_inconclusive() -> None:
    """The queueing share read off the fit is 50-70% across its interval on k: the evidence cannot decide."""
    from o2v.diagnose.evidence import decide
    from o2v.diagnose.models import ParallelismFit

    fit = ParallelismFit(effective_parallelism=1.2, slots=1, service_ms=2000, r_squared=0.9, lower_bound=False,
                         points_used=3, effective_parallelism_low=0.9, effective_parallelism_high=1.6,
                         plausible_slots=[1, 2], confidence="medium")  # fmt: skip
    common = dict(fit=fit, outgrown_queue_share=0.5, timeout_crossing=None, reference_concurrency=3.0, signs=[],
                  findings=[], timeout_rate=None, max_timeout_rate=0.01, have_data=True)  # fmt: skip
    verdict, problem, reasons = decide(queue_share=0.6, queue_share_range=(0.4667, 0.7), **common)  # type: ignore[arg-type]
    assert (verdict, problem) == ("inconclusive", "unknown")
    assert "95% interval" in reasons[0]
    assert any("slots 1, 2; confidence medium" in r for r in reasons)
    sure, _, _ = decide(queue_share=0.6, queue_share_range=(0.55, 0.7), **common)  # type: ignore[arg-type]
    assert sure == "migrate"
