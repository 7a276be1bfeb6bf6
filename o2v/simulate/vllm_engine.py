"""Continuous batching over a paged KV cache, as vLLM v1's scheduler does it, reduced to its timing.

One engine loop runs steps.  Each step schedules work in vLLM's order (``v1/core/sched/scheduler.py``):

1. Running sequences first, oldest first.  Each needs KV blocks of ``block_size`` tokens for the tokens
   it computes this step (its next token, or its next prefill chunk).  When no block is free, the NEWEST
   running sequence is preempted: its blocks are freed, its progress is dropped (it will be recomputed)
   and it goes back to the HEAD of the waiting queue; ``vllm:num_preemptions_total`` counts it.
2. Waiting sequences, in order, only when nothing was preempted this step: one joins while fewer than
   ``max_num_seqs`` run, the step's token budget (``max_num_batched_tokens``) has room, and the blocks
   for its prompt (chunk) are free.  The first one that does not fit stops the queue.

A step produces one token for every sequence whose prefill is complete and lasts

    step_s = decode(b) + (prefill if any sequence prefilled this step)
    decode(b) = itl * (1 + batch_cost * (b - 1) ** batch_exponent)      b = sequences decoding
    prefill   = ttft + prompt_token_ms * (prompt tokens computed this step)

so one sequence sees ``ttft + prompt * prompt_token_ms`` to its first token and ``itl`` between tokens,
and total throughput ``b / decode(b)`` rises with the batch but sub-linearly (with the defaults 0.02 and
0.85: x1 at b=1, x4.7 at 5, x13 at 16, x80 at 256), as memory-bound decoding on a GPU does.  A preempted
sequence pays its prefill again (prompt plus the tokens it had produced), which is why over-committing
the cache shows as rising TTFT and inter-token stalls rather than as errors.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field

from o2v.simulate.common import Stats, Timing
from o2v.simulate.vllm_metrics import Metrics

ZERO_DELAY_BURST = 16
MAX_CATCH_UP_S = 0.05  # a longer stall (a pause, an idle engine) is not made up for


@dataclass(eq=False, slots=True)
class Seq:
    prompt_tokens: int
    ids: list[int]
    finish_reason: str
    arrival: float
    ready: int = 0  # tokens produced so far (kept across a preemption: vLLM keeps its output)
    computed: int = 0  # tokens whose K and V are in the cache
    blocks: int = 0  # KV blocks held
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


@dataclass
class Step:
    scheduled: list[tuple[Seq, int]] = field(default_factory=list)  # (sequence, tokens computed this step)
    prefill_tokens: int = 0
    decoding: int = 0  # sequences computing just their last token
    preempted: bool = False


class Engine:
    def __init__(
        self,
        timing: Timing,
        *,
        max_num_seqs: int,
        batch_cost: float,
        batch_exponent: float,
        num_blocks: int,
        metrics: Metrics,
        stats: Stats,
        block_size: int = 16,
        max_num_batched_tokens: int = 8192,
    ) -> None:
        self.timing = timing
        self.max_num_seqs = max_num_seqs
        self.batch_cost = batch_cost
        self.batch_exponent = batch_exponent
        self.num_blocks = num_blocks
        self.free_blocks = num_blocks
        self.block_size = block_size
        self.max_num_batched_tokens = max_num_batched_tokens
        self.metrics = metrics
        self.stats = stats
        self.waiting: collections.deque[Seq] = collections.deque()
        self.running: list[Seq] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.steps = 0
        self.max_running = 0  # the most sequences that ever ran together (for tests and /_sim/stats)
        # The next step's work when it is plain decoding that needs no new block: computed while the last
        # step's results were handed out, so the common step walks the batch once instead of twice.
        self._next: list[tuple[Seq, int]] | None = None

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
            self._wake.set()  # an aborted head of the queue may have been what blocked the others

    def _release(self, seq: Seq) -> None:
        self.free_blocks += seq.blocks
        seq.blocks = 0

    def _preempt_newest(self) -> Seq:
        victim = self.running.pop()
        self._release(victim)
        if victim.aborted:  # its client is gone: nothing to resume
            return victim
        victim.computed = 0  # recomputed from scratch (prompt and output so far) on readmission
        self.waiting.appendleft(victim)
        self.metrics.preemptions += 1
        return victim

    def _drop_aborted(self) -> None:
        keep = []
        for seq in self.running:
            if seq.aborted:
                self._release(seq)
            else:
                keep.append(seq)
        self.running = keep

    def schedule(self, now: float) -> Step:
        """One step's work, in vLLM's order: running sequences (preempting the newest when blocks run out),
        then waiting ones while the step's token budget, ``max_num_seqs`` and the free blocks allow."""
        bs, budget = self.block_size, self.max_num_batched_tokens
        decoding = prefill = 0
        running = self.running
        ready_made, self._next = self._next, None
        if ready_made is not None and len(ready_made) <= budget:
            step = Step(ready_made, decoding=len(ready_made))
            budget -= len(ready_made)
            return self._admit(step, budget, now)
        step = Step()
        scheduled = step.scheduled
        append = scheduled.append
        aborted = False
        # Preemption pops the newest sequences off the end of ``running``: the loop then simply ends early.
        for seq in running:
            if budget <= 0:
                break
            if seq.aborted:
                aborted = True
                continue
            computed = seq.computed
            new = seq.prompt_tokens + seq.ready - computed
            if new > budget:
                new = budget
            if computed + new > seq.blocks * bs:  # the step's tokens spill into a new block
                need = (computed + new + bs - 1) // bs - seq.blocks
                if need > self.free_blocks:
                    step.preempted = True
                    victim = None
                    while need > self.free_blocks and victim is not seq:
                        victim = self._preempt_newest()
                    if victim is seq:
                        break
                self.free_blocks -= need
                seq.blocks += need
            budget -= new
            if new == 1 and seq.ready:
                decoding += 1
            else:
                prefill += new
            append((seq, new))
        if aborted:
            self._drop_aborted()
            running = self.running
        step.decoding, step.prefill_tokens = decoding, prefill
        return self._admit(step, budget, now)

    def _admit(self, step: Step, budget: int, now: float) -> Step:
        """Waiting sequences join, in order, while nothing was preempted and there is room."""
        bs, running, scheduled = self.block_size, self.running, step.scheduled
        waiting = self.waiting
        while waiting and not step.preempted and budget > 0 and len(running) < self.max_num_seqs:
            seq = waiting[0]
            if seq.aborted:
                waiting.popleft()
                continue
            new = min(seq.prompt_tokens + seq.ready, budget)
            need = (new + bs - 1) // bs
            if need > self.free_blocks:
                break  # the head of the queue waits for blocks, and everything behind it waits too
            waiting.popleft()
            if not seq.scheduled_at:
                seq.scheduled_at = now
                self.metrics.queue.observe(now - seq.arrival)
            self.free_blocks -= need
            seq.blocks = need
            budget -= new
            step.prefill_tokens += new
            running.append(seq)
            scheduled.append((seq, new))
        if len(running) > self.max_running:
            self.max_running = len(running)
        self.metrics.prompt_tokens += step.prefill_tokens
        return step

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        timing, metrics = self.timing, self.metrics
        idle = deadline = float("-inf")  # when the previous step was due to end (none after an idle wait)
        while True:
            if not self.running and not self.waiting:
                self._wake.clear()
                await self._wake.wait()
                deadline = idle
                continue
            now = loop.time()
            # Back-to-back steps are timed from the previous step's deadline, not from when the event loop got
            # round to this one: on a busy machine the loop's own lateness would otherwise add to every step.
            start = deadline if 0.0 <= now - deadline < MAX_CATCH_UP_S else now
            step = self.schedule(now)
            metrics.running = len(self.running)
            metrics.waiting = len(self.waiting)
            if not step.scheduled:
                if not step.preempted:  # nothing can run until a request arrives or leaves
                    self._wake.clear()
                    await self._wake.wait()
                    deadline = idle
                continue
            duration = self.decode_s(step.decoding)
            if step.prefill_tokens:
                duration += (timing.ttft_ms + step.prefill_tokens * timing.prompt_token_ms) / 1000.0
            deadline = start + duration
            if duration > 0:
                await asyncio.sleep(max(0.0, deadline - loop.time()))
            elif self.steps % ZERO_DELAY_BURST == 0:
                # With every delay at zero, time means nothing: run a few steps per yield so each
                # stream wakes once per burst of tokens instead of once per token.
                await asyncio.sleep(0)
            self._advance(step.scheduled, loop.time())

    def _advance(self, scheduled: list[tuple[Seq, int]], now: float) -> None:
        """The step ran: account the computed tokens, hand out one token per sequence past its prefill."""
        metrics = self.metrics
        itl = metrics.itl
        bs = self.block_size
        self.steps += 1
        produced = 0
        leaving = False
        ready_made: list[tuple[Seq, int]] = []
        plain = len(scheduled) == len(self.running)  # every running sequence took its step
        for seq, new in scheduled:
            if seq.aborted:
                leaving = True
                continue
            computed = seq.computed = seq.computed + new
            ready = seq.ready
            if computed < seq.prompt_tokens + ready:
                plain = False
                continue  # a prefill chunk: no token yet
            seq.ready = ready = ready + 1
            produced += 1
            if ready == 1:
                seq.first_at = now
                metrics.ttft.observe(now - seq.arrival)
                metrics.prefill.observe(now - seq.scheduled_at)
            else:
                itl.observe(now - seq.last_at)
            seq.last_at = now
            waiter = seq.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            if ready >= len(seq.ids):
                self._finished(seq, now)
                leaving = True
            elif computed >= seq.blocks * bs:
                plain = False  # its next token needs a new block: the full schedule decides
            else:
                ready_made.append((seq, 1))
        self._next = ready_made if plain else None
        if leaving:
            keep = []
            for seq in self.running:
                if seq.done or seq.aborted:
                    self._release(seq)
                else:
                    keep.append(seq)
            self.running = keep
        metrics.generation_tokens += produced
        self.stats.tokens_generated += produced
        metrics.running = len(self.running)
        metrics.kv_usage = 1.0 - self.free_blocks / self.num_blocks if self.num_blocks else 0.0

    def _finished(self, seq: Seq, now: float) -> None:
        m = self.metrics
        m.success[seq.finish_reason] = m.success.get(seq.finish_reason, 0) + 1
        m.e2e.observe(now - seq.arrival)
        m.decode.observe(now - seq.first_at)
        m.prompt_hist.observe(seq.prompt_tokens)
        m.gen_hist.observe(len(seq.ids))
