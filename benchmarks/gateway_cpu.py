"""The gateway's CPU time per request on each of its main paths, against nginx on the same traffic.

Zero-delay simulators (vLLM's and Ollama's) behind one ``o2v gateway`` process; a small keep-alive client
(64 connections, each request sent as soon as the previous answer ended) sends ``--requests`` requests per
path; the gateway's CPU time (user + system, from /proc) over those requests, divided by their number, is the
figure. Paths, in rotating order per round:

- ``openai-stream``: ``/v1/chat/completions`` streamed, passed through to vLLM (model name mapped, key added);
- ``native-stream``: Ollama's ``/api/chat`` streamed, translated to vLLM and back (NDJSON built per event);
- ``native-whole``: the same with ``stream: false`` (one JSON reply);
- ``ollama-stream``: ``/api/chat`` streamed, passed through to Ollama (a client routed to Ollama);
- ``nginx-openai``: the first path through nginx (``proxy_buffering off``), the anchor for a plain proxy.

    .venv/bin/python benchmarks/gateway_cpu.py --rounds 5      # writes benchmarks/results/gateway_cpu.json
    .venv/bin/python benchmarks/gateway_cpu.py --py-spy /tmp/tools/bin/py-spy --paths openai-stream
        # also samples the gateway with py-spy while each path runs: the top functions per path
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_overhead import BaselineGateway, Nginx, cpu_s  # noqa: E402

from o2v.gateway.lean_http import Pool, encode_request  # noqa: E402
from o2v.gateway.process import GatewayProcess  # noqa: E402
from o2v.simulate.process import SimulatorProcess, free_port  # noqa: E402

MODEL = "llama3.1:8b"
ZERO = ["--ttft-ms", "0", "--itl-ms", "0", "--prompt-token-ms", "0"]
MESSAGES = [{"role": "user", "content": "Say something short about proxies."}]
TOKENS = 16


def requests_for(path: str) -> tuple[str, dict[str, str], bytes]:
    """(target, extra headers, body) of one request on a path."""
    if path in ("openai-stream", "nginx-openai"):
        body = {"model": MODEL, "messages": MESSAGES, "max_tokens": TOKENS, "stream": True,
                "stream_options": {"include_usage": True}}  # fmt: skip
        return "/v1/chat/completions", {"Content-Type": "application/json"}, orjson.dumps(body)
    native: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "options": {"num_predict": TOKENS}}
    if path == "native-whole":
        native["stream"] = False
    headers = {"Content-Type": "application/json"}
    if path == "ollama-stream":
        headers["X-O2V-Client"] = "stays-on-ollama"  # a named client without a route: Ollama
    return "/api/chat", headers, orjson.dumps(native)


async def drive(url: str, path: str, *, requests: int, concurrency: int) -> dict[str, Any]:
    """``requests`` requests over ``concurrency`` keep-alive connections; answers read to their end."""
    host, port = url.removeprefix("http://").split(":")
    pool = Pool(host, int(port))
    target, headers, body = requests_for(path)
    wire = encode_request("POST", target, f"{host}:{port}", headers, body)
    left = requests
    failed = 0
    statuses: collections.Counter[int] = collections.Counter()

    async def worker() -> None:
        nonlocal left, failed
        while left > 0:
            left -= 1
            conn = await pool.acquire(10.0)
            response = conn.send(wire, False)
            await conn.head()
            while await response.read():
                pass
            statuses[response.status] += 1
            failed += response.status != 200
            pool.release(conn)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    pool.close()
    return {"requests": requests, "failed": failed, "statuses": dict(statuses), "seconds": elapsed,
            "requests_per_s": requests / elapsed}  # fmt: skip


def gateway_config(workdir: Path, ollama: str, vllm: str) -> Path:
    port = free_port()
    config = workdir / f"gateway-{port}.yaml"
    config.write_text(yaml.safe_dump({
        "store": {"url": f"sqlite:///{workdir / f'bench-{port}.db'}"},
        "gateway": {"ollama_url": ollama, "vllm_url": vllm, "admin_listen": f"127.0.0.1:{free_port()}"},
    }))  # fmt: skip
    return config


def spy(py_spy: str, pid: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
                             "--output", str(out), "--native"],
                            stdout=subprocess.DEVNULL, stderr=open(f"{out}.log", "wb"))  # fmt: skip


def top_functions(raw: Path, limit: int = 25) -> list[tuple[str, float]]:
    """Self time and inclusive time shares from py-spy's collapsed stacks (``frame;frame;... count``)."""
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        own[frames[-1]] += int(count)
    return [(name, round(100 * n / total, 1)) for name, n in own.most_common(limit)] if total else []


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="requests per path per round")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--paths",
        nargs="*",
        default=["openai-stream", "native-stream", "native-whole", "ollama-stream", "nginx-openai"],
    )
    parser.add_argument("--py-spy", help="path of a py-spy binary: sample the gateway while each path runs")
    parser.add_argument("--baseline", type=Path,
                        help="a copy of the code before a change (git archive REV o2v | tar -x -C DIR): its gateway "
                             "runs the same paths in the same rounds, labelled 'before:<path>'")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gateway_cpu.json")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="o2v-gw-cpu-"))
    vllm_args = [*ZERO, "--served-model-name", MODEL, "--max-num-seqs", "2048"]
    ollama_args = [*ZERO, "--num-parallel", "256", "--model", MODEL]
    with contextlib.ExitStack() as stack:
        vllm = stack.enter_context(SimulatorProcess("vllm", args=vllm_args))
        ollama = stack.enter_context(SimulatorProcess("ollama", args=ollama_args))
        flags = ["--percent", "100"]
        procs: dict[str, Any] = {
            "gateway": stack.enter_context(GatewayProcess(
                gateway_config(workdir, ollama.url, vllm.url), listen=f"127.0.0.1:{free_port()}", args=flags)),
            "nginx": stack.enter_context(Nginx(f"127.0.0.1:{vllm.port}")),
        }  # fmt: skip
        labels = list(args.paths)
        if args.baseline is not None:
            procs["before"] = stack.enter_context(BaselineGateway(
                args.baseline, gateway_config(workdir, ollama.url, vllm.url), listen=f"127.0.0.1:{free_port()}",
                args=flags))  # fmt: skip
            labels += [f"before:{p}" for p in args.paths if not p.startswith("nginx")]
        rounds: list[dict[str, Any]] = []
        profiles: dict[str, Any] = {}

        def target(label: str) -> tuple[str, str, int]:
            """(proxy name, URL, path) of a label."""
            proxy = "nginx" if label.startswith("nginx") else "before" if label.startswith("before:") else "gateway"
            proc = procs[proxy]
            return proxy, proc.url, proc.proc.pid if proc.proc else 0

        for label in labels:  # warm-up: connections opened, code paths imported
            await drive(target(label)[1], label.removeprefix("before:"), requests=256, concurrency=args.concurrency)
        for r in range(args.rounds):
            order = labels[r % len(labels) :] + labels[: r % len(labels)]
            row: dict[str, Any] = {}
            for label in order:
                proxy, url, pid = target(label)
                sampler = None
                if args.py_spy and proxy != "nginx" and r == 0:
                    sampler = spy(args.py_spy, pid, workdir / f"{label}.raw")
                    await asyncio.sleep(0.5)
                before = cpu_s(pid)
                row[label] = await drive(url, label.removeprefix("before:"), requests=args.requests,
                                         concurrency=args.concurrency)  # fmt: skip
                row[label]["cpu_us_per_request"] = (cpu_s(pid) - before) * 1e6 / args.requests
                if sampler is not None:
                    sampler.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
                    sampler.wait(timeout=30)
                    profiles[label] = top_functions(workdir / f"{label}.raw")
                print(
                    f"round {r + 1} {label}: {row[label]['cpu_us_per_request']:.0f} us CPU/request, "
                    f"{row[label]['requests_per_s']:.0f} req/s, failed {row[label]['failed']}",
                    flush=True,
                )
            rounds.append(row)
    summary = {
        name: {
            "cpu_us_per_request": [round(row[name]["cpu_us_per_request"]) for row in rounds],
            "cpu_us_median": round(statistics.median(row[name]["cpu_us_per_request"] for row in rounds)),
            "requests_per_s_median": round(statistics.median(row[name]["requests_per_s"] for row in rounds)),
        }
        for name in labels
    }
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()},
        "requests_per_path": args.requests, "concurrency": args.concurrency, "summary": summary, "rounds": rounds,
        "profiles": profiles,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(summary, indent=2))
    for name, top in profiles.items():
        print(f"\n{name}: self time, % of samples")
        for frame, share in top:
            print(f"  {share:5.1f}  {frame}")


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
