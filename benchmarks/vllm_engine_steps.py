"""Tokens per second of the vLLM simulator's engine alone: no HTTP, every delay zero, one core.

The end-to-end figure (``simulator_throughput.py``) is dominated by socket writes and swings with the load
on a shared machine; this one isolates the scheduler and KV-cache bookkeeping that every step pays.

    .venv/bin/python benchmarks/vllm_engine_steps.py --seconds 3 --blocks 16384
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from o2v.simulate.common import Stats, Timing  # noqa: E402
from o2v.simulate.vllm_engine import Engine, Seq  # noqa: E402
from o2v.simulate.vllm_metrics import Metrics  # noqa: E402


async def measure(seconds: float, batch: int, tokens: int, prompt: int, blocks: int) -> tuple[float, int]:
    engine = Engine(Timing(itl_ms=0.0, ttft_ms=0.0, prompt_token_ms=0.0), max_num_seqs=batch, batch_cost=0.02,
                    batch_exponent=0.85, num_blocks=blocks, metrics=Metrics("m"), stats=Stats())  # fmt: skip
    engine.start()
    produced = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        seqs = [Seq(prompt_tokens=prompt, ids=[1] * tokens, finish_reason="length", arrival=0.0) for _ in range(batch)]
        for seq in seqs:
            engine.add(seq)
        loop = asyncio.get_running_loop()
        for seq in seqs:  # as a non-streamed request waits: woken by the engine when its tokens arrive
            while not seq.done:
                seq.waiter = loop.create_future()
                await seq.waiter
        produced += batch * tokens
    elapsed = time.perf_counter() - started
    await engine.stop()
    return produced / elapsed, engine.metrics.preemptions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batch", type=int, default=256, help="sequences per wave (and max_num_seqs)")
    parser.add_argument("--tokens", type=int, default=200, help="output tokens per sequence")
    parser.add_argument("--prompt", type=int, default=20, help="prompt tokens per sequence")
    parser.add_argument("--blocks", type=int, default=16384, help="KV blocks of 16 tokens (16384 = ample)")
    args = parser.parse_args()
    rate, preemptions = asyncio.run(measure(args.seconds, args.batch, args.tokens, args.prompt, args.blocks))
    print(f"engine: {rate:,.0f} tokens/s ({args.batch} sequences, {args.blocks} blocks, {preemptions} preemptions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
