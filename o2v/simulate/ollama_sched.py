"""Ollama's scheduler (``server/sched.go``), as the migration experiences it.

- A request for a model that is loaded and needs no reload gets the runner at once (since 0.11.5, see
  ``ollama_versions``): it never waits in the pending queue, so it never gets the 503 and never waits
  behind another model's load.  On older versions every request takes the queue.
- Every other request goes through one pending queue (``OLLAMA_MAX_QUEUE``, full -> 503) in front of a
  single loop.  A model that is not loaded (first use, idle past its keep-alive) is loaded there, and the
  load blocks every request behind it.  A loaded model whose runner options differ from the request's
  (``num_ctx`` above all: ``needsReload``) is reloaded once its running requests finish: clients sending
  different ``num_ctx`` values make Ollama thrash between loads.
- Once it has a runner, a request waits for one of its ``OLLAMA_NUM_PARALLEL`` slots on a semaphore:
  without limit and without 503.  The slots share one ``llama-server`` process and one GPU, so N busy
  slots each decode slower than one alone (``SLOT_SPEEDUP``).
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field

from o2v.simulate.catalog import CatalogModel
from o2v.simulate.common import Stats
from o2v.simulate.ollama_logs import OllamaLogs

# Aggregate decode rate of N busy slots over one slot's rate, measured: llama.cpp PR #15802
# (ggml-org/llama.cpp, Sep 2025), RTX 3090, llama 8B Q4_0, llama-bench pp512 at micro-batch sizes 1..8,
# i.e. N sequences advancing one token per step: 155.0, 277.4, 390.2, 469.0, 514.5, 529.4, 559.2, 570.7
# t/s.  Cross-check: PR #15916 (llama-batched-bench, M2 Ultra, gemma-3-4b Q8_0) gives 1.84x at 2, 2.75x at 4.
SLOT_SPEEDUP: tuple[float, ...] = (1.0, 1.789, 2.517, 3.025, 3.319, 3.415, 3.607, 3.681)
_SPEEDUP_SLOPE_BEYOND = 0.07  # the measured gain per slot between 7 and 8, carried on past the table


class QueueFull(Exception):
    """The pending queue is full: Ollama answers 503."""


def slot_slowdown(busy: int, speedup: tuple[float, ...]) -> float:
    """How much longer each decode step of one stream takes while ``busy`` slots share the runner."""
    if busy <= 1 or not speedup:
        return 1.0
    if busy <= len(speedup):
        gain = speedup[busy - 1]
    else:
        gain = speedup[-1] + _SPEEDUP_SLOPE_BEYOND * (busy - len(speedup))
    return busy / gain


@dataclass
class Runner:
    """A loaded model with its slots and the options it was started with."""

    model: CatalogModel
    num_parallel: int
    num_ctx: int
    ctx_auto: bool  # started without an explicit num_ctx: any request without one may share it
    sem: asyncio.Semaphore
    refs: int = 0
    keep_alive_s: float = 300.0
    expires_at: float = field(default_factory=time.time)  # wall clock, for /api/ps
    loaded_at: float = field(default_factory=time.time)
    busy: int = 0  # slots generating now
    slowdown: float = 1.0  # per-token step factor for the current ``busy``; read on the hot path
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def expired(self) -> bool:
        return self.refs == 0 and self.keep_alive_s >= 0 and time.time() >= self.expires_at

    def size_vram(self) -> int:
        return self.model.size_bytes + self.model.kv_bytes_per_token() * self.num_ctx * self.num_parallel


@dataclass
class _Pending:
    model: CatalogModel
    keep_alive_s: float
    num_ctx: int | None
    future: asyncio.Future[tuple[Runner, float]]


class Scheduler:
    def __init__(
        self,
        *,
        num_parallel: int,
        max_queue: int,
        max_loaded: int,
        default_ctx: int,
        load_s: float,
        default_keep_alive_s: float,
        logs: OllamaLogs,
        stats: Stats,
        loaded_skips_queue: bool = True,
        speedup: tuple[float, ...] = SLOT_SPEEDUP,
    ) -> None:
        self.num_parallel = num_parallel
        self.max_queue = max_queue
        self.max_loaded = max_loaded
        self.default_ctx = default_ctx
        self.load_s = load_s
        self.default_keep_alive_s = default_keep_alive_s
        self.logs = logs
        self.stats = stats
        self.loaded_skips_queue = loaded_skips_queue
        self._slowdowns = [slot_slowdown(n, speedup) for n in range(num_parallel + 1)]
        self.runners: dict[str, Runner] = {}
        self._pending: collections.deque[_Pending] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    def pending(self) -> int:
        return len(self._pending)

    def effective_ctx(self, model: CatalogModel, num_ctx: int | None) -> int:
        """The context a runner gets: the request's num_ctx or the default, capped at the trained length."""
        wanted = max(4, self.default_ctx if num_ctx is None else num_ctx)
        return min(wanted, model.context_length)

    def needs_reload(self, runner: Runner, num_ctx: int | None) -> bool:
        if num_ctx is None and runner.ctx_auto:
            return False
        return self.effective_ctx(runner.model, num_ctx) != runner.num_ctx

    async def get_runner(
        self, model: CatalogModel, keep_alive_s: float | None, num_ctx: int | None = None
    ) -> tuple[Runner, float]:
        """The runner for a request and the load time spent for it (s); QueueFull when the queue is full."""
        keep = self.default_keep_alive_s if keep_alive_s is None else keep_alive_s
        if self.loaded_skips_queue:
            runner = self.runners.get(model.full_name)
            if runner is not None and not runner.expired() and not self.needs_reload(runner, num_ctx):
                self._use(runner, keep)
                return runner, 0.0
        if len(self._pending) >= self.max_queue:
            raise QueueFull
        fut: asyncio.Future[tuple[Runner, float]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(model, keep, num_ctx, fut))
        self._wake.set()
        return await fut  # cancelled with the handler when the client goes away

    def _use(self, runner: Runner, keep_alive_s: float) -> None:
        runner.refs += 1
        runner.idle.clear()
        runner.keep_alive_s = keep_alive_s

    async def _loop(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            # Taken off the queue before a load, as Ollama's scheduler reads its channel: the request
            # being loaded no longer counts against OLLAMA_MAX_QUEUE, the ones behind it do.
            item = self._pending.popleft()
            if item.future.done():  # the client left while queued
                continue
            runner = self.runners.get(item.model.full_name)
            if runner is not None and runner.expired():
                self._unload(runner, "expired")
                runner = None
            elif runner is not None and self.needs_reload(runner, item.num_ctx):
                while runner.refs > 0:  # a reload waits for the runner's requests to finish
                    await runner.idle.wait()
                self._unload(runner, "reloading with different options")
                runner = None
            load_s = 0.0
            if runner is None:
                self._evict_for_room()
                t0 = time.monotonic()
                runner = await self._load(item.model, item.num_ctx)
                load_s = time.monotonic() - t0
            if item.future.done():
                continue
            self._use(runner, item.keep_alive_s)
            item.future.set_result((runner, load_s))

    def _evict_for_room(self) -> None:
        while len(self.runners) >= self.max_loaded:
            idle = [r for r in self.runners.values() if r.refs == 0]
            if not idle:
                return
            self._unload(min(idle, key=lambda r: r.expires_at), "evicted to make room")

    async def _load(self, model: CatalogModel, num_ctx: int | None) -> Runner:
        ctx = self.effective_ctx(model, num_ctx)
        self.logs.load_started(model, ctx, self.num_parallel, loaded=len(self.runners) + 1)
        if self.load_s > 0:
            await asyncio.sleep(self.load_s)
        runner = Runner(model, self.num_parallel, ctx, num_ctx is None, asyncio.Semaphore(self.num_parallel))
        runner.idle.set()
        self.runners[model.full_name] = runner
        self.stats.model_loads += 1
        self.logs.load_finished(self.load_s, loaded=len(self.runners))
        return runner

    def _unload(self, runner: Runner, why: str) -> None:
        self.runners.pop(runner.model.full_name, None)
        self.logs.app("INFO", "sched.go:510", "runner unloaded", model=runner.model.full_name, reason=why)

    def slot_taken(self, runner: Runner) -> None:
        runner.busy += 1
        runner.slowdown = self._slowdown(runner.busy)

    def slot_freed(self, runner: Runner) -> None:
        runner.busy -= 1
        runner.slowdown = self._slowdown(runner.busy)

    def _slowdown(self, busy: int) -> float:
        return self._slowdowns[busy] if busy < len(self._slowdowns) else self._slowdowns[-1]

    def release(self, runner: Runner) -> None:
        """A request finished with the runner: the keep-alive clock starts when the last one leaves."""
        runner.refs -= 1
        if runner.refs == 0:
            runner.idle.set()
            if runner.keep_alive_s == 0:
                self._unload(runner, "keep_alive 0")
            elif runner.keep_alive_s < 0:
                runner.expires_at = float("inf")
            else:
                runner.expires_at = time.time() + runner.keep_alive_s

    def unload(self, model: CatalogModel) -> None:
        runner = self.runners.get(model.full_name)
        if runner is not None and runner.refs == 0:
            self._unload(runner, "requested")

    def loaded(self) -> list[Runner]:
        for runner in [r for r in self.runners.values() if r.expired()]:
            self._unload(runner, "expired")
        return list(self.runners.values())


def parse_keep_alive(value: object) -> float | None:
    """``keep_alive`` as Ollama accepts it: seconds (number) or a Go duration string ("5m", "1h30m", "-1")."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("keep_alive must be a duration string or a number of seconds")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        total, num, sign = 0.0, "", 1.0
        if text.startswith("-"):
            sign, text = -1.0, text[1:]
        units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
        i = 0
        while i < len(text):
            c = text[i]
            if c.isdigit() or c == ".":
                num += c
                i += 1
                continue
            unit = "ms" if text[i : i + 2] == "ms" else c
            if unit not in units or not num:
                raise ValueError(f'time: invalid duration "{value}"')
            total += float(num) * units[unit]
            num = ""
            i += len(unit)
        if num:
            raise ValueError(f'time: missing unit in duration "{value}"')
        return sign * total
    raise ValueError("keep_alive must be a duration string or a number of seconds")
