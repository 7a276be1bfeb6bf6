"""What every phase task shares: the migration context and the ledger + Slack + artifact wrapper."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from o2v.config import Settings
from o2v.errors import PhaseError
from o2v.notify import Notifier
from o2v.phase_keys import phase_key
from o2v.phases import PhaseRunner
from o2v.redact import redact, redact_data
from o2v.store import Store

T = TypeVar("T", bound=BaseModel)


@dataclass
class MigrationContext:
    """Built once per flow run; passed to every phase task."""

    settings: Settings
    store: Store
    runner: PhaseRunner
    notifier: Notifier
    reports_dir: Path
    flow_run_url: str | None = None

    @property
    def migration_id(self) -> str:
        return self.settings.migration_id


def run_phase(
    ctx: MigrationContext,
    phase: str,
    work: Callable[[], T],
    result_type: type[T],
    figures: Callable[[T], dict[str, str]] = lambda _result: {},
    *,
    upstream: Sequence[BaseModel] = (),
    params: Mapping[str, Any] | None = None,
) -> T:
    """Run one phase through the ledger, tell the team, and leave an artifact in the Prefect UI.

    ``upstream`` (the earlier results the phase consumes) and ``params`` (the flow parameters it reads) join
    the settings it reads in the phase's ledger key (``o2v.phase_keys``).
    """
    key = phase_key(ctx.settings, phase, upstream=upstream, params=params)
    try:
        result, skipped = ctx.runner.run(phase, work, result_type, key=key)
    except PhaseError as exc:
        ctx.notifier.phase(
            ctx.migration_id, phase, "failed", {"reason": exc.reason, "what to do": exc.hint},
            flow_run_url=ctx.flow_run_url,
        )
        _artifact(phase, f"# {phase}: failed\n\n**Reason:** {exc.reason}\n\n**What to do:** {exc.hint}\n")
        safe = PhaseError(exc.phase, redact(exc.reason), redact(exc.hint))
        if str(safe) != str(exc):
            # The message becomes the Prefect state and log line; the original chain would repeat the secret.
            raise safe from None
        raise
    shown = figures(result)
    status = "skipped" if skipped else "succeeded"
    if skipped:
        shown = {"note": "succeeded in an earlier run with the same inputs; not repeated", **shown}
    ctx.notifier.phase(ctx.migration_id, phase, status, shown, flow_run_url=ctx.flow_run_url)
    _artifact(phase, _markdown(phase, status, shown, result))
    return result


def _markdown(phase: str, status: str, figures: dict[str, str], result: BaseModel) -> str:
    lines = [f"# {phase}: {status}", ""]
    if figures:
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in figures.items()]
        lines.append("")
    to_markdown = getattr(result, "to_markdown", None)
    if callable(to_markdown):
        lines.append(str(to_markdown()))
    else:
        body = json.dumps(redact_data(result.model_dump(mode="json")), indent=2, default=str)
        if len(body) > 20_000:
            body = body[:20_000] + "\n... (truncated)"
        lines += ["```json", body, "```"]
    return "\n".join(lines)


def _artifact(phase: str, markdown: str) -> None:
    from prefect.artifacts import create_markdown_artifact
    from prefect.context import get_run_context
    from prefect.exceptions import MissingContextError

    try:
        get_run_context()
    except MissingContextError:
        return  # called outside a flow run (plain library use): nothing to attach the artifact to
    create_markdown_artifact(
        key=phase.replace("_", "-"), markdown=redact(markdown), description=f"o2v phase {phase}"
    )
