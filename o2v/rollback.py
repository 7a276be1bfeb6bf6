"""Undo the move: route every client back to Ollama through the gateway's table, then (optionally) take vLLM down.

Two entry points share this module:

- :func:`route_back`: the routing half only, used by the cutover's automatic rollback (to Ollama, or to the
  previous stage) and by :func:`roll_back`. New requests follow the table within a second on every gateway
  replica; requests in flight finish where they started, so nothing is lost.
- :func:`roll_back`: the on-demand rollback (``o2v rollback``, the ``rollback`` deployment, a failed
  validation): routes everyone back, records the cutover position, then stops and removes vLLM (logs kept)
  unless ``keep_vllm``.
"""

from __future__ import annotations

from typing import Literal

from o2v.config import Settings
from o2v.deploy import TeardownResult, teardown
from o2v.store import Store
from o2v.store_routing import RoutingTable


def route_back(
    settings: Settings, store: Store, *, to: Literal["ollama", "previous"], reason: str, actor: str
) -> RoutingTable:
    """Put the routing table back: everyone on Ollama, or the routes of the stage before the one in force."""
    from o2v.cutover.position import load_position, save_position
    from o2v.cutover.stages import named_clients, resolve_stages, routing_at, seen_clients

    position = load_position(store, settings.migration_id)
    target = max(position.in_force - 1, 0) if to == "previous" else 0
    current = store.routing_table()
    if target == 0 and current.percent == 0 and set(current.routes.values()) <= {"ollama"}:
        return current  # everyone is on Ollama already (e.g. a validation rollback before any cutover): no change
    if target == 0:
        table = store.reset_routes(actor=actor, reason=reason)
    else:
        stages = resolve_stages(settings)
        everyone = named_clients(settings, stages, current.routes, seen_clients(store))
        routes, percent = routing_at(stages, target, everyone)
        store.set_routes(routes, actor=actor, reason=reason)
        table = store.set_percent(percent, actor=actor, reason=reason)
    detail = {"reason": reason, "to": "ollama" if target == 0 else f"stage-{target}", "from": position.in_force}
    store.audit(actor, "route-back", settings.migration_id, detail)
    if position.status != "not-started":  # a validation rollback before any cutover leaves no position behind
        save_position(store, position, in_force=target, status="rolled-back", reason=reason)
    return table


def roll_back(
    settings: Settings, store: Store, *, reason: str, actor: str, keep_vllm: bool = False
) -> TeardownResult | None:
    """Every client back on Ollama first; then stop and remove vLLM (logs kept) unless ``keep_vllm``.

    The deploy is marked undone so the next migrate run deploys again.
    """
    route_back(settings, store, to="ollama", reason=reason, actor=actor)
    from o2v.decommission.schedule import cancel_scheduled_decommission

    # A rollback before the scheduled decommission means Ollama is needed: that run must not happen.
    cancel_scheduled_decommission(store, settings.migration_id, reason=reason, actor=actor)
    if keep_vllm:
        return None
    logs_dir = settings.workdir / "reports" / settings.migration_id / "rolled-back-logs"
    result = teardown(
        settings.vllm.container_name, settings.vllm.backend, keep_logs_dir=logs_dir, workdir=settings.workdir
    )
    store.invalidate_phase(settings.migration_id, "deploy", settings.config_hash(), f"rolled back: {reason}")
    detail = {"reason": reason, "migration_id": settings.migration_id}
    store.audit(actor, "rollback", settings.vllm.container_name, detail)
    return result
