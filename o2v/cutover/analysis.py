"""One stage's analysis as a plain state machine: each interval's outcome in, a decision out.

Semantics follow Argo Rollouts' AnalysisRun and Kayenta, adapted to LLM serving:

  pass          counted; the stage is promoted once its watch window is over and the latest interval passed
  fail          counted; more than ``failure_limit`` failures rolls back at once; a *critical* failure (the error
                rate) rolls back on the first one
  inconclusive  too little data, or an interval straddling a limit: never passes; more than
                ``inconclusive_limit`` of them pauses for a person
  error         the measurement itself failed (store unreadable, vLLM's model list unreachable): more than
                ``consecutive_error_limit`` in a row rolls back; any other outcome resets that run of errors

Within an interval the GX verdict already lets the worst expectation win (fail > inconclusive > pass); across the
stage the worst outcome seen is what the stage reports. A window that ends without a passing latest interval
pauses for a person rather than promoting quietly. A change of the routing table's version (someone else moved a
route) or of the models vLLM serves resets the counters and restarts the window: data from before the change
says nothing about what is in force now.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Outcome = Literal["pass", "fail", "inconclusive", "error"]
Action = Literal["continue", "promote", "pause", "rollback"]
_SEVERITY: dict[Outcome, int] = {"pass": 0, "inconclusive": 1, "error": 2, "fail": 3}


class Limits(BaseModel):
    failure_limit: int = Field(0, ge=0)
    inconclusive_limit: int = Field(3, ge=0)
    consecutive_error_limit: int = Field(4, ge=0)


class Measurement(BaseModel):
    """One interval's result as the state machine needs it."""

    outcome: Outcome
    critical: bool = Field(False, description="A critical metric (the error rate) failed.")
    routing_version: int | None = Field(None, description="Routing table version the interval ran under.")
    models: list[str] = Field(default_factory=list, description="Models vLLM served during the interval.")
    reasons: list[str] = Field(default_factory=list)


class Counters(BaseModel):
    passes: int = 0
    failures: int = 0
    inconclusives: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    resets: int = 0


class Decision(BaseModel):
    action: Action
    reason: str
    counters: Counters


class StageAnalysis(BaseModel):
    """The state of one stage's analysis; ``observe`` is the only transition."""

    limits: Limits = Field(default_factory=Limits)
    window_s: float = Field(..., gt=0)
    started_s: float = Field(0.0, description="Clock reading when the window (re)started.")
    counters: Counters = Field(default_factory=Counters)
    routing_version: int | None = None
    models: list[str] = Field(default_factory=list)
    last: Outcome | None = None
    worst: Outcome | None = None
    history: list[Outcome] = Field(default_factory=list)

    def observe(self, m: Measurement, now_s: float) -> Decision:
        if self._changed(m):
            self.counters = Counters(resets=self.counters.resets + 1)
            self.started_s, self.last, self.worst = now_s, None, None
            self._remember(m)
            return self._decide(
                "continue", "the routing table or vLLM's models changed: counters reset, window restarted"
            )
        self._remember(m)
        self.history.append(m.outcome)
        self.last = m.outcome
        if self.worst is None or _SEVERITY[m.outcome] > _SEVERITY[self.worst]:
            self.worst = m.outcome
        c, lim = self.counters, self.limits
        why = "; ".join(m.reasons[:3])
        if m.outcome == "error":
            c.errors += 1
            c.consecutive_errors += 1
            if c.consecutive_errors > lim.consecutive_error_limit:
                return self._decide(
                    "rollback",
                    f"{c.consecutive_errors} measurement errors in a row (consecutive_error_limit "
                    f"{lim.consecutive_error_limit}): {why}",
                )
            return self._decide("continue", f"measurement error {c.consecutive_errors} in a row: {why}")
        c.consecutive_errors = 0
        if m.outcome == "fail":
            c.failures += 1
            if m.critical:
                return self._decide("rollback", f"a critical metric failed: {why}")
            if c.failures > lim.failure_limit:
                return self._decide(
                    "rollback", f"{c.failures} failed intervals (failure_limit {lim.failure_limit}): {why}"
                )
        elif m.outcome == "inconclusive":
            c.inconclusives += 1
            if c.inconclusives > lim.inconclusive_limit:
                return self._decide(
                    "pause",
                    f"{c.inconclusives} inconclusive intervals (inconclusive_limit {lim.inconclusive_limit}): {why}",
                )
        else:
            c.passes += 1
        if now_s - self.started_s >= self.window_s:
            if self.last == "pass":
                return self._decide(
                    "promote", f"watch window over; {c.passes} passing interval(s), the last one passed"
                )
            return self._decide("pause", f"watch window over but the last interval was {self.last}: {why}")
        return self._decide("continue", f"{m.outcome}" + (f": {why}" if why else ""))

    def resume_watching(self, now_s: float) -> None:
        """A person chose to keep watching: the inconclusive count and the window start afresh."""
        self.counters.inconclusives = 0
        self.started_s = now_s

    def _changed(self, m: Measurement) -> bool:
        route = (
            m.routing_version is not None
            and self.routing_version is not None
            and m.routing_version != self.routing_version
        )
        models = bool(m.models) and bool(self.models) and sorted(m.models) != sorted(self.models)
        return route or models

    def _remember(self, m: Measurement) -> None:
        if m.routing_version is not None:
            self.routing_version = m.routing_version
        if m.models:
            self.models = sorted(m.models)

    def _decide(self, action: Action, reason: str) -> Decision:
        return Decision(action=action, reason=reason, counters=self.counters.model_copy())
