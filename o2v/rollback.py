"""Undo a side-by-side deploy: take vLLM down, keep its logs, record it in the ledger and the audit log.

Until the cutover gateway exists every client still talks to Ollama, so undoing the deploy is all a rollback
has to do. Plain library code: the rollback flow and the validate phase both call :func:`roll_back`.
"""

from __future__ import annotations

from o2v.config import Settings
from o2v.deploy import TeardownResult, teardown
from o2v.store import Store


def roll_back(settings: Settings, store: Store, *, reason: str, actor: str) -> TeardownResult:
    """Stop and remove vLLM (logs kept), mark the deploy undone so the next migrate run deploys again."""
    logs_dir = settings.workdir / "reports" / settings.migration_id / "rolled-back-logs"
    result = teardown(
        settings.vllm.container_name, settings.vllm.backend, keep_logs_dir=logs_dir, workdir=settings.workdir
    )
    store.invalidate_phase(settings.migration_id, "deploy", settings.config_hash(), f"rolled back: {reason}")
    detail = {"reason": reason, "migration_id": settings.migration_id}
    store.audit(actor, "rollback", settings.vllm.container_name, detail)
    return result
