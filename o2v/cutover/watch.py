"""One stage's watch: every interval, measure the live traffic, feed the state machine, act on its decision.

Plain code with the clock, the sleep, the measurement and the person passed in, so the loop is unit-tested
without Prefect, a gateway or time passing; the cutover flow passes the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from o2v.cutover.analysis import Decision, Limits, Outcome, StageAnalysis
from o2v.cutover.measure import IntervalResult, Traffic
from o2v.cutover.stages import Stage
from o2v.store_schema import utcnow

StageEnd = Literal["promoted", "rolled-back", "timed-out", "stopped"]
PersonAnswer = Literal["continue", "promote", "roll-back", "timeout"]


class IntervalSummary(BaseModel):
    since: datetime | None = Field(None, description="Start of the analysed lookback.")
    at: datetime
    outcome: Outcome
    action: str
    reason: str
    canary: int = 0
    baseline: int = 0
    baseline_source: str = "none"
    figures: dict[str, float] = Field(default_factory=dict)


class StageReport(BaseModel):
    """How a stage ended, with every interval and the traffic of its whole watch."""

    stage: Stage
    end: StageEnd
    reason: str
    worst: Outcome | None = None
    intervals: list[IntervalSummary] = Field(default_factory=list)
    started: datetime | None = None
    ended: datetime | None = None
    traffic: Traffic = Field(default_factory=Traffic, description="Gateway traffic from the stage's start to its end.")
    failed_expectations: list[str] = Field(default_factory=list, description="Of the interval that decided.")
    data_docs_url: str | None = None
    decided_by: str | None = Field(None, description="Who, when a person decided after a pause.")


Measure = Callable[[datetime, datetime], IntervalResult]
AskPerson = Callable[[StageAnalysis, Decision, int], tuple[PersonAnswer, str]]


def watch_stage(
    stage: Stage,
    limits: Limits,
    *,
    routing_version: int,
    measure: Measure,
    ask_person: AskPerson,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = utcnow,
) -> StageReport:
    """Watch until the state machine promotes or rolls back, or a person ends the watch."""
    analysis = StageAnalysis(limits=limits, window_s=stage.watch_window_s, started_s=clock())
    analysis.routing_version = routing_version
    stage_start = since = now()
    report = StageReport(stage=stage, end="stopped", reason="", started=stage_start)
    pauses = 0
    while True:
        sleep(stage.interval_s)
        until = now()
        # Everything since the stage began (or its last reset), not a sliding window: a sample reaches the store
        # when its request ends, so a short recent window would hold the fast requests and miss the slow ones.
        lookback = since
        result = measure(lookback, until)
        resets = analysis.counters.resets
        decision = analysis.observe(result.measurement, clock())
        if analysis.counters.resets != resets:
            since = until  # data from before a route or model change says nothing about what is in force now
        report.intervals.append(_summary(lookback, until, result, decision))
        report.worst = analysis.worst
        if result.verdict is not None:
            report.failed_expectations = [f.message for f in result.verdict.failures if f.observed is not None]
            report.data_docs_url = result.verdict.data_docs_url or report.data_docs_url
        if decision.action == "continue":
            continue
        if decision.action == "pause":
            pauses += 1
            answer, who = ask_person(analysis, decision, pauses)
            report.decided_by = who or report.decided_by
            if answer == "continue":
                analysis.resume_watching(clock())
                continue
            ends: dict[str, StageEnd] = {"promote": "promoted", "roll-back": "rolled-back", "timeout": "timed-out"}
            end = ends[answer]
            report.end, report.reason = end, f"{decision.reason}; a person chose {answer}" if who else decision.reason
            break
        report.end = "promoted" if decision.action == "promote" else "rolled-back"
        report.reason = decision.reason
        break
    report.started, report.ended = stage_start, now()
    return report


def _summary(since: datetime, at: datetime, result: IntervalResult, decision: Decision) -> IntervalSummary:
    verdict = result.verdict
    figures = verdict.figures if verdict is not None else {}
    return IntervalSummary(
        since=since,
        at=at,
        outcome=result.measurement.outcome,
        action=decision.action,
        reason=decision.reason,
        canary=int(figures.get("canary requests", result.traffic.by_backend.get("vllm", 0))),
        baseline=int(figures.get("baseline requests", 0)),
        baseline_source=result.baseline,
        figures={k: v for k, v in figures.items() if "ratio" in k or "error rate" in k},
    )
