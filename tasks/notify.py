"""Prefect tasks over o2v.notify: the notifier already swallows Slack failures, so these never fail a flow.

No retries here on purpose: slack_sdk retries rate limits and connection errors itself, and a retried task
would post the same message twice. No caching either: every call is a new message.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from o2v.notify import Notifier


@task(name="notify-phase", cache_policy=NO_CACHE, tags=["o2v", "notify"])
def notify_phase(
    notifier: Notifier,
    migration_id: str,
    phase: str,
    status: str,
    figures: dict[str, str],
    flow_run_url: str | None = None,
) -> None:
    """One threaded phase message (Slack) or console line + artifact."""
    notifier.phase(migration_id, phase, status, figures, flow_run_url=flow_run_url)


@task(name="notify-alert", cache_policy=NO_CACHE, tags=["o2v", "notify"])
def notify_alert(
    notifier: Notifier,
    text: str,
    figures: dict[str, str] | None = None,
    flow_run_url: str | None = None,
    level: str = "warning",
) -> None:
    """A top-level alert (not part of a migration thread), e.g. 'Ollama is outgrown'."""
    notifier.alert(text, figures=figures, flow_run_url=flow_run_url, level=level)


def current_flow_run_url() -> str | None:
    """The Prefect UI link of the running flow, for the 'Prefect flow run' link in messages."""
    from prefect.runtime import flow_run

    try:
        url = flow_run.get_flow_run_ui_url()
    except Exception:  # noqa: BLE001 - no UI configured or not in a run: messages go without a link
        return None
    # Without a UI (the ephemeral API) Prefect still builds a link starting "None/": no link beats a dead one.
    return url if url and url.startswith("http") else None
