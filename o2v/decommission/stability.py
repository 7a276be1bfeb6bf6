"""vLLM's stability over the whole window since the cutover, judged by the "decommission" GX suite."""

from __future__ import annotations

from datetime import datetime

from checks.verdict import Verdict
from o2v.config import Settings
from o2v.cutover.measure import stored_baseline
from o2v.store import Store


def judge_window(settings: Settings, store: Store, *, since: datetime, until: datetime) -> Verdict:
    """Every gateway sample on vLLM in [since, until) against the validation's Ollama samples."""
    from checks.gx_project import project_dir_for
    from checks.runner import run_suite

    live = store.samples(source="gateway", backend="vllm", since=since, until=until)
    baseline = stored_baseline(store, settings.migration_id, None)  # the validation's Ollama samples
    return run_suite(
        "decommission",
        live,
        settings.thresholds,
        baseline=baseline or None,
        project_dir=project_dir_for(settings),
        docs_base_url=settings.store.data_docs_base_url,
    )
