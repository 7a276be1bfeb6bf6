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
import contextlib
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
    url: str, *, api: str, concurrency: int, requests: int, max_tokens: int, rate: float | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """One level of the load generator: ``concurrency`` streams in a closed loop, or Poisson arrivals at ``rate``
    with at most ``concurrency`` in flight."""
    mode: dict[str, Any] = {"mode": "rate", "rate_rps": [rate], "max_concurrency": concurrency} if rate else {}
    workload = Workload(
        url=url, api=api, model=MODEL, concurrency=[concurrency], requests_per_level=requests,  # type: ignore[arg-type]
        max_tokens=max_tokens, warmup_requests=min(concurrency, 64), request_timeout_s=300, api_key=api_key, **mode,
    )  # fmt: skip
    result = await run_loadtest(workload)
    level = result.levels[0]
    return {
        "requests": level.requests, "failed": level.failed, "errors": level.errors_by_kind,
        "ttft_median_ms": level.ttft_ms.median, "ttft_p95_ms": level.ttft_ms.p95,
        "itl_median_ms": level.itl_ms.median, "e2e_median_ms": level.e2e_ms.median,
        "throughput_rps": level.request_throughput_rps, "client_lag_median_ms": level.loop_lag_ms.median,
    }  # fmt: skip


LITELLM_KEY = "sk-o2v-bench-5f1e0c9a7b3d4e2f8a6c1b0d9e8f7a6b"  # LiteLLM refuses to start without a master key
LITELLM_CONF = """
model_list:
  - model_name: "{model}"
    litellm_params: {{model: "openai/{model}", api_base: "{upstream}/v1", api_key: "none"}}
general_settings: {{master_key: "{key}"}}
litellm_settings: {{drop_params: true}}
"""


class LiteLLM:
    """LiteLLM's proxy (``litellm --config``) from its own virtual environment, never a dependency of o2v:
    ``python3 -m venv /tmp/litellm && /tmp/litellm/bin/pip install 'litellm[proxy]'``."""

    def __init__(self, exe: Path, upstream: str, workdir: Path) -> None:
        self.exe = exe
        self.port = free_port()
        self.config = workdir / "litellm.yaml"
        self.config.write_text(LITELLM_CONF.format(model=MODEL, upstream=upstream, key=LITELLM_KEY))
        self.log = workdir / "litellm.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiteLLM:
        import urllib.request

        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # no fetch from the internet at start
        with open(self.log, "wb") as log:
            command = [str(self.exe), "--config", str(self.config), "--host", "127.0.0.1", "--port", str(self.port)]
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health/liveliness", timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"LiteLLM did not start: see {self.log}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def litellm_status(exe: Path | None) -> str:
    if exe is None:
        return "not measured: pass --litellm PATH (LiteLLM's proxy command, in a virtual environment of its own)"
    if not exe.exists():
        return f"not measured: {exe} does not exist"
    version = subprocess.run([str(exe.parent / "pip"), "show", "litellm"], capture_output=True, text=True).stdout
    return next((line for line in version.splitlines() if line.startswith("Version:")), "installed")


async def overhead(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        sim = stack.enter_context(SimulatorProcess("vllm", args=[*ZERO, "--served-model-name", MODEL]))
        gw = stack.enter_context(gateway_for(sim.url, workdir))
        nginx = stack.enter_context(Nginx(f"127.0.0.1:{sim.port}"))
        # path -> (URL, API, the process whose CPU is counted, API key)
        paths: dict[str, tuple[str, str, Any, str | None]] = {
            "direct": (sim.url, "openai", sim, None), "gateway": (gw.url, "openai", gw, None),
            "nginx": (nginx.url, "openai", nginx, None), "gateway-native": (gw.url, "ollama", gw, None),
        }  # fmt: skip
        if args.baseline is not None:
            before = stack.enter_context(gateway_for(sim.url, workdir, args.baseline))
            paths["gateway-before"] = (before.url, "openai", before, None)
            paths["gateway-native-before"] = (before.url, "ollama", before, None)
        if args.litellm is not None and args.litellm.exists():
            litellm = stack.enter_context(LiteLLM(args.litellm, sim.url, workdir))
            paths["litellm"] = (litellm.url, "openai", litellm, LITELLM_KEY)
        out: dict[str, Any] = {}
        for regime, rate in (("closed_loop", None), ("open_loop", args.rate)):
            rounds: list[dict[str, Any]] = []
            for r in range(args.rounds):
                order = list(paths)[r % len(paths) :] + list(paths)[: r % len(paths)]
                row = {}
                for name in order:
                    url, api, proc, key = paths[name]
                    pid = proc.proc.pid if proc.proc else 0
                    cpu_before = cpu_s(pid)
                    row[name] = await measure(url, api=api, concurrency=64, requests=args.requests, max_tokens=16,
                                              rate=rate, api_key=key)  # fmt: skip
                    # CPU of the proxy (nginx: its workers); for "direct", the simulator's own.
                    row[name]["cpu_ms_per_request"] = (cpu_s(pid) - cpu_before) * 1000 / (row[name]["requests"] + 64)
                    print(f"{regime} round {r + 1} {name}: TTFT median {row[name]['ttft_median_ms']:.2f} ms, "
                          f"CPU {row[name]['cpu_ms_per_request']:.3f} ms/request", flush=True)  # fmt: skip
                rounds.append(row)
            added = {name: [row[name]["ttft_median_ms"] - row["direct"]["ttft_median_ms"] for row in rounds]
                     for name in paths if name != "direct"}  # fmt: skip
            cpu = {name: statistics.median(row[name]["cpu_ms_per_request"] for row in rounds) for name in paths}
            out[regime] = {"rate_rps": rate, "rounds": rounds, "added_ttft_per_round_ms": added,
                           "added_ttft_median_ms": {k: statistics.median(v) for k, v in added.items()},
                           "cpu_ms_per_request_median": cpu}  # fmt: skip
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
    parser.add_argument("--baseline", type=Path,
                        help="a copy of the code before a change (git archive REV o2v | tar -x -C DIR): its gateway "
                             "runs as 'gateway-before' and 'gateway-native-before' in the same rounds")  # fmt: skip
    parser.add_argument("--litellm", type=Path,
                        help="LiteLLM's proxy command (e.g. /tmp/litellm/bin/litellm); left out when not given")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gateway_overhead.json")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="o2v-gw-bench-"))
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),  # noqa: ASYNC221
        "litellm": litellm_status(args.litellm),
        "load_average_at_start": os.getloadavg(),
    }
    result["overhead_64_streams"] = await overhead(args, workdir)
    result["chunk_timing_16_streams"] = await chunk_timing(workdir)
    if not args.skip_thousand:
        result["thousand_streams"] = await thousand(workdir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "overhead_64_streams"}, indent=2))
    for regime, figures in result["overhead_64_streams"].items():
        print(regime, "added TTFT", json.dumps(figures["added_ttft_median_ms"]))
        print(regime, "CPU ms/request", json.dumps(figures["cpu_ms_per_request_median"]))


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
