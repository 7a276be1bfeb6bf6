"""baseline-monitor: probe Ollama on a schedule, keep the baseline, alert once when it is outgrown.

Deployed from prefect.yaml as ``flows/baseline.py:baseline_monitor`` with a working-hours cron. Each run:
probe (samples recorded) -> 'baseline' GX suite over the recent window -> advance the stored crossing state ->
alert Slack only on a new crossing (or a new outage). A failed probe or an unreachable Slack never fails the run.
"""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from checks.verdict import Verdict
from o2v.config import Settings, load_settings
from o2v.monitor import ProbeResult
from o2v.notify import notifier_from_settings
from o2v.store import Store
from tasks.baseline import MonitorReport, check_baseline, probe_ollama, record_crossing
from tasks.notify import current_flow_run_url, notify_alert

FIGURE_NAMES = {
    "ollama p95 e2e latency ms": "p95 e2e latency",
    "ollama queue share of latency": "queue share",
    "ollama timeout rate": "timeout rate",
    "ollama error rate": "error rate",
}


@flow(name="baseline-monitor", log_prints=True)
def baseline_monitor(config_path: str | None = None) -> MonitorReport:
    """Probe Ollama, judge the recent baseline with Great Expectations, alert once per crossing."""
    settings = load_settings(config_path)
    store = Store.from_settings(settings)
    notifier = notifier_from_settings(settings, store=store)
    link = current_flow_run_url()

    probe = probe_ollama(settings, store)
    verdict = check_baseline(settings, store, probe)
    state, action = record_crossing(settings, store, probe, verdict)
    if action == "alert_outgrown":
        notify_alert(
            notifier,
            outgrown_text(settings, verdict),
            figures=alert_figures(settings, verdict),
            flow_run_url=link,
            level="warning",
        )
    elif action == "alert_unreachable":
        notify_alert(notifier, unreachable_text(settings, probe), flow_run_url=link, level="critical")
    report = MonitorReport(ollama_url=settings.ollama.url, probe=probe, verdict=verdict, action=action, state=state)
    print(f"baseline-monitor: {verdict.summary()} | action: {action}")
    create_markdown_artifact(key="baseline-monitor", markdown=report.to_markdown(), description="o2v baseline")
    return report


def outgrown_text(settings: Settings, verdict: Verdict) -> str:
    reasons = "; ".join(verdict.reasons[:4])
    return (
        f"Ollama at {settings.ollama.url} has outgrown its load: {reasons}. "
        "This is the evidence for migrating to vLLM: run `o2v diagnose` and the migrate deployment. "
        "No further alert until the endpoint recovers and crosses again."
    )


def unreachable_text(settings: Settings, probe: ProbeResult) -> str:
    return (
        f"Ollama at {settings.ollama.url} did not answer the baseline probe ({probe.error}). "
        "Recorded as a failed probe; no further alert until it answers again."
    )


def alert_figures(settings: Settings, verdict: Verdict) -> dict[str, str]:
    figures: dict[str, str] = {}
    for name, label in FIGURE_NAMES.items():
        if name in verdict.figures:
            value = verdict.figures[name]
            figures[label] = f"{value / 1000:.1f} s" if name.endswith(" ms") else f"{value * 100:.1f} %"
    window_s = settings.monitor.window_s
    span = (
        f"{window_s / 3600:g} h"
        if window_s >= 3600
        else f"{window_s / 60:g} min"
        if window_s >= 60
        else f"{window_s:g} s"
    )
    figures["samples"] = f"{verdict.sample_count} in the last {span}"
    if verdict.data_docs_path:
        figures["GX Data Docs"] = verdict.data_docs_url or verdict.data_docs_path
    return figures
