"""Prefect tasks of the baseline monitor: thin wrappers over o2v.monitor and the checks runner."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from checks.gx_project import project_dir_for
from checks.runner import run_suite
from checks.verdict import Verdict
from o2v.config import Settings
from o2v.monitor import Action, MonitorState, ProbeResult, advance, load_state, run_probe, state_key, window_samples
from o2v.store import Store


class MonitorReport(BaseModel):
    """What one scheduled run found and did; the flow's return value and its artifact."""

    ollama_url: str
    probe: ProbeResult
    verdict: Verdict
    action: Action
    state: MonitorState

    def to_markdown(self) -> str:
        probe = (
            f"{self.probe.completed}/{self.probe.requests} requests completed in {self.probe.duration_s:.1f} s"
            if self.probe.ok
            else f"failed: {self.probe.error}"
        )
        lines = [
            f"# Baseline monitor: {self.ollama_url}",
            "",
            f"**Probe:** {probe}",
            f"**Outgrown now:** {'yes' if self.state.outgrown else 'no'}"
            f" | **action:** {self.action} | **alerts so far:** {self.state.alerts_sent}",
            "",
            self.verdict.to_markdown(),
        ]
        return "\n".join(lines)


@task(name="baseline-probe", cache_policy=NO_CACHE, tags=["o2v", "baseline"])
def probe_ollama(settings: Settings, store: Store) -> ProbeResult:
    """Send the small probe workload; an unreachable Ollama comes back as ``ok=False``, not as an exception."""
    return run_probe(settings, store)


@task(name="baseline-check", cache_policy=NO_CACHE, tags=["o2v", "baseline", "gx"])
def check_baseline(settings: Settings, store: Store, probe: ProbeResult | None = None) -> Verdict:
    """Run the 'baseline' GX suite over the last monitor.window_s of probe samples, with Data Docs."""
    samples = window_samples(settings, store, anchor=probe.started if probe is not None else None)
    # The project's lasting GX Data Docs: every scheduled run adds a page, so the baseline keeps its history.
    return run_suite(
        "baseline",
        samples,
        settings.thresholds,
        project_dir=project_dir_for(settings),
        docs_base_url=settings.store.data_docs_base_url,
    )


@task(name="baseline-crossing", cache_policy=NO_CACHE, tags=["o2v", "baseline"])
def record_crossing(
    settings: Settings, store: Store, probe: ProbeResult, verdict: Verdict
) -> tuple[MonitorState, Action]:
    """Advance the stored outgrown/unreachable state; the action says whether to alert."""
    key = state_key(settings)
    state, action = advance(load_state(store, key), probe_ok=probe.ok, verdict_status=verdict.status)
    store.set_state(key, state.model_dump(mode="json"))
    if action != "none":
        store.audit(
            "baseline-monitor",
            action,
            settings.ollama.url,
            {"verdict": verdict.status, "reasons": verdict.reasons, "probe_error": probe.error},
        )
    return state, action
