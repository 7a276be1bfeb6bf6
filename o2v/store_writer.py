"""``SampleWriter``: many coroutines record samples, the database sees a few large inserts.

The load generator and the gateway produce one sample per request from hundreds of coroutines. Writing each
one would serialise them on the database (SQLite allows one writer at a time) and block the event loop.
Instead ``add`` only appends to a list (no await, so no interleaving can lose an item), and a background task
hands whole batches to a worker thread. Import it from ``o2v.store``.

The writer depends only on ``SampleSink`` (something with ``batch_size`` and ``add_samples``), defined here, and
the records in ``o2v.store_schema``; ``o2v.store.Store`` is one such sink. So the imports point one way:
``store -> store_writer -> store_schema``, and the writer can be tested against any sink.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Protocol

from o2v.errors import StoreError
from o2v.store_schema import RequestSample


class SampleSink(Protocol):
    """Where batches go: ``o2v.store.Store`` in o2v, anything with these two members in a test."""

    batch_size: int

    def add_samples(self, samples: Iterable[RequestSample]) -> int: ...


class SampleWriter:
    """Collects samples from many coroutines and writes them in batches from a worker thread.

    ``add`` never blocks on the database; ``flush``/``aclose`` wait until every queued sample is committed.
    A failed write keeps its batch queued: the background task retries it on its next turn, and ``flush`` or
    ``aclose`` raise ``StoreError`` if the database still refuses, so a loss is never silent.
    """

    def __init__(self, store: SampleSink, *, flush_interval_s: float = 0.5) -> None:
        self.store = store
        self.flush_interval_s = flush_interval_s
        self._pending: list[RequestSample] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0
        self.last_error: StoreError | None = None

    async def __aenter__(self) -> SampleWriter:
        self._closing = False
        self._task = asyncio.create_task(self._periodic(), name="o2v-sample-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def pending(self) -> int:
        """Samples accepted but not yet committed."""
        return len(self._pending)

    def add(self, sample: RequestSample) -> None:
        self._pending.append(sample)
        if len(self._pending) >= self.store.batch_size:
            self._wake.set()  # a full batch is waiting: write it now rather than at the next tick

    def add_many(self, samples: list[RequestSample]) -> None:
        self._pending.extend(samples)
        if len(self._pending) >= self.store.batch_size:
            self._wake.set()

    async def flush(self) -> int:
        """Write everything queued so far; return how many samples this call committed."""
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return 0
            # The write runs in a thread that cannot be stopped half-way. If the awaiting task is cancelled,
            # wait for the thread anyway and count what it committed: putting the batch back (as a failure
            # does) would write those rows a second time.
            write = asyncio.ensure_future(asyncio.to_thread(self.store.add_samples, batch))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await write
                if write.done() and not write.cancelled() and write.exception() is None:
                    self.written += len(batch)
                else:
                    self._pending[:0] = batch
                raise
            except Exception as exc:
                self._pending[:0] = batch  # keep them for the next try: nothing is lost silently
                if isinstance(exc, StoreError):
                    self.last_error = exc
                raise
            self.last_error = None
            self.written += len(batch)
            return len(batch)

    async def aclose(self) -> None:
        """Stop the background task (letting a write in progress finish), then write what is left."""
        if self._task is not None:
            self._closing = True
            self._wake.set()
            with contextlib.suppress(StoreError):
                await self._task
            self._task = None
        await self.flush()

    async def _periodic(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval_s)
            self._wake.clear()
            if self._pending and not self._closing:
                try:
                    await self.flush()
                except StoreError:
                    # A database hiccup must not kill the writer: the batch stays queued and is retried
                    # after a pause (not on every add, which would hammer a database that is down).
                    await asyncio.sleep(self.flush_interval_s)
