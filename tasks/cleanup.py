"""What a gate that fails after the deploy does: take vLLM down (its logs kept), tell the team, then fail.

The smoke test and the validation suite both end here, so a wrong model caught by the smoke test leaves
the host exactly as a slow one caught by validation does: no vLLM holding GPU memory next to Ollama, the
ledger's deploy cancelled (the next run deploys again), the audit log and Slack saying why. The rollback
itself is one call, :func:`o2v.rollback.roll_back`, shared with the rollback flow and the validate phase.
"""

from __future__ import annotations

from o2v.rollback import roll_back
from tasks.common import MigrationContext


def roll_back_after_gate(ctx: MigrationContext, gate: str, status: str, reasons: list[str], *, actor: str) -> None:
    """Roll vLLM back and alert; the caller raises its GateFailed afterwards."""
    roll_back(ctx.settings, ctx.store, reason=f"{gate} {status}", actor=actor)
    ctx.notifier.alert(
        f"Migration {ctx.migration_id}: {gate} {status}; vLLM rolled back, clients stay on Ollama. "
        + "; ".join(reasons[:5])
    )
