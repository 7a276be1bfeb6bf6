"""What the cutover gateway costs: added TTFT at 64 streams, chunk timing, and 1,000 concurrent streams.

Every figure comes from the project's load generator (o2v/loadgen) as the client, against o2v's vLLM
simulator, side by side in one run: direct, through ``o2v gateway`` (OpenAI pass-through, and Ollama's native
API translated), and through nginx (``proxy_buffering off``) as the anchor for a plain reverse proxy.

    .venv/bin/python benchmarks/gateway_overhead.py            # writes benchmarks/results/gateway_overhead.json

1. overhead: zero-delay simulator (no TTFT, no ITL), at most 64 streams, median/p95 TTFT per path, repeated
   ``--rounds`` times in rotating order; the added TTFT is a path's median minus direct's, per round. Two
   regimes: a closed loop (64 streams back to back: the slowest component sets the pace, so this measures
   capacity as much as latency) and an open loop (Poisson arrivals at ``--rate``, at most 64 in flight:
   the latency a request gains when nothing is saturated). The proxy's CPU time per request is read
   from /proc.
2. chunk timing: a paced simulator (50 ms TTFT, 20 ms between tokens); buffering would collapse the
   gaps between chunks and push TTFT towards the end of the stream, so both are compared with direct.
3. 1,000 concurrent streams through the gateway (32 tokens at 50 ms each, so they overlap): errors counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from o2v.gateway.process import GatewayProcess  # noqa: E402
from o2v.loadgen.runner import run_loadtest  # noqa: E402
from o2v.loadgen.workload import Workload  # noqa: E402
from o2v.simulate.process import SimulatorProcess, free_port  # noqa: E402

MODEL = "llama3.1:8b"
ZERO = ["--ttft-ms", "0", "--itl-ms", "0", "--prompt-token-ms", "0", "--max-num-seqs", "2048"]
PACED = ["--ttft-ms", "50", "--itl-ms", "20", "--prompt-token-ms", "0", "--max-num-seqs", "2048"]
LONG = ["--ttft-ms", "0", "--itl-ms", "50", "--prompt-token-ms", "0", "--max-num-seqs", "2048"]

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    upstream backend {{ server {upstream}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 600s;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, upstream: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="o2v-nginx-"))
        self.port = free_port()
        (self.dir / "nginx.conf").write_text(NGINX_CONF.format(dir=self.dir, upstream=upstream, port=self.port))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Nginx:
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([exe, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
                                      "-g", "daemon off;"])  # fmt: skip
        time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class BaselineGateway(GatewayProcess):
    """``o2v gateway`` from another copy of the code (``git archive <commit> o2v | tar -x -C DIR``), so a change
    and the code before it are measured side by side in one run, under the same load."""

    def __init__(self, root: Path, config: Path, *, listen: str, args: list[str]) -> None:
        super().__init__(config, listen=listen, args=args)
        self.root = root

    @property
    def command(self) -> list[str]:
        code = f"import sys; sys.path.insert(0, {str(self.root)!r}); from o2v.cli import main; main()"
        return [sys.executable, "-c", code, *super().command[3:]]


def gateway_for(vllm_url: str, workdir: Path, baseline: Path | None = None) -> GatewayProcess:
    config = workdir / f"gateway-{free_port()}.yaml"
    config.write_text(yaml.safe_dump({
        "store": {"url": f"sqlite:///{workdir / 'bench.db'}"},
        "gateway": {"ollama_url": vllm_url, "vllm_url": vllm_url, "admin_listen": f"127.0.0.1:{free_port()}"},
    }))  # fmt: skip
    # Everyone (unnamed) on vLLM; "Ollama" is pointed at the same simulator, never used.
    if baseline is not None:
        return BaselineGateway(baseline, config, listen=f"127.0.0.1:{free_port()}", args=["--percent", "100"])
    return GatewayProcess(config, listen=f"127.0.0.1:{free_port()}", args=["--percent", "100"])


async def measure(
    url: str, *, api: str, concurrency: int, requests: int, max_tokens: int, rate: float | None = None
) -> dict[str, Any]:
    """One level of the load generator: ``concurrency`` streams in a closed loop, or Poisson arrivals at ``rate``
    with at most ``concurrency`` in flight."""
    mode: dict[str, Any] = {"mode": "rate", "rate_rps": [rate], "max_concurrency": concurrency} if rate else {}
    workload = Workload(
        url=url, api=api, model=MODEL, concurrency=[concurrency], requests_per_level=requests,  # type: ignore[arg-type]
        max_tokens=max_tokens, warmup_requests=min(concurrency, 64), request_timeout_s=300, **mode,
    )  # fmt: skip
    result = await run_loadtest(workload)
    level = result.levels[0]
    return {
        "requests": level.requests, "failed": level.failed, "errors": level.errors_by_kind,
        "ttft_median_ms": level.ttft_ms.median, "ttft_p95_ms": level.ttft_ms.p95,
        "itl_median_ms": level.itl_ms.median, "e2e_median_ms": level.e2e_ms.median,
        "throughput_rps": level.request_throughput_rps, "client_lag_median_ms": level.loop_lag_ms.median,
    }  # fmt: skip


def litellm_status() -> str:
    try:
        import litellm  # noqa: F401
    except ImportError:
        return "not installed"
    return "installed"


async def overhead(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    with SimulatorProcess("vllm", args=[*ZERO, "--served-model-name", MODEL]) as sim, \
            gateway_for(sim.url, workdir) as gw, Nginx(f"127.0.0.1:{sim.port}") as nginx:  # fmt: skip
        paths = {"direct": (sim.url, "openai"), "gateway": (gw.url, "openai"), "nginx": (nginx.url, "openai"),
                 "gateway-native": (gw.url, "ollama")}  # fmt: skip
        pids = {"gateway": gw.proc.pid if gw.proc else 0, "nginx": nginx.proc.pid if nginx.proc else 0,
                "direct": sim.proc.pid if sim.proc else 0}  # fmt: skip
        out: dict[str, Any] = {}
        for regime, rate in (("closed_loop", None), ("open_loop", args.rate)):
            rounds: list[dict[str, Any]] = []
            for r in range(args.rounds):
                order = list(paths)[r % len(paths) :] + list(paths)[: r % len(paths)]
                row = {}
                for name in order:
                    url, api = paths[name]
                    proxy = "gateway" if name.startswith("gateway") else name
                    before = cpu_s(pids[proxy])
                    row[name] = await measure(url, api=api, concurrency=64, requests=args.requests, max_tokens=16,
                                              rate=rate)  # fmt: skip
                    # CPU of the proxy (nginx: its workers); for "direct", the simulator's own.
                    row[name]["cpu_ms_per_request"] = (
                        (cpu_s(pids[proxy]) - before) * 1000 / (row[name]["requests"] + 64)
                    )
                    print(f"{regime} round {r + 1} {name}: TTFT median {row[name]['ttft_median_ms']:.2f} ms",
                          flush=True)  # fmt: skip
                rounds.append(row)
            added = {name: [row[name]["ttft_median_ms"] - row["direct"]["ttft_median_ms"] for row in rounds]
                     for name in ("gateway", "nginx", "gateway-native")}  # fmt: skip
            out[regime] = {"rate_rps": rate, "rounds": rounds, "added_ttft_per_round_ms": added,
                           "added_ttft_median_ms": {k: statistics.median(v) for k, v in added.items()}}  # fmt: skip
    return out


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process and its children (nginx's workers) have used so far, from /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def chunk_timing(workdir: Path) -> dict[str, Any]:
    with SimulatorProcess("vllm", args=[*PACED, "--served-model-name", MODEL]) as sim, \
            gateway_for(sim.url, workdir) as gw, Nginx(f"127.0.0.1:{sim.port}") as nginx:  # fmt: skip
        out = {}
        for name, url in (("direct", sim.url), ("gateway", gw.url), ("nginx", nginx.url)):
            out[name] = await measure(url, api="openai", concurrency=16, requests=64, max_tokens=16)
        out["gateway-native"] = await measure(gw.url, api="ollama", concurrency=16, requests=64, max_tokens=16)
    return out


async def thousand(workdir: Path) -> dict[str, Any]:
    sim = SimulatorProcess("vllm", args=[*LONG, "--served-model-name", MODEL])
    with sim, gateway_for(sim.url, workdir) as gw:
        return {
            "direct": await measure(sim.url, api="openai", concurrency=1000, requests=2000, max_tokens=32),
            "gateway": await measure(gw.url, api="openai", concurrency=1000, requests=2000, max_tokens=32),
        }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1280, help="requests per path per round at 64 streams")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop arrival rate (req/s), cap 64 in flight")
    parser.add_argument("--skip-thousand", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gateway_overhead.json")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="o2v-gw-bench-"))
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),  # noqa: ASYNC221
        "litellm": litellm_status(),
    }
    result["overhead_64_streams"] = await overhead(args, workdir)
    result["chunk_timing_16_streams"] = await chunk_timing(workdir)
    if not args.skip_thousand:
        result["thousand_streams"] = await thousand(workdir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "overhead_64_streams"}, indent=2))
    for regime, figures in result["overhead_64_streams"].items():
        print(regime, json.dumps(figures["added_ttft_median_ms"]))


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
