"""The gateway's routing table in the store: which named client goes where, and the share of unnamed ones.

Every change is one transaction that also bumps a version counter and appends an audit row, so a gateway
replica only has to read one integer every half second to know whether to reload, and every change can be
traced to who made it. Mixed into :class:`o2v.store.Store`; import ``RoutingTable`` from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from o2v.store_schema import AuditEntry, AuditRow, Backend, RouteRow, RoutingStateRow, as_utc, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

BACKENDS: tuple[Backend, ...] = ("ollama", "vllm")


class RoutingTable(BaseModel):
    """A snapshot of the routing: named clients' backends, the unnamed share on vLLM, and its version."""

    version: int = Field(0, description="Bumped by every change; 0 = never written.")
    percent: float = Field(0.0, ge=0, le=100, description="Share of unnamed clients sent to vLLM.")
    routes: dict[str, Backend] = Field(default_factory=dict, description="Named client -> backend.")

    def backend_for(self, client: str) -> Backend | None:
        return self.routes.get(client)


class RoutingStoreMixin:
    """Routing-table methods of ``Store`` (which provides ``engine`` and ``_errors``)."""

    engine: Engine
    _errors: Callable[[str], AbstractContextManager[None]]  # Store's: names the store and what was being done

    def routing_version(self) -> int:
        """The table's version: the cheap read every gateway replica makes twice a second."""
        with self._errors("reading the routing version from"), self.engine.connect() as conn:
            value = conn.execute(select(RoutingStateRow.version).where(RoutingStateRow.id == 1)).scalar_one_or_none()
        return int(value or 0)

    def routing_table(self) -> RoutingTable:
        with self._errors("reading the routing table from"), self.engine.connect() as conn:
            state = conn.execute(
                select(RoutingStateRow.version, RoutingStateRow.percent).where(RoutingStateRow.id == 1)
            ).first()
            rows = conn.execute(select(RouteRow.client, RouteRow.backend)).all()
        version, percent = (int(state[0]), float(state[1])) if state else (0, 0.0)
        return RoutingTable(version=version, percent=percent, routes={r[0]: r[1] for r in rows})

    def set_routes(self, routes: Mapping[str, Backend], *, actor: str, reason: str = "") -> RoutingTable:
        """Set the backend of several named clients at once (one version bump)."""
        for client, backend in routes.items():
            _check_backend(backend, client)
        detail = {"routes": dict(routes), "reason": reason}
        with self._change("set_routes", actor, ",".join(sorted(routes)), detail) as conn:
            for client, backend in routes.items():
                _upsert_route(conn, client, backend)
        return self.routing_table()

    def set_route(self, client: str, backend: Backend, *, actor: str, reason: str = "") -> RoutingTable:
        return self.set_routes({client: backend}, actor=actor, reason=reason)

    def set_percent(self, percent: float, *, actor: str, reason: str = "") -> RoutingTable:
        """Share (0-100) of unnamed clients sent to vLLM; a client's place in the order never changes."""
        if not 0 <= percent <= 100:
            raise ValueError(f"percent must be between 0 and 100, got {percent}")
        with self._change("set_percent", actor, "unnamed", {"percent": percent, "reason": reason}, percent=percent):
            pass
        return self.routing_table()

    def reset_routes(self, *, actor: str, reason: str = "") -> RoutingTable:
        """Roll everything back: every named client to Ollama and no unnamed client on vLLM."""
        with self._change("rollback_all", actor, "*", {"reason": reason}, percent=0.0) as conn:
            conn.execute(update(RouteRow).values(backend="ollama", updated=utcnow()))
        return self.routing_table()

    # -- one change = one transaction: the rows, the version bump and the audit entry ------------------------
    @contextmanager
    def _change(
        self, action: str, actor: str, target: str, detail: dict[str, Any], *, percent: float | None = None
    ) -> Iterator[Connection]:
        entry = AuditEntry(actor=actor, action=action, target=target, detail=detail)
        with self._errors("changing the routing table in"), self.engine.begin() as conn:
            yield conn
            values: dict[str, Any] = {"version": RoutingStateRow.version + 1, "updated": utcnow()}
            if percent is not None:
                values["percent"] = percent
            conn.execute(update(RoutingStateRow).where(RoutingStateRow.id == 1).values(**values))
            conn.execute(insert(AuditRow), [entry.model_dump(mode="json") | {"time": as_utc(entry.time)}])

    def _init_routing(self) -> None:
        """Create the single state row (version 0) once, so a change is always a plain UPDATE."""
        with self._errors("preparing the routing table in"):
            try:
                with self.engine.begin() as conn:
                    if conn.execute(select(RoutingStateRow.id).where(RoutingStateRow.id == 1)).first() is None:
                        conn.execute(insert(RoutingStateRow).values(id=1, version=0, percent=0.0, updated=utcnow()))
            except IntegrityError:  # another process created it between our read and our insert
                pass


def _check_backend(backend: str, client: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend for {client!r} must be 'ollama' or 'vllm', got {backend!r}")


def _upsert_route(conn: Connection, client: str, backend: str) -> None:
    changed = conn.execute(
        update(RouteRow).where(RouteRow.client == client).values(backend=backend, updated=utcnow())
    ).rowcount
    if not changed:
        conn.execute(insert(RouteRow).values(client=client, backend=backend, updated=utcnow()))
