"""Each phase's ledger key: a hash of exactly what the phase reads, not of the whole configuration.

A phase is skipped on a re-run when it already succeeded under the same key (``o2v.phases``). Keying by the
whole configuration meant a new Slack channel re-ran the probe sweep against the team's Ollama; keying by
nothing would reuse a plan after ``vllm.max_model_len`` changed. So each phase names the settings it reads
(``PHASE_SETTINGS``; dotted paths pick single fields out of shared sections) and its key hashes:

- ``Settings.section_fingerprint`` of each of those settings (secrets enter only through that function);
- the flow parameters the phase reads (scan paths, the log file, whether to probe);
- the stored results of the upstream phases it consumes, so a plan computed from yesterday's diagnosis is
  not reused with today's, even when the configuration went back and forth in between.

Adding a settings field a phase reads means adding it here; ``tests/unit/test_phase_keys.py`` checks that
every path exists and that unrelated sections (Slack, the cutover, the monitor) reach no phase.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from o2v.config import Settings

PHASE_SETTINGS: dict[str, tuple[str, ...]] = {
    # o2v.diagnose: Ollama's URL, timeout and log source, the probe sweep, the probe model fallback, the
    # queueing thresholds it judges with.
    "diagnose": (
        "ollama", "diagnose", "loadtest.model", "thresholds.min_samples", "thresholds.max_timeout_rate",
        "thresholds.outgrown_queue_share",
    ),
    # o2v.inventory: Ollama's API and its access log.
    "inventory": ("ollama",),
    # o2v.gpu.verify_gpu: the devices and requirements, and whether Docker's NVIDIA runtime is needed.
    "verify_gpu": ("gpu", "vllm.backend", "vllm.image", "vllm.tensor_parallel_size"),
    # o2v.plan.make_plan: every vLLM flag, the model mapping, the GPU budget and the workload it sizes for.
    "plan": ("migration_id", "vllm", "models", "gpu", "loadtest.concurrency", "loadtest.max_tokens"),
    # o2v.deploy: the plan's launch spec, plus the secrets passed as environment variables.
    "deploy": ("vllm.backend", "vllm.hf_token", "vllm.api_key", "workdir"),
    # o2v.smoke: both endpoints and the vLLM API key.
    "smoke": ("ollama.url", "vllm.api_key", "loadtest.request_timeout_s", "loadtest.max_tokens"),
    # o2v.loadgen.compare + the validation suite.
    "validate": ("ollama", "loadtest", "thresholds", "models", "vllm.api_key", "vllm.max_num_seqs", "workdir"),
}


def phase_key(
    settings: Settings,
    phase: str,
    *,
    upstream: Sequence[BaseModel] = (),
    params: Mapping[str, Any] | None = None,
) -> str:
    """The ledger key of ``phase`` for these settings, upstream results and flow parameters."""
    try:
        paths = PHASE_SETTINGS[phase]
    except KeyError:
        raise KeyError(f"no inputs declared for phase {phase!r}; add it to PHASE_SETTINGS") from None
    material = {
        "phase": phase,
        "settings": {path: settings.section_fingerprint(path) for path in paths},
        "params": dict(params or {}),
        "upstream": [result_digest(result) for result in upstream],
    }
    return _digest(material)


def result_digest(result: BaseModel) -> str:
    """A stable hash of a phase result in the form a later run reads it back from the ledger.

    The fresh result is hashed after the same trip the ledger makes (dump, JSON, validate, dump), so a
    validator that normalises a value cannot make a fresh result and its stored copy hash differently: a
    phase that consumed the fresh one gets the key a re-run computes from the stored one.
    """
    stored = json.loads(json.dumps(result.model_dump(mode="json"), default=str))
    reloaded = type(result).model_validate(stored).model_dump(mode="json")
    return _digest({"type": type(result).__name__, "value": reloaded})


def _digest(material: Any) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]
