"""The load generator's levels and workers over the wire client (wire.py): requests encoded once, stream
parsing on raw bytes.

Why not the project's httpx: at hundreds of concurrent streams httpx's connection pool serialises on a lock
(httpx #3215) and the client, not the server, sets the figures; docs/loadgen.md has the figures.
The runner also watches itself: a lag monitor samples the event loop and every request records how late it was
sent, so a saturated client shows up as client overhead, never as server latency.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from time import perf_counter
from typing import Any

from o2v.errors import ServerError
from o2v.event_loop import loop_factory
from o2v.loadgen.metrics import LevelStats, LoadTestResult, level_stats, to_sample
from o2v.loadgen.preflight import preflight
from o2v.loadgen.progress import Progress
from o2v.loadgen.prompts import prompt_sequence
from o2v.loadgen.protocol import Record, build_body, parser_for
from o2v.loadgen.wire import WireClient, WireError
from o2v.loadgen.workload import Workload
from o2v.store import SampleWriter

LAG_INTERVAL_S = 0.05


class Runner:
    """Runs one workload against one server; ``stop`` ends the run early, keeping what was measured."""

    def __init__(self, workload: Workload, *, stop: asyncio.Event | None = None) -> None:
        self.workload = workload
        self.stop = stop or asyncio.Event()
        self.url = workload.url + workload.endpoint_path()
        self.headers = {"Content-Type": "application/json"}
        if workload.api_key is not None:
            self.headers["Authorization"] = f"Bearer {workload.api_key.get_secret_value()}"
        prompts = prompt_sequence(workload.prompts, workload.prompts_file, workload.seed)
        self.bodies = [
            build_body(
                workload.api,
                workload.model,
                p,
                max_tokens=workload.max_tokens,
                temperature=workload.temperature,
                top_p=workload.top_p,
                ignore_eos=workload.ignore_eos,
            )
            for p in prompts
        ]
        self._next_body = itertools.count()
        self.lags_ms: list[float] = []
        self.finished = 0
        self.client: WireClient | None = None
        self.requests: list[bytes] = []

    # -- one request -------------------------------------------------------------------------------
    async def send(self, record: Record) -> None:
        assert self.client is not None
        request = self.requests[next(self._next_body) % len(self.requests)]
        record.wall_time = time.time()
        record.start_s = perf_counter()
        try:
            await self.client.send(request, record, parser_for(self.workload.api, record))
            if record.status == 200 and not record.done:
                record.error_kind, record.error_message = "disconnect", "stream ended before its last event"
        except WireError as exc:
            record.error_kind, record.error_message = exc.kind, exc.message
        record.end_s = perf_counter()
        self.finished += 1

    # -- levels ------------------------------------------------------------------------------------
    async def concurrency_level(self, level: int, slots: int, total: int, records: list[Record]) -> None:
        """``slots`` workers; each sends its next request as soon as its previous one finished."""
        counter = itertools.count()
        start = perf_counter()
        ramp = self.workload.ramp_up_s

        async def worker(delay: float) -> None:
            intended = start + delay
            if delay > 0:
                await asyncio.sleep(delay)
            while not self.stop.is_set() and next(counter) < total:
                record = Record(level=level, intended_s=intended)
                records.append(record)
                await self.send(record)
                intended = record.end_s

        await self._until_done_or_stopped([worker(ramp * k / slots) for k in range(slots)])

    async def rate_level(self, level: int, rate: float, cap: int, total: int, records: list[Record]) -> None:
        """Open-loop arrivals at ``rate`` (Poisson or constant); ``cap`` > 0 limits requests in flight."""
        w = self.workload
        offsets = arrival_offsets(rate, total, poisson=w.poisson, seed=w.seed, level=level, ramp_s=w.ramp_up_s)
        limit = asyncio.Semaphore(cap) if cap else None
        start = perf_counter()
        tasks: list[asyncio.Task[None]] = []

        async def limited(record: Record) -> None:
            if limit is None:
                await self.send(record)
                return
            async with limit:
                await self.send(record)

        async def arrivals() -> None:
            for offset in offsets:
                intended = start + offset
                delay = intended - perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self.stop.is_set():
                    return
                record = Record(level=level, intended_s=intended)
                records.append(record)
                tasks.append(asyncio.create_task(limited(record)))
            if tasks:
                await asyncio.gather(*tasks)

        await self._until_done_or_stopped([arrivals()], extra=tasks)

    async def _until_done_or_stopped(
        self, coros: list[Coroutine[Any, Any, None]], extra: list[asyncio.Task[None]] | None = None
    ) -> None:
        work: asyncio.Future[Any] = asyncio.gather(*coros)
        stopper: asyncio.Future[Any] = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait([work, stopper], return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                work.result()
        finally:
            pending: list[asyncio.Future[Any]] = [t for t in [work, stopper, *(extra or [])] if not t.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def lag_monitor(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_INTERVAL_S)
            self.lags_ms.append(max(0.0, (loop.time() - before - LAG_INTERVAL_S) * 1000.0))

    async def warm_up(self) -> list[str]:
        """Unmeasured requests; the first one doubles as a check that a chat request can succeed at all."""
        count = max(self.workload.warmup_requests, 1 if self.workload.preflight else 0)
        if count == 0:
            return []
        first = Record(level=-1, intended_s=perf_counter())
        await self.send(first)
        if first.error_kind is not None and self.workload.preflight:
            raise ServerError(
                f"the first request to {self.url} failed ({first.error_kind}: {first.error_message}); "
                "nothing was measured -- fix this before load testing",
                url=self.workload.url,
            )
        rest = [Record(level=-1, intended_s=perf_counter()) for _ in range(count - 1)]
        await asyncio.gather(*(self.send(r) for r in rest))
        failed = [r for r in [first, *rest] if r.error_kind]
        return [f"{len(failed)} of {count} warm-up requests failed ({failed[0].error_kind})"] if failed else []


def arrival_offsets(
    rate: float, count: int, *, poisson: bool, seed: int, level: int, ramp_s: float = 0.0
) -> list[float]:
    """Send times (seconds after the level starts): the same seed and level always give the same schedule."""
    rng = random.Random(seed * 1_000_003 + level)
    offsets, at = [], 0.0
    for _ in range(count):
        at += rng.expovariate(rate) if poisson else 1.0 / rate
        offsets.append(ramped(at, ramp_s))
    return offsets


def ramped(at: float, ramp_s: float) -> float:
    """Warp a full-rate arrival time so the rate rises linearly from 0 over ``ramp_s`` seconds."""
    if ramp_s <= 0:
        return at
    return math.sqrt(2.0 * ramp_s * at) if at < ramp_s / 2 else at + ramp_s / 2


async def run_loadtest(
    workload: Workload,
    *,
    writer: SampleWriter | None = None,
    progress: bool = False,
    stop: asyncio.Event | None = None,
    on_level: Callable[[LevelStats], None] | None = None,
) -> LoadTestResult:
    """Preflight, warm up, then run every level; samples go to ``writer`` after each level."""
    runner = Runner(workload, stop=stop)
    result = LoadTestResult(run_id=uuid.uuid4().hex[:16], workload=workload, warnings=workload.warnings())
    levels = workload.levels()
    if workload.preflight:
        await preflight(workload, runner.headers)
    client = WireClient(
        workload.url,
        workload.endpoint_path(),
        headers=runner.headers,
        request_timeout_s=workload.request_timeout_s,
        connect_timeout_s=workload.connect_timeout_s,
    )
    runner.client = client
    runner.requests = [client.encode(body) for body in runner.bodies]
    try:
        result.warnings += await runner.warm_up()
        monitor = asyncio.create_task(runner.lag_monitor())
        bar = Progress(enabled=progress, total=sum(workload.requests_for(c) for c, _ in levels))
        try:
            with bar:
                for index, (slots, rate) in enumerate(levels):
                    if runner.stop.is_set():
                        break
                    total = workload.requests_for(slots)
                    records: list[Record] = []
                    runner.lags_ms = []
                    bar.level(_label(slots, rate), lambda: runner.finished, total)
                    if rate is None:
                        await runner.concurrency_level(index, slots, total, records)
                    else:
                        await runner.rate_level(index, rate, slots, total, records)
                    stopped = runner.stop.is_set()
                    stats = level_stats(workload, slots, rate, records, runner.lags_ms, interrupted=stopped)
                    if stats.requests:
                        result.levels.append(stats)
                        if on_level is not None:
                            on_level(stats)
                    await _keep_samples(result, records, slots if rate is None else stats.concurrency, writer)
                    if stats.client_bound:
                        result.warnings.append(
                            f"level {_label(slots, rate)}: the client itself was slow (event-loop lag median "
                            f"{stats.loop_lag_ms.median or 0:.1f} ms, p95 {stats.loop_lag_ms.p95 or 0:.0f} ms); "
                            "latency there is partly the client's"
                        )
        finally:
            monitor.cancel()
    finally:
        client.close()
    result.interrupted = runner.stop.is_set()
    result.finished = datetime.now(UTC)
    return result


async def _keep_samples(
    result: LoadTestResult, records: list[Record], concurrency: int, writer: SampleWriter | None
) -> None:
    samples = [to_sample(result.workload, result.run_id, concurrency, r) for r in records if r.end_s > 0]
    result.samples.extend(samples)
    if writer is not None and samples:
        for sample in samples:
            writer.add(sample)
        await writer.flush()


def _label(slots: int, rate: float | None) -> str:
    return f"{rate:g} req/s" if rate is not None else f"concurrency {slots}"


def run_loadtest_sync(
    workload: Workload,
    *,
    writer: SampleWriter | None = None,
    progress: bool = False,
    on_level: Callable[[LevelStats], None] | None = None,
) -> LoadTestResult:
    """Run in a fresh event loop (uvloop when installed). The first Ctrl-C stops the run and keeps what was
    measured (``interrupted=True``); a second one aborts at once."""
    return run_async(
        lambda stop: run_loadtest(workload, writer=writer, progress=progress, stop=stop, on_level=on_level)
    )


def run_async(make: Callable[[asyncio.Event], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``make(stop_event)`` with Ctrl-C wired to the stop event (shared by loadtest and compare)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(_with_sigint(make))


async def _with_sigint(make: Callable[[asyncio.Event], Coroutine[Any, Any, Any]]) -> Any:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    presses = 0

    def on_sigint() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            stop.set()
        elif main is not None:
            main.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        # asyncio raises NotImplementedError where the loop has no signal support (Windows), RuntimeError or
        # ValueError outside the main thread: Ctrl-C then falls back to KeyboardInterrupt handling.
        installed = False
    try:
        return await make(stop)
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
