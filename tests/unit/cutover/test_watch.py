"""The watch loop with a scripted clock and scripted interval results: what ends a stage, and how."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from o2v.cutover.analysis import Decision, Limits, Measurement, StageAnalysis
from o2v.cutover.measure import IntervalResult
from o2v.cutover.stages import Stage
from o2v.cutover.watch import PersonAnswer, watch_stage

STAGE = Stage(index=2, name="stage-2: ci-bot", clients=["ci-bot"], watch_window_s=10, interval_s=2, min_samples=5)


class Script:
    """A clock that advances by each sleep, and the outcomes the measurements return in order."""

    def __init__(self, outcomes: list[str], version: int = 3) -> None:
        self.t = 0.0
        self.outcomes: Iterator[str] = iter(outcomes)
        self.version = version
        self.windows: list[tuple[datetime, datetime]] = []

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def clock(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.t)

    def measure(self, since: datetime, until: datetime) -> IntervalResult:
        self.windows.append((since, until))
        outcome = next(self.outcomes)
        if outcome == "fail-after-change":  # someone moved a route: the version stays bumped from now on
            self.version, outcome = self.version + 1, "fail"
        return IntervalResult(
            since=since, until=until,
            measurement=Measurement(outcome=outcome, routing_version=self.version, reasons=[outcome]),  # type: ignore[arg-type]
        )  # fmt: skip


def run(script: Script, answers: list[PersonAnswer] | None = None, **limits: int):  # type: ignore[no-untyped-def]
    asked: list[str] = []
    replies = iter(answers or [])

    def ask(analysis: StageAnalysis, decision: Decision, n: int) -> tuple[PersonAnswer, str]:
        asked.append(decision.reason)
        return next(replies), "dana"

    report = watch_stage(STAGE, Limits(**limits), routing_version=3, measure=script.measure, ask_person=ask,
                         clock=script.clock, sleep=script.sleep, now=script.now)  # fmt: skip
    return report, asked


def test_a_clean_stage_is_promoted_when_its_window_ends() -> None:
    report, asked = run(Script(["pass"] * 5))
    assert (report.end, len(report.intervals), asked) == ("promoted", 5, [])
    assert report.started is not None
    assert report.ended is not None


def test_a_critical_failure_ends_the_stage_rolled_back_at_the_first_interval() -> None:
    script = Script(["pass", "fail"])

    def critical(since: datetime, until: datetime) -> IntervalResult:
        result = Script.measure(script, since, until)
        result.measurement.critical = result.measurement.outcome == "fail"
        return result

    report = watch_stage(
        STAGE, Limits(failure_limit=5), routing_version=3, measure=critical, ask_person=lambda *a: ("timeout", ""),
        clock=script.clock, sleep=script.sleep, now=script.now,
    )  # fmt: skip
    assert (report.end, report.worst, len(report.intervals)) == ("rolled-back", "fail", 2)


def test_inconclusive_beyond_the_limit_asks_a_person_who_keeps_watching_then_the_stage_passes() -> None:
    report, asked = run(Script(["inconclusive", "inconclusive", "pass", "pass", "pass", "pass", "pass"]), ["continue"],
                        inconclusive_limit=1)  # fmt: skip
    assert len(asked) == 1
    assert "inconclusive_limit 1" in asked[0]
    assert report.end == "promoted"
    assert report.decided_by == "dana"


def test_no_answer_to_a_pause_ends_the_stage_timed_out() -> None:
    report, _ = run(Script(["inconclusive"] * 3), ["timeout"], inconclusive_limit=0)
    assert report.end == "timed-out"


def test_after_a_route_change_the_analysed_window_starts_at_the_change() -> None:
    script = Script(["pass", "fail-after-change", "pass", "pass", "pass", "pass", "pass", "pass"])
    report, _ = run(script)
    assert report.end == "promoted"
    assert "counters reset" in report.intervals[1].reason
    assert sum("counters reset" in i.reason for i in report.intervals) == 1
    assert len(report.intervals) == 7  # the window restarted at the change: five more passes after it
    change_at = script.windows[1][1]
    assert all(since >= change_at for since, _ in script.windows[2:])
