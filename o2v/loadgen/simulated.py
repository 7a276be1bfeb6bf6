"""``o2v compare --simulate``: the whole comparison against the built-in simulators, no GPU needed.

The timings are chosen so the run finishes in about 20 seconds on a small machine while keeping the shape of
the real thing: Ollama with one slot (its default OLLAMA_NUM_PARALLEL=1) serialises requests, so its latency
climbs with concurrency; vLLM batches up to max_num_seqs (set below the top level so the knee is visible).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from o2v.config import Settings
from o2v.loadgen.compare import ComparisonReport, run_comparison
from o2v.store import Store

SIM_MODEL = "llama3.1:8b"
SIM_TTFT_MS = 20.0
SIM_ITL_MS = 4.0
SIM_MAX_TOKENS = 12
SIM_MAX_NUM_SEQS = 32
SIM_LEVELS = [1, 5, 10, 20, 50]


def simulator_args(kind: str, *, max_num_seqs: int = SIM_MAX_NUM_SEQS) -> list[str]:
    timing = ["--ttft-ms", f"{SIM_TTFT_MS:g}", "--itl-ms", f"{SIM_ITL_MS:g}", "--response-tokens", "64"]
    if kind == "ollama":
        return [*timing, "--num-parallel", "1", "--model", SIM_MODEL]
    return [*timing, "--served-model-name", SIM_MODEL, "--max-num-seqs", str(max_num_seqs)]


def simulated_comparison(
    settings: Settings | None = None,
    *,
    out_dir: Path | None = None,
    store: Store | None = None,
    progress: bool = False,
    levels: list[int] | None = None,
    requests_per_level: int | None = None,
    **extra: Any,
) -> ComparisonReport:
    """Start both simulators, compare them with the configured (or quick default) workload, stop them."""
    from o2v.simulate.process import SimulatorProcess

    base = settings or Settings()  # type: ignore[call-arg]
    settings = base.model_copy(deep=True)
    settings.loadtest.concurrency = levels or SIM_LEVELS
    settings.loadtest.requests_per_level = requests_per_level or max(20, base.loadtest.requests_per_level)
    settings.loadtest.max_tokens = min(base.loadtest.max_tokens, SIM_MAX_TOKENS)
    settings.loadtest.request_timeout_s = 60.0
    extra.setdefault("min_requests_per_slot", 2)  # steady state, not one burst per level
    with (
        SimulatorProcess("ollama", args=simulator_args("ollama")) as ollama,
        SimulatorProcess("vllm", args=simulator_args("vllm")) as vllm,
    ):
        return run_comparison(
            settings,
            store=store,
            out_dir=out_dir,
            progress=progress,
            model=SIM_MODEL,
            ollama_url=ollama.url,
            vllm_url=vllm.url,
            vllm_model=SIM_MODEL,
            vllm_max_num_seqs=SIM_MAX_NUM_SEQS,
            **extra,
        )
