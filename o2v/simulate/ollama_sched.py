"""Ollama's scheduler, as the migration experiences it.

- One pending queue (``OLLAMA_MAX_QUEUE``) in front of a single scheduler loop.  The loop takes requests in
  order; a request for a model that is not loaded (first use, or idle past its keep-alive) loads it, and
  the load blocks every request behind it.  A full pending queue answers 503.
- Once scheduled, a request waits for one of the model's ``OLLAMA_NUM_PARALLEL`` slots on a semaphore:
  without limit and without 503.  That unbounded wait is what a growing team feels as latency.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field

from o2v.simulate.catalog import CatalogModel
from o2v.simulate.common import Stats
from o2v.simulate.ollama_logs import OllamaLogs


class QueueFull(Exception):
    """The pending queue is full: Ollama answers 503."""


@dataclass
class Runner:
    """A loaded model with its slots."""

    model: CatalogModel
    num_parallel: int
    num_ctx: int
    sem: asyncio.Semaphore
    refs: int = 0
    keep_alive_s: float = 300.0
    expires_at: float = field(default_factory=time.time)  # wall clock, for /api/ps
    loaded_at: float = field(default_factory=time.time)

    def expired(self) -> bool:
        return self.refs == 0 and self.keep_alive_s >= 0 and time.time() >= self.expires_at

    def size_vram(self) -> int:
        return self.model.size_bytes + self.model.kv_bytes_per_token() * self.num_ctx * self.num_parallel


@dataclass
class _Pending:
    model: CatalogModel
    keep_alive_s: float
    future: asyncio.Future[tuple[Runner, float]]


class Scheduler:
    def __init__(
        self,
        *,
        num_parallel: int,
        max_queue: int,
        max_loaded: int,
        num_ctx: int,
        load_s: float,
        default_keep_alive_s: float,
        logs: OllamaLogs,
        stats: Stats,
    ) -> None:
        self.num_parallel = num_parallel
        self.max_queue = max_queue
        self.max_loaded = max_loaded
        self.num_ctx = num_ctx
        self.load_s = load_s
        self.default_keep_alive_s = default_keep_alive_s
        self.logs = logs
        self.stats = stats
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

    async def get_runner(self, model: CatalogModel, keep_alive_s: float | None) -> tuple[Runner, float]:
        """Queue for the scheduler; returns the runner and the load time spent for this request (s)."""
        if len(self._pending) >= self.max_queue:
            raise QueueFull
        fut: asyncio.Future[tuple[Runner, float]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(model, self.default_keep_alive_s if keep_alive_s is None else keep_alive_s, fut))
        self._wake.set()
        return await fut  # cancelled with the handler when the client goes away

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
            load_s = 0.0
            if runner is None or runner.expired():
                if runner is not None:
                    self._unload(runner, "expired")
                self._evict_for_room()
                t0 = time.monotonic()
                await self._load(item.model)
                load_s = time.monotonic() - t0
                runner = self.runners[item.model.full_name]
            if item.future.done():
                continue
            runner.refs += 1
            runner.keep_alive_s = item.keep_alive_s
            item.future.set_result((runner, load_s))

    def _evict_for_room(self) -> None:
        while len(self.runners) >= self.max_loaded:
            idle = [r for r in self.runners.values() if r.refs == 0]
            if not idle:
                return
            self._unload(min(idle, key=lambda r: r.expires_at), "evicted to make room")

    async def _load(self, model: CatalogModel) -> None:
        self.logs.app(
            "INFO",
            "server.go:405",
            "starting llama server",
            cmd=f"/usr/bin/ollama runner --model /root/.ollama/models/blobs/sha256-{model.hex_digest} "
            f"--ctx-size {self.num_ctx * self.num_parallel} --batch-size 512 --threads 8 "
            f"--parallel {self.num_parallel} --port 40000",
        )
        self.logs.app("INFO", "sched.go:450", "loaded runners", count=len(self.runners) + 1)
        if self.load_s > 0:
            await asyncio.sleep(self.load_s)
        self.runners[model.full_name] = Runner(
            model, self.num_parallel, self.num_ctx, asyncio.Semaphore(self.num_parallel)
        )
        self.stats.model_loads += 1
        self.logs.app("INFO", "server.go:630", f"llama runner started in {self.load_s:.2f} seconds")

    def _unload(self, runner: Runner, why: str) -> None:
        self.runners.pop(runner.model.full_name, None)
        self.logs.app("INFO", "sched.go:510", "runner unloaded", model=runner.model.full_name, reason=why)

    def release(self, runner: Runner) -> None:
        """A request finished with the runner: the keep-alive clock starts when the last one leaves."""
        runner.refs -= 1
        if runner.refs == 0:
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
