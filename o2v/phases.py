"""The phase ledger at work: run a migration phase once, remember its typed result, skip it on re-runs.

A re-run of the migrate flow (the Prefect UI's Retry, or a new run with the same migration id) asks the ledger
before each phase. A phase that already succeeded under the same key is not repeated: its stored result is
read back into its typed model and later phases use it as if it had just run. The key hashes what the phase
itself reads (``o2v.phase_keys``: its settings, flow parameters and upstream results), so a change re-runs
only the phases that read it. Once a phase really runs, every later phase runs too: they were computed from
the earlier result, which has just changed. ``from_phase`` forces that phase and every later one to run again
even when the ledger has them. Skips are written to the ledger as well, so its history shows what each run did.

Phases with effects outside the store (``deploy``: the container) are skipped only when their success under
this key is the latest thing that happened to them under any key: a later deploy with other inputs, a
rollback or a killed attempt has changed the container since.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from o2v.errors import O2VError, PhaseError
from o2v.store import Store

PHASES: tuple[str, ...] = ("diagnose", "inventory", "verify_gpu", "plan", "deploy", "smoke", "validate")
# Phases whose success describes something outside the store that any later attempt may have changed.
EFFECT_PHASES: frozenset[str] = frozenset({"deploy"})
Phase = Literal["diagnose", "inventory", "verify_gpu", "plan", "deploy", "smoke", "validate"]

HINTS: dict[str, str] = {
    "diagnose": "check that Ollama answers at ollama.url, or pass a log file; then re-run the flow",
    "inventory": "check ollama.url and the scan paths; then re-run the flow",
    "verify_gpu": "free GPU memory, lower vllm.gpu_memory_utilization or use a bigger GPU; then re-run",
    "plan": "add a models: mapping for the listed tags or choose a smaller/quantized model; then re-run",
    "deploy": "read the container's last log lines above, fix the cause (port, runtime, memory); then re-run",
    "smoke": "vLLM was rolled back; compare the answers side by side (smoke artifact, reports/<id>/smoke/answers.md), "
    "fix the model mapping or chat template; then re-run",
    "validate": "vLLM was rolled back; read the failed expectations, adjust the plan or thresholds; then re-run",
}

T = TypeVar("T", bound=BaseModel)


class PhaseOutcome(BaseModel):
    """What happened to one phase in this run (for the flow's summary)."""

    phase: str
    status: Literal["succeeded", "skipped", "failed"]
    duration_s: float = 0.0
    error: str | None = None


class PhaseRunner:
    """Runs phases through the ledger. Prefect-free: the flow wraps each call in a task."""

    def __init__(
        self,
        store: Store,
        migration_id: str,
        config_hash: str,
        *,
        from_phase: str | None = None,
        guard: Callable[[], None] | None = None,
    ) -> None:
        if from_phase is not None and from_phase not in PHASES:
            raise PhaseError("(start)", f"from_phase must be one of {', '.join(PHASES)}, got {from_phase!r}")
        self.store = store
        self.migration_id = migration_id
        self.config_hash = config_hash
        self.from_phase = from_phase
        # Called before each phase, e.g. StoreLock.check: raises when this run must not go on.
        self.guard = guard
        self.outcomes: list[PhaseOutcome] = []

    def forced(self, phase: str) -> bool:
        if any(o.status != "skipped" for o in self.outcomes):
            return True
        return self.from_phase is not None and PHASES.index(phase) >= PHASES.index(self.from_phase)

    def previous(self, phase: str, result_type: type[T], key: str | None = None) -> T | None:
        """The stored result of a phase that already succeeded under this key, if usable."""
        if self.forced(phase):
            return None
        entry = self.store.last_success(
            self.migration_id, phase, key or self.config_hash, any_key_cancels=phase in EFFECT_PHASES
        )
        if entry is None or entry.result is None:
            return None
        try:
            return result_type.model_validate(entry.result)
        except ValidationError:
            return None  # the result's shape changed between versions: run the phase again

    def run(
        self, phase: str, work: Callable[[], T], result_type: type[T], *, key: str | None = None
    ) -> tuple[T, bool]:
        """Return (result, skipped). Failures are recorded in the ledger and raised as PhaseError.

        ``key`` is the phase's input hash (``o2v.phase_keys.phase_key``); without one, the runner's
        ``config_hash`` keys every phase (the whole configuration, as before per-phase keys).
        """
        if self.guard is not None:
            try:
                self.guard()
            except O2VError as exc:
                raise PhaseError(phase, str(exc), "") from exc
        key = key or self.config_hash
        earlier = self.previous(phase, result_type, key)
        if earlier is not None:
            skipped_id = self.store.phase_started(self.migration_id, phase, key)
            self.store.phase_finished(skipped_id, "skipped", error=None)
            self.outcomes.append(PhaseOutcome(phase=phase, status="skipped"))
            return earlier, True
        entry_id = self.store.phase_started(self.migration_id, phase, key)
        started = time.monotonic()
        try:
            result = work()
        except BaseException as exc:
            reason = str(exc) if isinstance(exc, O2VError) else f"{exc.__class__.__name__}: {exc}"
            if isinstance(exc, PhaseError):
                reason = exc.reason
            self.store.phase_finished(entry_id, "failed", error=reason)
            self.outcomes.append(
                PhaseOutcome(phase=phase, status="failed", duration_s=time.monotonic() - started, error=reason)
            )
            if isinstance(exc, PhaseError):
                raise
            if isinstance(exc, Exception):
                hint = "" if "what to do" in reason.lower() else HINTS.get(phase, "")
                raise PhaseError(phase, reason, hint) from exc
            raise
        self.store.phase_finished(entry_id, "succeeded", result=result.model_dump(mode="json"))
        self.outcomes.append(PhaseOutcome(phase=phase, status="succeeded", duration_s=time.monotonic() - started))
        return result, False

    def executed(self) -> list[str]:
        """Phases that really ran in this run (not skipped)."""
        return [o.phase for o in self.outcomes if o.status != "skipped"]
