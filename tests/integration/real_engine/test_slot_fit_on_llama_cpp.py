"""The slot fit against a real engine with one slot: llama.cpp's server, real timing, real queueing.

The synthetic fit tests and the Ollama simulator share the fit's own idealised model; this sweeps a server
written by someone else through the load generator (the probe's closed loop, on the OpenAI API) and checks the
fit finds the one slot the server has. With ``O2V_RECORD_PROBE_DIR`` set, the sweep is written there as
``llama_cpp_1slot_<max_tokens>tok.json`` (the recordings tests/unit/diagnose/test_fit_on_recorded_data.py reads).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from o2v.diagnose.fit import fit_parallelism
from o2v.diagnose.samples import level_from_stats, levels_from_samples
from o2v.loadgen import Workload, run_loadtest

from .conftest import Engine

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

LEVELS = [1, 2, 3, 4]
# Short answers keep the sweep near 30 s here; 192 tokens took 10 minutes on this shared 2-core machine.
MAX_TOKENS = int(os.environ.get("O2V_PROBE_MAX_TOKENS", "48"))
PROMPT = "the model server answers one request at a time, so the queue"


def test_fit_finds_the_one_slot(llama_server: Engine) -> None:
    workload = Workload(
        url=llama_server.url, model=llama_server.model, concurrency=LEVELS, requests_per_level=16,
        warmup_requests=2, max_tokens=MAX_TOKENS, temperature=0.0, prompts=[PROMPT], source="probe",
    )  # fmt: skip
    result = asyncio.run(run_loadtest(workload))
    assert all(level.failed == 0 for level in result.levels), [lvl.errors_by_kind for lvl in result.levels]
    # the probe's own path (throughput -> Little's-law latency per level) and the stored-samples path
    from_stats = [level_from_stats(level, timeout_s=30) for level in result.levels]
    from_samples = levels_from_samples(result.samples, timeout_s=30)
    for levels in (from_stats, from_samples):
        fit = fit_parallelism(levels)
        assert fit is not None
        assert fit.slots == 1, fit
        assert 1 in fit.plausible_slots, fit
        assert fit.effective_parallelism_low is not None
        assert fit.effective_parallelism_low <= 1.0 + 1e-9 or fit.effective_parallelism < 1.5, fit
    record_dir = os.environ.get("O2V_RECORD_PROBE_DIR")
    if record_dir:
        alone = next(p for p in from_samples if p.concurrency == 1)
        recording = {
            "source": "llama-cpp-python server (llama_cpp.server), one context, n_threads 1, --interrupt_requests "
                      "False, the generated tiny llama of tests/integration/real_engine/tiny_gguf.py; closed-loop "
                      f"sweep by o2v's load generator, max_tokens {workload.max_tokens}, greedy, one prompt",
            "run_id": result.run_id, "levels": LEVELS, "alone_ms": alone.little_latency_ms,
            "samples": [
                {"time": s.time.isoformat(), "e2e_ms": s.e2e_ms, "concurrency": s.concurrency}
                for s in result.samples if s.ok
            ],
        }  # fmt: skip
        Path(record_dir, f"llama_cpp_1slot_{MAX_TOKENS}tok.json").write_text(json.dumps(recording, indent=1) + "\n")
