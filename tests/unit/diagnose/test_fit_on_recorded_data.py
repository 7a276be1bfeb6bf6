"""The slot fit on timings nobody here generated from the fit's own model: published Ollama measurements and a
sweep recorded against llama.cpp's server (tests/data/probe/, re-recorded by
tests/integration/real_engine/test_slot_fit_on_llama_cpp.py)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from o2v.diagnose.fit import fit_parallelism
from o2v.diagnose.models import LevelPoint
from o2v.diagnose.samples import levels_from_samples
from o2v.store import RequestSample

PROBE = Path(__file__).parents[2] / "data" / "probe"

# https://chimeraforge.vercel.app/reports/technical-report-129 (TR129, 2026-02-25): N closed-loop agents against
# one Ollama instance on an RTX 4080 Laptop GPU; "per-agent efficiency (effective tok/s at N / effective tok/s at
# N=1)" at N = 2, 4, 8. Each agent's effective rate is the inverse of its request latency, so latency(N) is
# latency(1) / eta(N); latency(1) is set to 1 s (the fit's k does not depend on it).
TR129 = {
    "llama3.2-1b": (0.800, 0.404, 0.203),
    "llama3.2-3b": (0.675, 0.342, 0.173),
    "qwen2.5-1.5b": (0.727, 0.368, 0.186),
}


@pytest.mark.parametrize("model", sorted(TR129))
def test_published_ollama_closed_loop_is_not_whole_slots(model: str) -> None:
    """Real Ollama follows the knee closely (R^2 > 0.99) but at k = 1.4-1.6: no whole slot count fits, and the
    fit says so (both neighbours plausible, low confidence) instead of rounding to 2 independent slots."""
    points = [
        LevelPoint(concurrency=c, requests=50, completed=50, little_latency_ms=1000 / eta)
        for c, eta in zip((1, 2, 4, 8), (1.0, *TR129[model]), strict=True)
    ]
    fit = fit_parallelism(points)
    assert fit is not None
    assert fit.r_squared > 0.99
    assert 1.3 <= fit.effective_parallelism <= 1.7
    assert not fit.whole_slots
    assert fit.plausible_slots == [1, 2]
    assert fit.confidence == "low"
    assert fit.effective_parallelism_high is not None
    assert 1 < fit.effective_parallelism_low <= fit.effective_parallelism <= fit.effective_parallelism_high < 2


def _recorded(name: str) -> tuple[dict, list[RequestSample]]:
    data = json.loads((PROBE / name).read_text())
    samples = [
        RequestSample(time=datetime.fromisoformat(s["time"]), source="probe", backend="ollama", status=200,
                      e2e_ms=s["e2e_ms"], run_id=data["run_id"], concurrency=s["concurrency"])
        for s in data["samples"]
    ]  # fmt: skip
    return data, samples


def test_recorded_llama_cpp_long_answers_are_one_whole_slot() -> None:
    """A closed-loop sweep at 1-4 recorded against llama.cpp's server with one slot, 192-token answers (8 s each
    on this shared machine): real timing noise (8%), real HTTP, a real engine queueing. One slot, for sure."""
    meta, samples = _recorded("llama_cpp_1slot_192tok.json")
    levels = levels_from_samples(samples, timeout_s=60)
    assert [p.concurrency for p in levels] == meta["levels"]
    fit = fit_parallelism(levels)
    assert fit is not None
    assert fit.slots == 1
    assert fit.plausible_slots == [1]
    assert fit.whole_slots
    assert fit.confidence == "high"
    assert fit.effective_parallelism_low == 1.0
    assert fit.service_ms == pytest.approx(meta["alone_ms"], rel=0.25)


def test_recorded_llama_cpp_short_answers_overlap_outside_the_slot() -> None:
    """The same server with 48-token answers (0.3 s). Four such sweeps here fitted k = 1.00, 1.04, 1.05 and 1.26:
    the HTTP, template and streaming work around each generation overlaps the next request's, and the shared
    machine adds 10-20% noise. This recording is the 1.26 one, where the fit is least sure: one slot is still
    the answer, but the fit reports 1-2 as plausible rather than a precise integer."""
    meta, samples = _recorded("llama_cpp_1slot_48tok.json")
    fit = fit_parallelism(levels_from_samples(samples, timeout_s=60))
    assert fit is not None
    assert fit.slots == 1
    assert 1 in fit.plausible_slots
    assert 1.0 < fit.effective_parallelism < 1.5
    assert fit.confidence != "high"
