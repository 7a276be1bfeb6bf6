"""Locks in the results store: one run at a time per migration (its ledger) and per vLLM container.

Why in the store and not only in Prefect: ``prefect.yaml`` limits each deployment to one run at a time
(``concurrency_limit: 1``), but migrate and rollback are two deployments, ``o2v migrate``/``o2v rollback`` and
``o2v rehearse`` run without a Prefect server, and two migration ids may name the same container. The store is
the one thing every run of every kind sees.

How: a row per locked resource (table ``resource_locks``, the resource is the primary key). Taking a free lock
is one INSERT, so of two runs racing for it exactly one succeeds, on SQLite and PostgreSQL alike. A held lock
whose ``expires`` has passed (its holder died without releasing it) is taken over with one conditional UPDATE
that names the old owner and the expiry, so again only one contender wins. The holder's heartbeat thread pushes
``expires`` forward every third of ``ttl_s``; a holder that finds its row gone or taken over marks itself
``lost`` and the phase runner stops before the next phase (``check``). Times come from the runs' own clocks:
keep the hosts that share a store in NTP sync, and ``ttl_s`` well above any skew.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from o2v.errors import LockHeld, StoreError
from o2v.store_schema import LockRow, as_utc, utcnow

if TYPE_CHECKING:
    from o2v.config import Settings
    from o2v.store import Store

WAIT_HINT = (
    "wait for that run to finish or cancel it in the Prefect UI, then run again; a run that died keeps its lock "
    "until store.lock_ttl_s after its last heartbeat, then the next run takes it over"
)


class LockInfo(BaseModel):
    """One row of ``resource_locks``: who holds what, since when, and until when without a heartbeat."""

    resource: str
    owner: str
    flow_run_id: str | None = None
    purpose: str
    acquired: datetime
    heartbeat: datetime
    expires: datetime

    def describe(self) -> str:
        run = f"flow run {self.flow_run_id}" if self.flow_run_id else f"owner {self.owner}"
        return (
            f"a {self.purpose} run ({run}) since {self.acquired:%Y-%m-%d %H:%M:%S} UTC, last heartbeat "
            f"{self.heartbeat:%H:%M:%S} UTC, expires {self.expires:%H:%M:%S} UTC"
        )


def migration_resources(migration_id: str, container_name: str) -> list[str]:
    """What a migrate or rollback run locks: the migration's ledger and the vLLM container it acts on."""
    return [f"migration:{migration_id}", f"vllm-container:{container_name}"]


def lock_for(
    settings: Settings,
    store: Store,
    purpose: str,
    *,
    flow_run_id: str | None = None,
    on_wait: Callable[[LockInfo], None] | None = None,
) -> StoreLock:
    """The lock a migrate or rollback run of ``settings.migration_id`` takes, sized by ``store.lock_*``."""
    return StoreLock(
        store, migration_resources(settings.migration_id, settings.vllm.container_name), purpose=purpose,
        flow_run_id=flow_run_id, ttl_s=settings.store.lock_ttl_s, wait_s=settings.store.lock_wait_s, on_wait=on_wait,
    )


def holders(store: Store) -> list[LockInfo]:
    """Every lock currently in the table (held or expired but not yet taken over)."""
    with _errors(store, "reading locks from"), store.engine.connect() as conn:
        rows = conn.execute(select(LockRow.__table__).order_by(LockRow.resource)).mappings().all()
    return [_info(r) for r in rows]


class StoreLock:
    """All-or-nothing lock on several resources; a context manager. Not re-entrant: take it once per run."""

    def __init__(
        self,
        store: Store,
        resources: list[str],
        *,
        purpose: str,
        flow_run_id: str | None = None,
        ttl_s: float = 120.0,
        wait_s: float = 0.0,
        poll_s: float = 1.0,
        on_wait: Callable[[LockInfo], None] | None = None,
    ) -> None:
        self.store = store
        self.resources = sorted(set(resources))  # one order for everyone: no two runs each hold half
        self.purpose = purpose
        self.flow_run_id = flow_run_id
        self.owner = f"{purpose}-{uuid.uuid4().hex[:12]}"
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.on_wait = on_wait  # told once, when this run starts waiting for a holder
        self.taken_over: list[LockInfo] = []  # expired locks of dead runs this run took over
        self.lost = False
        self._held: list[str] = []
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        """Take every resource or none; wait up to ``wait_s`` for a holder to finish, else raise LockHeld."""
        deadline = time.monotonic() + self.wait_s
        told = False
        while True:
            blocker = self._try_all()
            if blocker is None:
                break
            remaining = deadline - time.monotonic()
            if remaining > 0 and not told and self.on_wait is not None:
                self.on_wait(blocker)
                told = True
            if remaining <= 0:
                waited = f" (waited {self.wait_s:.0f} s)" if self.wait_s else ""
                raise LockHeld(blocker.resource, blocker.describe() + waited, WAIT_HINT)
            time.sleep(min(self.poll_s, remaining))
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat_loop, name=f"o2v-lock-{self.owner}", daemon=True)
        self._beat.start()

    def check(self) -> None:
        """Raise if another run took the lock over (this run's heartbeat lapsed): stop before touching more."""
        if self.lost:
            raise LockHeld(
                ", ".join(self.resources),
                "another run: this run's heartbeat lapsed for longer than store.lock_ttl_s and it was taken over",
                "this run stopped before its next phase; look at the other run, then run again if still needed",
            )

    def release(self) -> None:
        """Stop the heartbeat and delete this run's rows (rows another run took over are left alone)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=max(5.0, self.ttl_s))
            self._beat = None
        self._release_held()

    def heartbeat(self) -> bool:
        """Push ``expires`` forward; False (and ``lost``) when a row is no longer this run's."""
        now = utcnow()
        with _errors(self.store, "renewing a lock in"), self.store.engine.begin() as conn:
            renewed = conn.execute(
                update(LockRow)
                .where(LockRow.resource.in_(self._held), LockRow.owner == self.owner)
                .values(heartbeat=now, expires=now + timedelta(seconds=self.ttl_s))
            ).rowcount
        if renewed != len(self._held):
            self.lost = True
        return not self.lost

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _try_all(self) -> LockInfo | None:
        for resource in self.resources:
            blocker = self._try_one(resource)
            if blocker is not None:
                self._release_held()
                return blocker
            self._held.append(resource)
        return None

    def _release_held(self) -> None:
        if self._held:
            with _errors(self.store, "releasing a lock in"), self.store.engine.begin() as conn:
                conn.execute(delete(LockRow).where(LockRow.resource.in_(self._held), LockRow.owner == self.owner))
            self._held = []

    def _try_one(self, resource: str) -> LockInfo | None:
        """None when this run now holds ``resource``, else the current holder."""
        for _ in range(3):  # the holder may release between our INSERT and our SELECT: try again
            now = utcnow()
            row = self._row(resource, now)
            try:
                with self.store.engine.begin() as conn:
                    conn.execute(insert(LockRow).values(**row))
                return None
            except IntegrityError:
                pass  # held (or just expired): look at the holder
            except SQLAlchemyError as exc:
                raise _store_error(self.store, "taking a lock in", exc) from exc
            with _errors(self.store, "taking a lock in"), self.store.engine.begin() as conn:
                current = conn.execute(select(LockRow.__table__).where(LockRow.resource == resource)).mappings().first()
                if current is None:
                    continue
                holder = _info(current)
                if holder.expires >= now:
                    return holder
                # Owners are unique per acquisition, and a live holder's heartbeat moves `expires` past now:
                # this matches only if the holder is still the dead one, so one contender wins.
                took = conn.execute(
                    update(LockRow)
                    .where(LockRow.resource == resource, LockRow.owner == holder.owner, LockRow.expires < now)
                    .values(**{k: v for k, v in row.items() if k != "resource"})
                ).rowcount
            if took == 1:
                self.taken_over.append(holder)
                return None
        raise StoreError(f"the lock on {resource} changed hands three times while this run tried to take it; run again")

    def _row(self, resource: str, now: datetime) -> dict[str, Any]:
        return {
            "resource": resource, "owner": self.owner, "flow_run_id": self.flow_run_id, "purpose": self.purpose,
            "acquired": now, "heartbeat": now, "expires": now + timedelta(seconds=self.ttl_s),
        }

    def _heartbeat_loop(self) -> None:
        interval = self.ttl_s / 3
        last_ok = time.monotonic()
        while not self._stop.wait(interval):
            try:
                if not self.heartbeat():
                    return
                last_ok = time.monotonic()
            except StoreError:
                # The database is unreachable: keep trying, but once the lock has expired another run may have it.
                if time.monotonic() - last_ok > self.ttl_s:
                    self.lost = True
                    return


def _info(row: Any) -> LockInfo:
    data = dict(row)
    for key in ("acquired", "heartbeat", "expires"):
        data[key] = as_utc(data[key])
    return LockInfo.model_validate(data)


def _store_error(store: Store, doing: str, exc: SQLAlchemyError) -> StoreError:
    url = make_url(store.url).render_as_string(hide_password=True)
    detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    return StoreError(f"{doing} the results store at {url} failed: {exc.__class__.__name__}: {detail} "
                      "(check store.url and that the database is running and reachable)")


class _errors:  # noqa: N801 - used like a function in `with`
    def __init__(self, store: Store, doing: str) -> None:
        self.store, self.doing = store, doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if isinstance(exc, SQLAlchemyError):
            raise _store_error(self.store, self.doing, exc) from exc
