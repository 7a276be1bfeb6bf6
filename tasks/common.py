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
        lines += model_markdown(redact_data(result.model_dump(mode="json")), depth=2)
    body = "\n".join(lines)
    return body if len(body) <= 40_000 else body[:40_000] + "\n\n... (truncated)"


MAX_ROWS = 100


def model_markdown(data: dict[str, Any], depth: int) -> list[str]:
    """Any result as a person reads it: its plain fields in a table, each list of records as a table under
    its own heading, nested records as sub-sections. Used for results without a ``to_markdown`` of their own."""
    plain = {key: value for key, value in data.items() if not isinstance(value, dict | list)}
    lines = ["| field | value |", "|---|---|", *(f"| {key} | {_cell(value)} |" for key, value in plain.items()), ""]
    lines = lines if plain else []
    heading = "#" * min(depth, 6)
    for key, value in data.items():
        if not value or not isinstance(value, dict | list):
            continue
        lines += [f"{heading} {key}", ""]
        if isinstance(value, dict):
            lines += model_markdown(value, depth + 1)
        elif all(isinstance(item, dict) for item in value):
            columns = list(dict.fromkeys(column for item in value for column in item))
            lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(_cell(item.get(c)) for c in columns) + " |" for item in value[:MAX_ROWS]]
            lines += [f"\n... and {len(value) - MAX_ROWS} more" if len(value) > MAX_ROWS else "", ""]
        else:
            lines += [f"- {_cell(item)}" for item in value[:MAX_ROWS]] + [""]
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str, separators=(", ", ": "))
        text = text if len(text) <= 160 else text[:157] + "..."
        return f"`{text.replace('|', '&#124;').replace('`', '')}`"
    return str(value).replace("|", "\\|").replace("\n", " ")


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


def _in_run() -> bool:
    from prefect.context import get_run_context
    from prefect.exceptions import MissingContextError

    try:
        get_run_context()
    except MissingContextError:
        return False
    return True


def table_artifact(key: str, columns: list[str], rows: list[list[str]], description: str) -> None:
    """A table the Prefect UI renders as one (sortable, with headers), beside the phase's Markdown summary."""
    from prefect.artifacts import create_table_artifact

    if _in_run():
        table = [dict(zip(columns, row, strict=False)) for row in rows]
        create_table_artifact(table=table, key=key, description=description)


class LevelProgress:
    """A progress artifact that moves as a long phase finishes its load levels (the UI shows a bar).

    Called from inside the load generator's event loop, between levels: ``_sync=True`` makes Prefect's
    dispatcher send the update now instead of returning a coroutine nobody awaits.
    """

    def __init__(self, key: str, total_levels: int, description: str) -> None:
        from prefect.artifacts import create_progress_artifact

        self.total = max(1, total_levels)
        self.done = 0
        self.artifact_id = None
        if _in_run():
            self.artifact_id = create_progress_artifact(0.0, key=key, description=description)

    def __call__(self, _level: object = None) -> None:
        self.done += 1
        self._send(min(100.0, 100.0 * self.done / self.total))

    def finish(self) -> None:
        self._send(100.0)

    def _send(self, percent: float) -> None:
        from prefect.artifacts import update_progress_artifact

        if self.artifact_id is not None:
            update_progress_artifact(self.artifact_id, percent, _sync=True)  # type: ignore[call-arg,arg-type]


def file_link(path: str) -> str:
    """A Markdown link to a report file on the machine that ran the phase: the UI shows it as a link."""
    resolved = Path(path).resolve()
    return f"[{resolved.name}]({resolved.as_uri()})"
