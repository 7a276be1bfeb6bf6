"""How many streamed chunks per second one simulator process serves on one core.

The simulator runs pinned to one core (``taskset -c 0``) with every delay at zero; a separate client
process (pinned to another core when there is one) keeps ``--streams`` concurrent streaming requests
open and counts the chunks it receives.  The figure is chunks received / wall time of the measured
window, cross-checked with the simulator's own ``chunks_sent`` counter.

    .venv/bin/python benchmarks/simulator_throughput.py --kind vllm --streams 256 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from o2v.simulate.process import SimulatorProcess  # noqa: E402

PAYLOADS = {
    "vllm": ("/v1/chat/completions", {"model": "meta-llama/Meta-Llama-3.1-8B-Instruct", "stream": True,
                                      "messages": [{"role": "user", "content": "Say something."}]}),
    "ollama": ("/api/chat", {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "Say something."}]}),
    "ollama-openai": ("/v1/chat/completions", {"model": "llama3.1:8b", "stream": True,
                                               "messages": [{"role": "user", "content": "Say something."}]}),
}  # fmt: skip


async def _client(url: str, body: dict[str, object], streams: int, seconds: float, warmup_s: float,
                  sep: bytes) -> tuple[int, int, float]:  # fmt: skip
    import aiohttp

    counted = 0
    requests = 0
    t_start = time.perf_counter() + warmup_s
    t_end = t_start + seconds
    payload = json.dumps(body).encode()

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal counted, requests
        while time.perf_counter() < t_end:
            async with session.post(url, data=payload, headers={"Content-Type": "application/json"}) as resp:
                resp.raise_for_status()
                async for data in resp.content.iter_any():
                    now = time.perf_counter()
                    if t_start <= now < t_end:
                        counted += data.count(sep)
            requests += 1

    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=None)) as session:
        await asyncio.gather(*(worker(session) for _ in range(streams)))
    return counted, requests, seconds


def _client_proc(url: str, body: dict[str, object], streams: int, seconds: float, warmup_s: float, sep: bytes,
                 out: mp.Queue) -> None:  # type: ignore[type-arg]  # fmt: skip
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)))
    out.put(asyncio.run(_client(url, body, streams, seconds, warmup_s, sep)))


def _stats(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url + "/_sim/stats") as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=sorted(PAYLOADS), default="vllm")
    parser.add_argument("--streams", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup-s", type=float, default=2.0)
    parser.add_argument("--response-tokens", type=int, default=200)
    parser.add_argument("--clients", type=int, default=2, help="client processes sharing the streams")
    parser.add_argument("--min-chunks-per-s", type=float, default=20_000)
    args = parser.parse_args()

    kind = "vllm" if args.kind == "vllm" else "ollama"
    sim_args = ["--ttft-ms", "0", "--itl-ms", "0", "--prompt-token-ms", "0",
                "--response-tokens", str(args.response_tokens)]  # fmt: skip
    if kind == "ollama":
        sim_args += ["--num-parallel", str(args.streams)]
    else:
        sim_args += ["--max-num-seqs", str(args.streams)]
    path, body = PAYLOADS[args.kind]
    sep = b"\n" if args.kind == "ollama" else b"\n\n"
    with SimulatorProcess(kind, args=sim_args) as sim:
        if shutil.which("taskset"):
            os.system(f"taskset -pc 0 {sim.proc.pid} > /dev/null")  # type: ignore[union-attr]  # noqa: S605
        before = _stats(sim.url)
        queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        per = [args.streams // args.clients + (1 if i < args.streams % args.clients else 0)
               for i in range(args.clients)]  # fmt: skip
        procs = [mp.Process(target=_client_proc, args=(sim.url + path, body, n, args.seconds, args.warmup_s, sep,
                                                        queue)) for n in per]  # fmt: skip
        t0 = time.perf_counter()
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        wall = time.perf_counter() - t0
        after = _stats(sim.url)
    counted = sum(r[0] for r in results)
    rate = counted / args.seconds
    server_chunks = int(after["chunks_sent"]) - int(before["chunks_sent"])  # type: ignore[call-overload]
    print(f"kind={args.kind} streams={args.streams} clients={args.clients} window={args.seconds:.0f}s")
    print(f"client-counted events/s: {rate:,.0f} (events include each stream's final/[DONE] lines)")
    print(f"server chunks_sent over the whole run: {server_chunks:,} in {wall:.1f}s "
          f"= {server_chunks / wall:,.0f}/s (includes warm-up and drain)")  # fmt: skip
    ok = rate >= args.min_chunks_per_s
    print(f"{'PASS' if ok else 'FAIL'}: need >= {args.min_chunks_per_s:,.0f} chunks/s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
