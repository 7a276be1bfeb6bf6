"""The decommission as one plain function; the flow adds Prefect's pause, artifacts and Slack.

Order: refuse on bad input (nothing touched) -> gather every piece of evidence -> blockers and an unstable
or inconclusive window stop here (nothing touched) -> ask a person (timeout means no) -> stop Ollama keeping
its container, image and volume -> final compose files -> GPU memory freed -> summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import httpx

from checks.verdict import Verdict
from o2v.approvals.models import Answer
from o2v.config import Settings
from o2v.decommission.evidence import evidence_markdown
from o2v.decommission.models import Blockers, DecommissionResult
from o2v.decommission.ollama_host import OllamaHost, ollama_host
from o2v.decommission.precheck import precheck
from o2v.decommission.restore import RESULT_STATE
from o2v.decommission.retire import final_compose, stop_and_measure
from o2v.decommission.stability import judge_window
from o2v.decommission.stragglers import collect_blockers, gateway_counters
from o2v.errors import O2VError
from o2v.gpu.nvml import NVMLSource
from o2v.servers.log_source import ollama_log_records
from o2v.servers.logs import LogRecord
from o2v.store import Store

Approve = Callable[[str], Answer]  # evidence Markdown -> the person's answer
ROLLBACK_COMMAND = "o2v rollback --to-ollama"


def log_records(settings: Settings, since: datetime) -> tuple[Iterable[LogRecord] | None, str | None]:
    """Ollama's access log from the window's start, or None and why it could not be read."""
    if settings.ollama.log_source == "none":
        return None, "Ollama's access log is not read (ollama.log_source: none): stragglers cannot be ruled out"
    try:
        return list(ollama_log_records(settings.ollama, since=since)), None
    except (O2VError, OSError) as exc:
        return None, f"Ollama's access log could not be read ({exc}): stragglers cannot be ruled out"


def loaded_models(url: str) -> list[str]:
    """Ollama's loaded models (/api/ps): the likely models of a straggler, since gin logs none."""
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/ps", timeout=5.0)
        response.raise_for_status()
        return sorted(str(m.get("name", "")) for m in response.json().get("models", []) if m.get("name"))
    except (httpx.HTTPError, ValueError):
        return []


def gather(
    settings: Settings, store: Store, ollama: OllamaHost, *, since: datetime, until: datetime,
    records: Iterable[LogRecord] | None = None,
) -> tuple[Verdict, Blockers]:  # fmt: skip
    """The stability verdict and every blocker, all at once."""
    unreadable: list[str] = []
    if records is None:
        records, problem = log_records(settings, since)
        unreadable += [problem] if problem else []
    token = settings.gateway.admin_token.get_secret_value() if settings.gateway.admin_token else None
    counters = None
    try:
        counters = gateway_counters(f"http://{settings.gateway.admin_listen}", token)
    except (httpx.HTTPError, ValueError) as exc:
        unreadable.append(
            f"the gateway's counters of native options vLLM cannot honour could not be read from "
            f"{settings.gateway.admin_listen} ({type(exc).__name__}: {exc}); set gateway.admin_token and check the "
            "gateway runs"
        )
    url = ollama.published_url() or settings.ollama.url
    blockers = collect_blockers(
        records, store.routing_table(), counters, since=since, until=until,
        gateway=settings.decommission.gateway_addresses, models=loaded_models(url), unreadable=unreadable,
    )  # fmt: skip
    verdict = judge_window(settings, store, since=since, until=until)
    return verdict, blockers


def assess(
    settings: Settings,
    store: Store,
    *,
    ollama: OllamaHost | None = None,
    records: Iterable[LogRecord] | None = None,
    now: datetime | None = None,
) -> DecommissionResult:
    """Everything before the question: outcome ``ready`` with the evidence, or why not (nothing touched)."""
    ollama = ollama or ollama_host(settings)
    result = DecommissionResult(migration_id=settings.migration_id, outcome="refused",
                                rollback_command=ROLLBACK_COMMAND)  # fmt: skip
    checked = precheck(settings, store, ollama)
    if not checked.ok or checked.window_start is None:
        return _done(store, result, reasons=checked.refusals)
    since, until = checked.window_start, now or datetime.now(UTC)
    result.window_start, result.window_end = since, until
    verdict, blockers = gather(settings, store, ollama, since=since, until=until + timedelta(seconds=1),
                               records=records)  # fmt: skip
    result.stability, result.blockers = verdict, blockers
    if blockers.any:
        return _done(store, result, outcome="blocked", reasons=blockers.reasons() + _verdict_reasons(verdict))
    if verdict.status != "pass":
        outcome = "unstable" if verdict.status == "fail" else "inconclusive"
        return _done(store, result, outcome=outcome, reasons=_verdict_reasons(verdict))
    result.kept = ollama.kept(ollama.require())
    result.outcome = "ready"
    return result


def evidence_of(result: DecommissionResult) -> str:
    """The approval's Markdown, from a ``ready`` assessment."""
    if not (result.window_start and result.window_end and result.stability and result.kept):
        raise ValueError(f"no evidence to show: the assessment ended {result.outcome!r}, not 'ready'")
    return evidence_markdown(since=result.window_start, until=result.window_end, verdict=result.stability,
                             blockers=result.blockers, kept=result.kept, rollback=ROLLBACK_COMMAND)  # fmt: skip


def retire(
    settings: Settings, store: Store, ready: DecommissionResult, answer: Answer, *, gpu: NVMLSource,
    ollama: OllamaHost | None = None,
) -> DecommissionResult:  # fmt: skip
    """After the answer: a no leaves Ollama running; a yes stops it (kept), writes the final compose, measures."""
    ollama = ollama or ollama_host(settings)
    result = ready.model_copy(update={"approver": answer.approver})
    if answer.decision != "approve":
        outcome = "timed-out" if answer.decision == "timeout" else "rejected"
        who = f" by {answer.approver}" if answer.approver else ""
        return _done(store, result, outcome=outcome,
                     reasons=[f"{outcome}{who}: {answer.comment or 'no comment'}; Ollama left running"])  # fmt: skip
    # The question may have waited for hours without the lock (a rollback must stay possible meanwhile).
    changed = precheck(settings, store, ollama)
    if not changed.ok:
        reasons = [f"changed while the approval was pending: {r}" for r in changed.refusals]
        return _done(store, result, outcome="refused", reasons=reasons)
    result.kept, result.gpu = stop_and_measure(ollama, gpu)
    result.final_compose = [str(p) for p in final_compose(settings.workdir, settings.migration_id)]
    reasons = [f"approved by {answer.approver or answer.via}", result.gpu.sentence()]
    if not result.final_compose:
        reasons.append(f"no rendered compose file with an ollama service under {settings.workdir}/reports/"
                       f"{settings.migration_id}/compose: no final compose written")  # fmt: skip
    return _done(store, result, outcome="decommissioned", reasons=reasons)


def decommission(
    settings: Settings,
    store: Store,
    *,
    approve: Approve,
    gpu: NVMLSource,
    ollama: OllamaHost | None = None,
    records: Iterable[LogRecord] | None = None,
    now: datetime | None = None,
) -> DecommissionResult:
    """assess -> approve -> retire, for callers outside a flow (the flow asks through a Prefect pause)."""
    ready = assess(settings, store, ollama=ollama, records=records, now=now)
    if ready.outcome != "ready":
        return ready
    return retire(settings, store, ready, approve(evidence_of(ready)), gpu=gpu, ollama=ollama)


def _verdict_reasons(verdict: Verdict) -> list[str]:
    return [f"stability {verdict.status}: {r}" for r in verdict.reasons]


def _done(
    store: Store, result: DecommissionResult, *, reasons: list[str], outcome: str | None = None
) -> DecommissionResult:
    result = result.model_copy(update={"reasons": reasons, **({"outcome": outcome} if outcome else {})})
    if result.outcome == "decommissioned":
        # The way back needs to know what was kept, for as long as it exists.
        store.set_state(RESULT_STATE.format(result.migration_id), result.model_dump(mode="json"))
    detail: dict[str, object] = {"reasons": result.reasons[:20]}
    if result.kept is not None and result.outcome == "decommissioned":
        detail["kept"] = result.kept.model_dump(mode="json")
    store.audit("o2v", f"decommission-{result.outcome}", result.migration_id, detail)
    return result
