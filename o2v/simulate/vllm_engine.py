"""Continuous batching as vLLM does it, reduced to its timing.

One engine loop runs steps.  Before each step, waiting sequences join the batch while fewer than
``max_num_seqs`` run.  A step produces one token for every running sequence and lasts

    step_s = decode(b) + (prefill if any sequence joined this step)
    decode(b) = itl * (1 + batch_cost * (b - 1) ** batch_exponent)      b = sequences already decoding
    prefill   = ttft + prompt_token_ms * (prompt tokens of the joining sequences)

so one sequence sees ``ttft + prompt * prompt_token_ms`` to its first token and ``itl`` between tokens,
and total throughput ``b / decode(b)`` rises with the batch but sub-linearly (with the defaults 0.02 and
0.85: x1 at b=1, x4.7 at 5, x13 at 16, x80 at 256), as memory-bound decoding on a GPU does.  The fixed
part of the prefill is paid once per step however many sequences join, which is why simultaneous
arrivals all start together instead of queueing behind each other.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field

from o2v.simulate.common import Stats, Timing
from o2v.simulate.vllm_metrics import Metrics

ZERO_DELAY_BURST = 16


@dataclass(eq=False)
class Seq:
    prompt_tokens: int
    ids: list[int]
    finish_reason: str
    arrival: float
    ready: int = 0  # tokens produced so far
    scheduled_at: float = 0.0
    first_at: float = 0.0
    last_at: float = 0.0
    aborted: bool = False
    waiter: asyncio.Future[None] | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.ready >= len(self.ids)

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Engine:
    def __init__(
        self,
        timing: Timing,
        *,
        max_num_seqs: int,
        batch_cost: float,
        batch_exponent: float,
        kv_cache_tokens: int,
        metrics: Metrics,
        stats: Stats,
    ) -> None:
        self.timing = timing
        self.max_num_seqs = max_num_seqs
        self.batch_cost = batch_cost
        self.batch_exponent = batch_exponent
        self.kv_cache_tokens = kv_cache_tokens
        self.metrics = metrics
        self.stats = stats
        self.waiting: collections.deque[Seq] = collections.deque()
        self.running: list[Seq] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.steps = 0

    def decode_s(self, batch: int) -> float:
        if batch <= 0:
            return 0.0
        return self.timing.itl_ms / 1000.0 * (1.0 + self.batch_cost * (batch - 1) ** self.batch_exponent)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    def add(self, seq: Seq) -> None:
        self.waiting.append(seq)
        self.metrics.waiting = len(self.waiting)
        self._wake.set()

    def abort(self, seq: Seq) -> None:
        if not seq.done and not seq.aborted:
            seq.aborted = True
            self.metrics.success["abort"] += 1

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        timing, metrics = self.timing, self.metrics
        while True:
            if not self.running and not self.waiting:
                self._wake.clear()
                await self._wake.wait()
                continue
            start = loop.time()
            joined: list[Seq] = []
            while self.waiting and len(self.running) < self.max_num_seqs:
                seq = self.waiting.popleft()
                if seq.aborted:
                    continue
                seq.scheduled_at = start
                metrics.queue.observe(start - seq.arrival)
                self.running.append(seq)
                joined.append(seq)
            step = self.decode_s(len(self.running) - len(joined))
            if joined:
                prompt = sum(s.prompt_tokens for s in joined)
                step += (timing.ttft_ms + prompt * timing.prompt_token_ms) / 1000.0
                metrics.prompt_tokens += prompt
            metrics.running = len(self.running)
            metrics.waiting = len(self.waiting)
            if step > 0:
                await asyncio.sleep(max(0.0, start + step - loop.time()))
            elif self.steps % ZERO_DELAY_BURST == 0:
                # With every delay at zero, time means nothing: run a few steps per yield so each
                # stream wakes once per burst of tokens instead of once per token.
                await asyncio.sleep(0)
            now = loop.time()
            self.steps += 1
            keep: list[Seq] = []
            kv = 0
            produced = 0
            for seq in self.running:
                if seq.aborted:
                    continue
                seq.ready += 1
                produced += 1
                if seq.ready == 1:
                    seq.first_at = now
                    metrics.ttft.observe(now - seq.arrival)
                    metrics.prefill.observe(now - seq.scheduled_at)
                else:
                    metrics.itl.observe(now - seq.last_at)
                seq.last_at = now
                seq.wake()
                if seq.done:
                    self._finished(seq, now)
                else:
                    keep.append(seq)
                    kv += seq.prompt_tokens + seq.ready
            metrics.generation_tokens += produced
            self.stats.tokens_generated += produced
            self.running = keep
            metrics.running = len(keep)
            metrics.kv_usage = min(1.0, kv / self.kv_cache_tokens) if self.kv_cache_tokens else 0.0

    def _finished(self, seq: Seq, now: float) -> None:
        m = self.metrics
        m.success[seq.finish_reason] = m.success.get(seq.finish_reason, 0) + 1
        m.e2e.observe(now - seq.arrival)
        m.decode.observe(now - seq.first_at)
        m.prompt_hist.observe(seq.prompt_tokens)
        m.gen_hist.observe(len(seq.ids))
