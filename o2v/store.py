"""The results store: request samples, load-test runs, the phase ledger, the audit log and small state.

SQLAlchemy 2 over any URL; the default is a SQLite file under ``.o2v/`` in WAL mode so that readers (the
Prefect UI's artifacts, ``o2v diagnose``) never block the writers. PostgreSQL works the same way
(``postgresql://user:pass@host/db``; psycopg 3 is the driver installed). Samples arrive from many coroutines at
once (the load generator, the gateway); ``SampleWriter`` batches them so that no row is lost and the database
sees a few large inserts instead of thousands of small ones. Every database failure surfaces as ``StoreError``
with the URL (password hidden) and what to check.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from o2v.errors import StoreError
from o2v.store_routing import RoutingStoreMixin, RoutingTable
from o2v.store_schema import (
    AuditEntry,
    AuditRow,
    Backend,
    Base,
    LedgerEntry,
    LedgerRow,
    LoadTestRunRecord,
    LoadTestRunRow,
    PhaseStatus,
    RequestSample,
    SampleRow,
    Source,
    StateRow,
    as_utc,
    utcnow,
)
from o2v.store_writer import SampleWriter

__all__ = [
    "AuditEntry", "Backend", "LedgerEntry", "LoadTestRunRecord", "PhaseStatus", "RequestSample", "SampleWriter",
    "RoutingTable", "Source", "Store", "as_utc", "utcnow",
]

_SAMPLE_COLUMNS = tuple(RequestSample.model_fields)
_SAMPLES = SampleRow.__table__


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes even for timezone=True columns; everything in o2v is stored as UTC.
    return as_utc(value) if value is not None else None


class Store(RoutingStoreMixin):
    """All database access goes through here (the gateway's routing table: :mod:`o2v.store_routing`)."""

    def __init__(self, url: str, *, batch_size: int = 500) -> None:
        self.url = url
        self.batch_size = batch_size
        self.engine = _make_engine(url)
        with self._errors("creating the tables in"):
            Base.metadata.create_all(self.engine)
            _add_missing_sample_columns(self.engine)
        self._init_routing()

    @classmethod
    def from_settings(cls, settings: Any) -> Store:
        return cls(settings.store.url, batch_size=settings.store.batch_size)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- samples ----------------------------------------------------------------------------------------------
    def add_samples(self, samples: Iterable[RequestSample]) -> int:
        """Insert samples in batches of ``batch_size``, each batch one transaction; return how many."""
        rows = [s.model_dump() | {"time": as_utc(s.time)} for s in samples]
        for start in range(0, len(rows), self.batch_size):
            with self._errors("writing samples to"), self.engine.begin() as conn:
                conn.execute(insert(SampleRow), rows[start : start + self.batch_size])
        return len(rows)

    def samples(
        self,
        *,
        source: str | Sequence[str] | None = None,
        backend: str | None = None,
        run_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[RequestSample]:
        """Samples in time order; ``since`` is inclusive, ``until`` exclusive."""
        query = self._filtered(select(*(_SAMPLES.c[c] for c in _SAMPLE_COLUMNS)), source, backend, run_id, since, until)
        query = query.order_by(_SAMPLES.c.time, _SAMPLES.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._errors("reading samples from"), self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [RequestSample.model_validate(dict(r) | {"time": _aware(r["time"])}) for r in rows]

    def count_samples(
        self,
        *,
        source: str | Sequence[str] | None = None,
        backend: str | None = None,
        run_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        query = self._filtered(select(func.count()).select_from(_SAMPLES), source, backend, run_id, since, until)
        with self._errors("counting samples in"), self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _filtered(
        query: Any,
        source: str | Sequence[str] | None,
        backend: str | None,
        run_id: str | None,
        since: datetime | None,
        until: datetime | None,
    ) -> Any:
        if source is not None:
            query = query.where(_SAMPLES.c.source.in_([source] if isinstance(source, str) else list(source)))
        if backend is not None:
            query = query.where(_SAMPLES.c.backend == backend)
        if run_id is not None:
            query = query.where(_SAMPLES.c.run_id == run_id)
        if since is not None:
            query = query.where(_SAMPLES.c.time >= as_utc(since))
        if until is not None:
            query = query.where(_SAMPLES.c.time < as_utc(until))
        return query

    def writer(self, *, flush_interval_s: float = 0.5) -> SampleWriter:
        return SampleWriter(self, flush_interval_s=flush_interval_s)

    # -- load-test runs ---------------------------------------------------------------------------------------
    def save_run(self, run: LoadTestRunRecord) -> None:
        """Insert or replace the run with this ``run_id``."""
        row = run.model_dump(mode="json") | {
            "started": as_utc(run.started), "finished": _aware(run.finished),
        }
        with self._errors("saving a load-test run to"), self.engine.begin() as conn:
            conn.execute(delete(LoadTestRunRow).where(LoadTestRunRow.run_id == run.run_id))
            conn.execute(insert(LoadTestRunRow), [row])

    def runs(self) -> list[LoadTestRunRecord]:
        with self._errors("reading load-test runs from"), self.engine.connect() as conn:
            rows = conn.execute(select(LoadTestRunRow.__table__).order_by(LoadTestRunRow.started)).mappings().all()
        return [
            LoadTestRunRecord.model_validate(
                dict(r) | {"started": _aware(r["started"]), "finished": _aware(r["finished"])}
            )
            for r in rows
        ]

    # -- phase ledger -----------------------------------------------------------------------------------------
    def phase_started(self, migration_id: str, phase: str, config_hash: str) -> int:
        with self._errors("writing the phase ledger to"), self.engine.begin() as conn:
            result = conn.execute(
                insert(LedgerRow).values(
                    migration_id=migration_id, phase=phase, status="running", config_hash=config_hash,
                    started=utcnow(),
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def phase_finished(
        self, entry_id: int, status: PhaseStatus, *, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        payload = json.loads(json.dumps(result, default=str)) if result is not None else None
        with self._errors("writing the phase ledger to"), self.engine.begin() as conn:
            updated = conn.execute(
                update(LedgerRow)
                .where(LedgerRow.id == entry_id)
                .values(status=status, result=payload, error=error, finished=utcnow())
            )
        if updated.rowcount != 1:
            raise StoreError(f"phase ledger entry {entry_id} does not exist in {_safe(self.url)}; "
                             "call phase_started first and pass the id it returns")

    def ledger(self, migration_id: str) -> list[LedgerEntry]:
        query = select(LedgerRow.__table__).where(LedgerRow.migration_id == migration_id).order_by(LedgerRow.id)
        with self._errors("reading the phase ledger from"), self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            LedgerEntry.model_validate(
                {k: v for k, v in r.items() if k != "id"}
                | {"started": _aware(r["started"]), "finished": _aware(r["finished"])}
            )
            for r in rows
        ]

    def last_success(self, migration_id: str, phase: str, config_hash: str) -> LedgerEntry | None:
        """The phase's success under the same configuration, if it is still the latest finished outcome.

        A later failure (e.g. the deploy was rolled back after validation failed) cancels an earlier success,
        so a re-run does the phase again. Rows still 'running' (a killed run) and skips decide nothing.
        """
        for entry in reversed(self.ledger(migration_id)):
            if entry.phase != phase or entry.config_hash != config_hash or entry.status in ("running", "skipped"):
                continue
            return entry if entry.status == "succeeded" else None
        return None

    def invalidate_phase(self, migration_id: str, phase: str, config_hash: str, reason: str) -> None:
        """Record that a phase's earlier success no longer holds (its effect was undone)."""
        entry_id = self.phase_started(migration_id, phase, config_hash)
        self.phase_finished(entry_id, "failed", error=reason)

    # -- audit log and small state ----------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None) -> None:
        """Append who did what to which target (approvals, rollbacks); never updated or deleted."""
        entry = AuditEntry(actor=actor, action=action, target=target, detail=detail or {})
        row = entry.model_dump(mode="json") | {"time": as_utc(entry.time)}
        with self._errors("writing the audit log to"), self.engine.begin() as conn:
            conn.execute(insert(AuditRow), [row])

    def audit_log(self) -> list[AuditEntry]:
        with self._errors("reading the audit log from"), self.engine.connect() as conn:
            rows = conn.execute(select(AuditRow.__table__).order_by(AuditRow.id)).mappings().all()
        return [AuditEntry.model_validate(dict(r) | {"time": _aware(r["time"])}) for r in rows]

    def get_state(self, key: str) -> dict[str, Any] | None:
        with self._errors("reading state from"), self.engine.connect() as conn:
            value = conn.execute(select(StateRow.value).where(StateRow.key == key)).scalar_one_or_none()
        return dict(value) if value is not None else None

    def set_state(self, key: str, value: dict[str, Any]) -> None:
        """Insert or replace; concurrent writers of one key end with one of their values, never an error."""
        payload = json.loads(json.dumps(value, default=str))
        with self._errors("writing state to"), self.engine.begin() as conn:
            _upsert_state(conn, key, payload)

    # -- plumbing ---------------------------------------------------------------------------------------------
    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise StoreError(
                f"{doing} the results store at {_safe(self.url)} failed: {exc.__class__.__name__}: {detail} "
                "(check store.url and that the database is running and reachable)"
            ) from exc


def _upsert_state(conn: Connection, key: str, value: dict[str, Any]) -> None:
    row = {"key": key, "value": value, "updated": utcnow()}
    statement: Any
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(StateRow).values(**row)
    elif conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(StateRow).values(**row)
    else:  # other databases: replace inside the caller's transaction
        conn.execute(delete(StateRow).where(StateRow.key == key))
        conn.execute(insert(StateRow).values(**row))
        return
    changes = {"value": statement.excluded.value, "updated": statement.excluded.updated}
    conn.execute(statement.on_conflict_do_update(index_elements=[StateRow.key], set_=changes))


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"store.url must be a SQLAlchemy URL such as sqlite:///.o2v/o2v.db, got {url!r}") from exc
    if parsed.drivername == "postgres":  # the spelling Heroku and others use
        parsed = parsed.set(drivername="postgresql")
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
            # psycopg (3) is what o2v installs; accept plain postgresql:// URLs for it.
            try:
                import psycopg2  # noqa: F401
            except ImportError:
                parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(
            f"no database driver for {_safe(url)}: {exc} (o2v ships SQLite and PostgreSQL via psycopg)"
        ) from exc


def _sqlite_engine(parsed: Any) -> Engine:
    database = parsed.database
    in_memory = not database or database == ":memory:"
    if in_memory:
        # One shared connection: otherwise each thread (SampleWriter writes from a worker thread) would see
        # its own empty in-memory database.
        engine = create_engine(parsed, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def _add_missing_sample_columns(engine: Engine) -> None:
    """Stores created before a sample column existed get it added (create_all never alters a table)."""
    from sqlalchemy import inspect, text

    present = {c["name"] for c in inspect(engine).get_columns("samples")}
    with engine.begin() as conn:
        for column in _SAMPLES.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=engine.dialect)
                conn.execute(text(f"ALTER TABLE samples ADD COLUMN {column.name} {kind}"))
