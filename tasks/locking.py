"""The migrate and rollback flows take the migration's lock in the store before touching anything.

``prefect.yaml`` already queues a second run of the same deployment (``concurrency_limit: 1``); this lock also
covers migrate against rollback, runs without a Prefect server (``o2v migrate``, ``o2v rehearse``) and two
migration ids sharing one container. A refused run fails at once with who holds the lock and what to do, and
tells the team on the migration's thread; a run allowed to wait (``store.lock_wait_s``) says so first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prefect import get_run_logger
from prefect.exceptions import MissingContextError

from o2v.config import Settings
from o2v.errors import LockHeld, PhaseError
from o2v.notify import Notifier
from o2v.store import Store
from o2v.store_lock import LockInfo, StoreLock, lock_for


@contextmanager
def hold_migration_lock(
    settings: Settings, store: Store, notifier: Notifier, purpose: str, *, flow_run_url: str | None = None
) -> Iterator[StoreLock]:
    """Hold the lock on the migration and its vLLM container for the block; raise PhaseError if refused."""
    log = _log()

    def waiting(holder: LockInfo) -> None:
        log(f"{holder.resource} is held by {holder.describe()}; waiting up to "
            f"{settings.store.lock_wait_s:.0f} s (store.lock_wait_s) for it")

    lock = lock_for(settings, store, purpose, flow_run_id=current_flow_run_id(), on_wait=waiting)
    try:
        lock.acquire()
    except LockHeld as exc:
        reason = f"another run is working on this migration: {exc.resource} is locked by {exc.holder}"
        notifier.phase(
            settings.migration_id, f"{purpose} (lock)", "failed", {"reason": reason, "what to do": exc.hint},
            flow_run_url=flow_run_url,
        )
        raise PhaseError("(lock)", reason, exc.hint) from exc
    for dead in lock.taken_over:
        log(f"took over the expired lock on {dead.resource} from {dead.describe()}")
        store.audit(lock.owner, "lock-taken-over", dead.resource, dead.model_dump(mode="json"))
    try:
        yield lock
    finally:
        lock.release()


def current_flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    run_id = flow_run.id
    return str(run_id) if run_id else None


def _log() -> Callable[[str], None]:
    try:
        logger = get_run_logger()
    except MissingContextError:
        return print  # plain library use, outside a flow run
    return logger.warning
