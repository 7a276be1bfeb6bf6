"""Thin Prefect wrappers for the cutover: a routing change, one interval's analysis, and the two questions.

The work is in ``o2v.cutover``; tasks add names, retries and artifacts. Questions are asked from the flow run
itself (``o2v.approvals.pause.ask`` pauses the *flow* run), so they are plain functions, not tasks.
"""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from o2v.approvals.models import Answer, Choice, Question
from o2v.approvals.pause import ask, current_flow_run_id
from o2v.config import Settings
from o2v.cutover.analysis import Decision, StageAnalysis
from o2v.cutover.measure import IntervalResult, measure_interval
from o2v.cutover.stages import Stage, named_clients, routing_at, seen_clients
from o2v.cutover.watch import AskPerson, PersonAnswer
from o2v.notify import Notifier
from o2v.store import Store
from o2v.store_routing import RoutingTable

PAUSE_CHOICES = [
    Choice(decision="continue", label="Keep watching", style="primary"),
    Choice(decision="promote", label="Promote anyway"),
    Choice(decision="roll-back", label="Roll back", style="danger"),
]


@task(name="apply-stage", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def apply_stage(settings: Settings, store: Store, stages: list[Stage], stage: Stage, actor: str) -> RoutingTable:
    """The routing table of stages 1..stage.index, in two changes: named routes, then the unnamed share."""
    everyone = named_clients(settings, stages, store.routing_table().routes, seen_clients(store))
    routes, percent = routing_at(stages, stage.index, everyone)
    reason = f"cutover {settings.migration_id} {stage.key}: {stage.moves()}"
    if routes:
        store.set_routes(routes, actor=actor, reason=reason)
    return store.set_percent(percent, actor=actor, reason=reason)


@task(name="analyse-interval", cache_policy=NO_CACHE)
def analyse_interval(
    settings: Settings,
    store: Store,
    stage: Stage,
    since: datetime,
    until: datetime,
    cutover_started: datetime | None,
    docs: bool = False,
) -> IntervalResult:
    return measure_interval(
        settings, store, since=since, until=until, min_samples=stage.min_samples,
        routing_version=store.routing_version(), cutover_started=cutover_started, docs=docs,
    )  # fmt: skip


def approve_stage(settings: Settings, store: Store, notifier: Notifier, stage: Stage, evidence_markdown: str) -> Answer:
    """Approve or reject before a stage; no answer within slack.approval_timeout_s is a "timeout" (a no)."""
    question = Question(
        flow_run_id=current_flow_run_id(), key=stage.key, migration_id=settings.migration_id,
        title=f"Cutover {settings.migration_id}: start {stage.name}?", evidence_markdown=evidence_markdown,
    )  # fmt: skip
    return ask(question, asker=notifier, audit=store, timeout_s=settings.slack.approval_timeout_s, poll_interval_s=1.0)


def person_after_pause(
    settings: Settings, store: Store, notifier: Notifier, stage: Stage, evidence_markdown: str
) -> AskPerson:
    """The watch loop's ``ask_person``: keep watching, promote anyway, or roll back; a timeout keeps the stage."""

    def ask_person(analysis: StageAnalysis, decision: Decision, n: int) -> tuple[PersonAnswer, str]:
        question = Question(
            flow_run_id=current_flow_run_id(), key=f"{stage.key}-pause-{n}", migration_id=settings.migration_id,
            title=f"Cutover {settings.migration_id}, {stage.name}: the data cannot decide",
            evidence_markdown=f"**Why:** {decision.reason}\n\n{evidence_markdown}", choices=PAUSE_CHOICES,
        )  # fmt: skip
        answer = ask(
            question, asker=notifier, audit=store, timeout_s=settings.slack.approval_timeout_s, poll_interval_s=1.0
        )
        known: dict[str, PersonAnswer] = {"continue": "continue", "promote": "promote", "roll-back": "roll-back"}
        return known.get(answer.decision, "timeout"), answer.approver or answer.via

    return ask_person
