"""Load generator speed and accuracy, side by side with GuideLLM and the seed guide's aiohttp script.

    .venv/bin/python benchmarks/loadgen_vs_guidellm.py [--guidellm /tmp/guidellm-venv/bin/guidellm]

Speed: the vLLM simulator with zero delays on one core, each client on the other core (taskset), 256
concurrent streams, the same prompts and max_tokens for every client. Each client runs in its own process;
completed requests/s and streamed tokens/s are what each client measured over its own measured window, and
the simulator's /_sim/stats (requests and tokens it served) are read before and after as a neutral referee.

Accuracy: the simulator at TTFT = 200 ms, ITL = 20 ms, concurrency 64: median TTFT within 2 % of 200 ms,
p99 within 10 ms of it.

Clients: o2v (its own HTTP/1.1 client over llhttp, uvloop), o2v-aiohttp and o2v-httpx (the same bodies, stream
parser and workers on aiohttp / httpx.AsyncClient: the alternatives it was chosen over), seed (the guide's
script: one aiohttp session with default limits, asyncio.gather in waves of N, non-streaming resp.text()),
seed-stream (the same with stream=true), guidellm (``guidellm run``, concurrent profile, JSON output).
GuideLLM needs its own venv: python -m venv /tmp/guidellm-venv && /tmp/guidellm-venv/bin/pip install guidellm.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL = "bench-model"
MAX_TOKENS = 256


# -- clients (each runs in its own pinned process) ---------------------------------------------------------------
def sim_stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_sim/stats", timeout=10) as resp:
        return dict(json.loads(resp.read()))


class CpuWindow:
    """CPU use of this client and of the simulator (pid in $BENCH_SIM_PID) over a window, in % of one core."""

    def __init__(self) -> None:
        self.sim_pid = int(os.environ.get("BENCH_SIM_PID", "0"))
        self.t0, self.me0 = time.perf_counter(), time.process_time()
        self.sim0 = proc_cpu_s(self.sim_pid) if self.sim_pid else 0.0

    def done(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        out = {"window_client_cpu_pct": 100 * (time.process_time() - self.me0) / wall}
        if self.sim_pid:
            out["window_sim_cpu_pct"] = 100 * (proc_cpu_s(self.sim_pid) - self.sim0) / wall
        return out


def client_o2v(url: str, concurrency: int, requests: int, ramp_up_s: float = 0.0) -> dict[str, Any]:
    from o2v.loadgen import Workload, run_loadtest_sync

    w = Workload(url=url, model=MODEL, concurrency=[concurrency], requests_per_level=requests,
                 warmup_requests=concurrency, max_tokens=MAX_TOKENS, ramp_up_s=ramp_up_s)  # fmt: skip
    cpu = CpuWindow()
    level = run_loadtest_sync(w).levels[0]
    return cpu.done() | {"completed": level.completed, "failed": level.failed, "duration_s": level.duration_s,
            "tokens": level.output_tokens_total, "lag_p99_ms": level.loop_lag_ms.p99,
            "ttft_median_ms": level.ttft_ms.median, "ttft_p99_ms": level.ttft_ms.p99,
            "ttft_p95_ms": level.ttft_ms.p95, "ttft_max_ms": level.ttft_ms.max,
            "lag_max_ms": level.loop_lag_ms.max}  # fmt: skip


def _hot_path_on(library: str, url: str, concurrency: int, requests: int) -> dict[str, Any]:
    """The o2v hot path (same bodies, same parser, same worker model) on ``library`` instead of its own client:
    httpx (the project's client elsewhere) or aiohttp (the load generator's client before wire.py)."""
    from o2v.loadgen.prompts import prompt_sequence
    from o2v.loadgen.protocol import Record, build_body, parser_for

    bodies = [build_body("openai", MODEL, p, max_tokens=MAX_TOKENS, temperature=0.0, top_p=None, ignore_eos=False)
              for p in prompt_sequence(None, None, 0)]  # fmt: skip
    target = url + "/v1/chat/completions"
    headers = {"Content-Type": "application/json"}
    done: list[Record] = []

    async def on_httpx(rec: Record, body: bytes, client: Any) -> None:
        async with client.stream("POST", target, content=body, headers=headers) as resp:
            parser = parser_for("openai", rec)
            async for chunk in resp.aiter_raw():
                parser.feed(chunk, time.perf_counter())

    async def on_aiohttp(rec: Record, body: bytes, session: Any) -> None:
        async with session.post(target, data=body) as resp:
            parser = parser_for("openai", rec)
            while data := await resp.content.readany():
                parser.feed(data, time.perf_counter())

    async def closed_loop(client: Any) -> float:
        send = on_httpx if library == "httpx" else on_aiohttp

        async def worker(counter: Any, total: int) -> None:
            while (i := next(counter)) < total:
                rec = Record(level=0, intended_s=0.0)
                rec.start_s = time.perf_counter()
                await send(rec, bodies[i % len(bodies)], client)
                rec.end_s = time.perf_counter()
                done.append(rec)

        warm = iter(range(10**9))
        await asyncio.gather(*(worker(warm, concurrency) for _ in range(concurrency)))
        done.clear()
        measured = iter(range(10**9))
        start = time.perf_counter()
        await asyncio.gather(*(worker(measured, requests) for _ in range(concurrency)))
        return time.perf_counter() - start

    async def main() -> float:
        if library == "httpx":
            import httpx

            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            async with httpx.AsyncClient(limits=limits, timeout=120.0) as client:
                return await closed_loop(client)
        import aiohttp

        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, headers=headers, auto_decompress=False) as session:
            return await closed_loop(session)

    cpu = CpuWindow()
    duration = _run(main())
    ok = [r for r in done if r.ok and r.done]
    return cpu.done() | {"completed": len(ok), "failed": len(done) - len(ok), "duration_s": duration,
            "tokens": sum(r.usage_tokens or len(r.token_times) for r in ok)}  # fmt: skip


def client_seed(url: str, concurrency: int, requests: int, *, stream: bool = False) -> dict[str, Any]:
    """The seed guide's script, its logic unchanged: default ClientSession, gather in waves, resp.text()."""
    import aiohttp

    from o2v.loadgen.prompts import prompt_sequence

    prompts = prompt_sequence(None, None, 0)
    statuses: list[int] = []

    async def send_request(session: aiohttp.ClientSession, request_id: int) -> tuple[float, int]:
        payload = {"model": MODEL, "messages": [{"role": "user", "content": prompts[request_id % len(prompts)]}],
                   "temperature": 0.0, "max_tokens": MAX_TOKENS}  # fmt: skip
        if stream:
            payload["stream"] = True
        start = time.monotonic()
        try:
            async with session.post(url + "/v1/chat/completions", json=payload) as resp:
                await resp.text()
                return time.monotonic() - start, resp.status
        except asyncio.TimeoutError:  # noqa: UP041 - as the guide wrote it
            return time.monotonic() - start, 0

    async def main() -> float:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            await asyncio.gather(*(send_request(session, i) for i in range(concurrency)))  # warm-up wave
            start = time.perf_counter()
            sent = 0
            while sent < requests:
                wave = min(concurrency, requests - sent)
                results = await asyncio.gather(*(send_request(session, sent + i) for i in range(wave)))
                statuses.extend(status for _, status in results)
                sent += wave
            return time.perf_counter() - start

    before = sim_stats(url)
    cpu = CpuWindow()
    duration = asyncio.run(main())
    window = cpu.done()
    after = sim_stats(url)
    ok = sum(1 for s in statuses if s == 200)
    # The script does not count tokens; the simulator's own count over the measured waves stands in.
    return window | {"completed": ok, "failed": len(statuses) - ok, "duration_s": duration,
            "tokens": after["tokens_generated"] - before["tokens_generated"]}  # fmt: skip


def _run(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def run_guidellm(exe: str, url: str, concurrency: int, requests: int, core: int) -> dict[str, Any]:
    from o2v.loadgen.prompts import prompt_sequence

    work = Path(tempfile.mkdtemp(prefix="bench-guidellm-"))
    prompts = prompt_sequence(None, None, 0)
    data = work / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": prompts[i % len(prompts)], "output_tokens_count": MAX_TOKENS})
                            + "\n" for i in range(requests + concurrency)))  # fmt: skip
    out = work / "guidellm.json"
    cmd = ["taskset", "-c", str(core), exe, "run", "--backend", f"kind=openai_http,target={url},model={MODEL}",
           "--profile", f"kind=concurrent,streams={concurrency}",
           "--constraint", f"kind=max_requests,count={requests}", "--data", f"kind=json_file,path={data}",
           "--disable-progress", "--output", f"kind=json,path={out}"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if not out.exists():
        raise SystemExit(f"guidellm wrote no result (exit {proc.returncode}): {proc.stderr[-800:]}")
    bench = json.loads(out.read_text())["benchmarks"][0]
    sched, metrics = bench["scheduler_metrics"], bench["metrics"]
    duration = sched["measure_end_time"] - sched["measure_start_time"]
    shutil.rmtree(work, ignore_errors=True)
    return {"completed": sched["requests_made"]["successful"], "failed": sched["requests_made"]["errored"],
            "duration_s": duration, "tokens": int(metrics["output_token_count"]["successful"]["total_sum"]),
            "ttft_median_ms": metrics["time_to_first_token_ms"]["successful"]["median"]}  # fmt: skip


# -- a server that costs (almost) nothing: isolates the clients' own ceiling -------------------------------------------
def canned_response(tokens: int, stream: bool) -> bytes:
    """One precomputed HTTP/1.1 response shaped like vLLM's (chunked SSE, one chunk per event)."""
    if not stream:
        body = json.dumps({"id": "c", "object": "chat.completion", "model": MODEL, "choices": [{"index": 0,
                           "message": {"role": "assistant", "content": "tok " * tokens}, "finish_reason": "length"}],
                           "usage": {"prompt_tokens": 8, "completion_tokens": tokens}}).encode()  # fmt: skip
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
            len(body), body)  # fmt: skip
    events: list[dict[str, Any]] = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    events += [{"id": "c", "object": "chat.completion.chunk", "model": MODEL,
                "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "logprobs": None, "finish_reason": None}]}
               for i in range(tokens)]  # fmt: skip
    events += [{"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
               {"choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": tokens}}]  # fmt: skip
    datas = [b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\n\n" for e in events]
    datas.append(b"data: [DONE]\n\n")
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(d), d) for d in datas) + b"0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    return head + chunks


def serve_canned(port: int, tokens: int) -> None:
    streamed, whole = canned_response(tokens, True), canned_response(tokens, False)
    models = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()
    listing = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(models), models)  # fmt: skip
    served = {"requests_total": 0, "tokens_generated": 0}

    class Proto(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.t, self.buf = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buf[:end].lower()
                length = 0
                at = head.find(b"content-length:")
                if at >= 0:
                    stop = head.find(b"\r\n", at)
                    length = int(head[at + 15 : stop if stop > 0 else None])
                if len(self.buf) < end + 4 + length:
                    return
                body, self.buf = self.buf[end + 4 : end + 4 + length], self.buf[end + 4 + length :]
                if head.startswith(b"get /_sim/stats"):
                    stats = json.dumps(served).encode()
                    self.t.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(stats), stats))
                elif head.startswith(b"get"):
                    self.t.write(listing)
                else:
                    served["requests_total"] += 1
                    served["tokens_generated"] += tokens
                    self.t.write(streamed if b'"stream":true' in body.replace(b" ", b"") else whole)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Proto, "127.0.0.1", port, backlog=4096)
        async with server:
            await server.serve_forever()

    _run(main())


class CannedServer:
    def __init__(self, core: int, tokens: int) -> None:
        from o2v.simulate.process import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(["taskset", "-c", str(core), sys.executable, __file__, "--serve-canned",
                                      str(self.port), "--tokens", str(tokens)])  # fmt: skip
        for _ in range(100):
            try:
                sim_stats(self.url)
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the canned server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# -- orchestration -------------------------------------------------------------------------------------------------
def run_client(name: str, url: str, concurrency: int, requests: int, core: int, sim_pid: int) -> dict[str, Any]:
    cmd = ["taskset", "-c", str(core), sys.executable, __file__, "--client", name, "--url", url,
           "--concurrency", str(concurrency), "--requests", str(requests)]  # fmt: skip
    env = {**os.environ, "BENCH_SIM_PID": str(sim_pid)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"client {name} failed: {proc.stderr[-1500:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_sim(args: list[str], core: int, kind: str = "vllm") -> Any:
    from o2v.simulate.process import SimulatorProcess

    named = ["--served-model-name", MODEL] if kind == "vllm" else ["--model", MODEL]
    sim = SimulatorProcess(kind, args=[*named, *args]).start()  # type: ignore[arg-type]
    assert sim.proc is not None
    os.sched_setaffinity(sim.proc.pid, {core})
    return sim


def speed(opts: argparse.Namespace, server: str) -> list[dict[str, Any]]:
    if server == "canned":
        sim: Any = CannedServer(opts.server_core, opts.tokens)
    else:
        zero = ["--ttft-ms", "0", "--itl-ms", "0", "--prompt-token-ms", "0", "--batch-cost", "0"]
        sim = start_sim([*zero, "--max-num-seqs", "1024", "--response-tokens", str(opts.tokens)], opts.server_core)
    rows = []
    try:
        for name in [c for _ in range(opts.rounds) for c in opts.clients]:
            before = sim_stats(sim.url)
            sim_cpu0, kids0 = proc_cpu_s(sim.proc.pid), children_cpu_s()
            t0 = time.perf_counter()
            if name == "guidellm":
                count = opts.guidellm_requests
                result = run_guidellm(opts.guidellm, sim.url, opts.concurrency, count, opts.client_core)
            else:
                result = run_client(name, sim.url, opts.concurrency, opts.requests, opts.client_core, sim.proc.pid)
            after = sim_stats(sim.url)
            wall = time.perf_counter() - t0
            result["sim_cpu_pct"] = 100 * (proc_cpu_s(sim.proc.pid) - sim_cpu0) / wall
            result["client_cpu_pct"] = 100 * (children_cpu_s() - kids0) / wall
            served = after["requests_total"] - before["requests_total"]
            result |= {"client": name, "server": server, "process_s": time.perf_counter() - t0,
                       "req_per_s": result["completed"] / result["duration_s"],
                       "tok_per_s": result["tokens"] / result["duration_s"],
                       "server_tokens_per_request": (after["tokens_generated"] - before["tokens_generated"])
                       / max(served, 1)}  # fmt: skip
            rows.append(result)
            print(
                f"  {name:<12} {result['req_per_s']:8.0f} req/s {result['tok_per_s']:9.0f} tok/s  "
                f"({result['completed']} ok, {result['failed']} failed, {result['duration_s']:.2f} s; "
                f"cpu in the window: simulator {result.get('window_sim_cpu_pct', 0):.0f} %, "
                f"client {result.get('window_client_cpu_pct', 0):.0f} %)",
                flush=True,
            )
    finally:
        sim.stop()
    return rows


def accuracy(opts: argparse.Namespace) -> dict[str, Any]:
    # The Ollama simulator with 64 slots gives every request exactly TTFT then ITL (its OpenAI-compatible /v1 is
    # the same SSE hot path). The vLLM simulator models continuous batching: a request arriving during a step
    # waits for it, so its TTFT is 200 ms plus part of a step by design, which is not a fixed reference.
    sim = start_sim(["--ttft-ms", "200", "--itl-ms", "20", "--prompt-token-ms", "0", "--num-parallel", "64",
                     "--response-tokens", "32"], opts.server_core, kind="ollama")  # fmt: skip
    try:
        result = run_client("o2v-accuracy", sim.url, 64, 640, opts.client_core, sim.proc.pid)
    finally:
        sim.stop()
    median, p99 = result["ttft_median_ms"], result["ttft_p99_ms"]
    result |= {"median_error_pct": (median - 200.0) / 2.0, "p99_minus_target_ms": p99 - 200.0,
               "pass": abs(median - 200.0) <= 4.0 and abs(p99 - 200.0) <= 10.0}  # fmt: skip
    print(
        f"  accuracy: TTFT median {median:.1f} ms ({result['median_error_pct']:+.2f} %), p99 {p99:.1f} ms "
        f"({result['p99_minus_target_ms']:+.1f} ms) -> {'PASS' if result['pass'] else 'FAIL'}",
        flush=True,
    )
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--client", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--concurrency", type=int, default=256)
    p.add_argument("--requests", type=int, default=20480)
    p.add_argument("--guidellm-requests", type=int, default=2560, help="GuideLLM is slow: its rate is steady sooner")
    p.add_argument("--tokens", type=int, default=64, help="simulator's natural answer length")
    p.add_argument("--client-core", type=int, default=0)
    p.add_argument("--server-core", type=int, default=1)
    p.add_argument("--guidellm", default="/tmp/guidellm-venv/bin/guidellm")
    clients = ["o2v", "o2v-aiohttp", "o2v-httpx", "seed", "seed-stream", "guidellm"]
    p.add_argument("--clients", nargs="+", default=clients)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median round is reported")
    p.add_argument("--servers", nargs="+", default=["simulator", "canned"], choices=["simulator", "canned"])
    p.add_argument("--serve-canned", type=int, help=argparse.SUPPRESS)
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--only-accuracy", action="store_true")
    p.add_argument("--json", type=Path, help="write all figures here")
    opts = p.parse_args()
    if opts.serve_canned:
        serve_canned(opts.serve_canned, opts.tokens)
        return
    if opts.client:
        fn = {"o2v": client_o2v,
              "o2v-httpx": lambda u, c, r: _hot_path_on("httpx", u, c, r),
              "o2v-aiohttp": lambda u, c, r: _hot_path_on("aiohttp", u, c, r),
              "seed": client_seed,
              "seed-stream": lambda u, c, r: client_seed(u, c, r, stream=True),
              # the slots start over 1 s: 64 requests landing in the same millisecond would measure the
              # simulator's queueing of a burst, not the client's accuracy
              "o2v-accuracy": lambda u, c, r: client_o2v(u, c, r, ramp_up_s=1.0)}[opts.client]  # fmt: skip
        print(json.dumps(fn(opts.url, opts.concurrency, opts.requests)))
        return
    if "guidellm" in opts.clients and not Path(opts.guidellm).exists():
        print(f"guidellm not found at {opts.guidellm}; skipping it", file=sys.stderr)
        opts.clients.remove("guidellm")
    results: dict[str, Any] = {"speed": [], "median": {}}
    for server in [] if opts.only_accuracy else opts.servers:
        print(
            f"speed against the {server} server: {opts.concurrency} streams, {opts.requests} requests, "
            f"client on core {opts.client_core}, server on core {opts.server_core}",
            flush=True,
        )
        rows = speed(opts, server)
        results["speed"] += rows
        by = results["median"][server] = {}
        for name in opts.clients:  # the median round by requests/s stands for the client
            runs = sorted((r for r in rows if r["client"] == name), key=lambda r: r["req_per_s"])
            by[name] = runs[len(runs) // 2]
            row = by[name]
            if row.get("window_client_cpu_pct"):  # what one request costs the client, whoever was the limit
                row["client_cpu_us_per_request"] = (
                    row["window_client_cpu_pct"] / 100 * row["duration_s"] / row["completed"] * 1e6
                )
                row["req_per_s_per_client_core"] = 1e6 / row["client_cpu_us_per_request"]
            per = row.get("client_cpu_us_per_request")
            cost = f"{per:6.0f} us client CPU/request" if per else ""
            print(f"  median {name:<12} {row['req_per_s']:8.0f} req/s {row['tok_per_s']:9.0f} tok/s  {cost}")
        if "o2v" in by:
            for other in [c for c in by if c != "o2v"]:
                print(
                    f"  o2v / {other}: {by['o2v']['req_per_s'] / by[other]['req_per_s']:.2f}x req/s, "
                    f"{by['o2v']['tok_per_s'] / max(by[other]['tok_per_s'], 1e-9):.2f}x tok/s",
                    flush=True,
                )
    results["accuracy"] = None if opts.skip_accuracy else accuracy(opts)
    if opts.json:
        opts.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
