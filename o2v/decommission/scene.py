"""A decommission stage set on this machine: Ollama's simulator in Docker (with a models volume), the vLLM
simulator and the o2v gateway as processes, and a store holding what a finished cutover leaves behind.

Used by the decommission rehearsal and its tests. The store is seeded the way the validate phase and the
cutover leave it (a validation comparison with Ollama's samples, every cutover stage promoted in the ledger,
everyone routed to vLLM); the live traffic of the window is real requests through the real gateway.
"""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml

import o2v
from o2v.config import Settings, load_settings
from o2v.cutover.position import CutoverPosition, save_position
from o2v.cutover.stages import resolve_stages
from o2v.gateway.process import GatewayProcess
from o2v.gpu.recorded import recorded_gpu_path
from o2v.simulate.process import SimulatorProcess, free_port
from o2v.store import RequestSample, Store

MODEL = "llama3.1:8b"
OLLAMA_IMAGE = f"o2v-sim-ollama:{o2v.__version__}"
VLLM_ARGS = ["meta-llama/Llama-3.1-8B-Instruct", "--served-model-name", MODEL, "--ttft-ms", "5", "--itl-ms", "1"]


def wait_http(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(url, timeout=1.0).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def chat(url: str, *, api: str = "openai", timeout_s: float = 30.0) -> httpx.Response:
    messages = [{"role": "user", "content": "Say hello in five words."}]
    if api == "openai":
        body = {"model": MODEL, "messages": messages, "max_tokens": 8}
        return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=timeout_s)
    body = {"model": MODEL, "messages": messages, "stream": False, "options": {"num_predict": 8}}
    return httpx.post(f"{url}/api/chat", json=body, timeout=timeout_s)


class Scene:
    def __init__(self, workdir: Path, *, decommission_after_s: float = 3.0, min_samples: int = 40) -> None:
        import docker

        self.workdir = workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:8]
        self.migration_id = f"decom-{token}"
        self.docker: Any = docker.from_env()
        self.container_name = f"o2v-{self.migration_id}-ollama"
        self.volume_name = f"o2v-{self.migration_id}-ollama-models"
        self.decommission_after_s = decommission_after_s
        self.min_samples = min_samples
        self.ollama_port = free_port()
        self.vllm: SimulatorProcess | None = None
        self.gateway: GatewayProcess | None = None
        self.config_path = self.workdir / "migration.yaml"
        self.admin_token = secrets.token_hex(12)

    @property
    def ollama_url(self) -> str:
        return f"http://127.0.0.1:{self.ollama_port}"

    def __enter__(self) -> Scene:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()

    def _start(self) -> None:
        self.docker.volumes.create(self.volume_name, labels={"o2v.test": "decommission"})
        self.docker.containers.run(
            OLLAMA_IMAGE, command=["--ttft-ms", "5", "--itl-ms", "1", "--load-ms", "50"], name=self.container_name,
            detach=True, ports={"11434/tcp": ("127.0.0.1", self.ollama_port)},
            volumes={self.volume_name: {"bind": "/root/.ollama", "mode": "rw"}}, labels={"o2v.test": "decommission"},
        )  # fmt: skip
        wait_http(f"{self.ollama_url}/api/version")
        self.vllm = SimulatorProcess("vllm", args=VLLM_ARGS, log_dir=self.workdir / "logs").start()
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        self.gateway = GatewayProcess(self.config_path, listen=f"127.0.0.1:{free_port()}").start()

    def config(self) -> dict[str, Any]:
        assert self.vllm is not None
        bridge = self.bridge_gateway()
        return {
            "migration_id": self.migration_id,
            "workdir": str(self.workdir),
            "ollama": {"url": self.ollama_url, "container_name": self.container_name, "log_source": "docker"},
            "vllm": {"host": "127.0.0.1", "port": self.vllm.port, "backend": "process"},
            "store": {"url": f"sqlite:///{self.workdir / 'o2v.db'}"},
            "thresholds": {"min_samples": self.min_samples, "bootstrap_resamples": 400},
            "cutover": {"stages_percent": [50, 100], "decommission_after_days": self.decommission_after_s / 86400},
            "gateway": {"ollama_url": self.ollama_url, "vllm_url": self.vllm.url,
                        "admin_listen": f"127.0.0.1:{free_port()}", "admin_token": self.admin_token},
            # The gateway runs on this host, so Ollama's container sees it at the bridge's gateway address.
            "decommission": {"gateway_addresses": [bridge], "ollama_health_timeout_s": 60},
            "slack": {"approval_timeout_s": 120},
            "gpu": {"recorded_devices": str(recorded_gpu_path())},
        }  # fmt: skip

    def bridge_gateway(self) -> str:
        import ipaddress

        config = self.docker.networks.get("bridge").attrs["IPAM"]["Config"][0]
        # Docker leaves "Gateway" out when it is the subnet's first address (the default).
        return str(config.get("Gateway") or next(ipaddress.ip_network(config["Subnet"]).hosts()))

    def settings(self) -> Settings:
        return load_settings(self.config_path)

    def store(self) -> Store:
        return Store.from_settings(self.settings())

    def seed_cutover(self, store: Store, *, baseline_requests: int | None = None) -> None:
        """What the validate phase and a finished cutover leave: Ollama's validation samples, every stage promoted."""
        settings = self.settings()
        run_id = f"validate-ollama-{uuid.uuid4().hex[:6]}"
        samples = []
        for _ in range(baseline_requests or self.min_samples + 10):
            began = time.perf_counter()
            response = chat(self.ollama_url, api="native")
            e2e = (time.perf_counter() - began) * 1000
            samples.append(RequestSample(source="loadtest", backend="ollama", model=MODEL, status=response.status_code,
                                         e2e_ms=e2e, ttft_ms=e2e, output_tokens=8, run_id=run_id))  # fmt: skip
        store.add_samples(samples)
        comparison = f"cmp-{uuid.uuid4().hex[:6]}"
        store.set_state(f"comparison:{comparison}", {"ollama_run_id": run_id})
        key = settings.config_hash()
        entry = store.phase_started(self.migration_id, "validate", key)
        store.phase_finished(entry, "succeeded", result={"comparison_id": comparison})
        stages = resolve_stages(settings)
        for stage in stages:
            entry = store.phase_started(self.migration_id, f"cutover-{stage.key}", key)
            store.phase_finished(entry, "succeeded", result={"stage": stage.index})
        store.set_percent(100, actor="rehearsal", reason="cutover done")
        save_position(store, CutoverPosition(migration_id=self.migration_id), completed=len(stages),
                      in_force=len(stages), status="done", reason="every stage promoted")  # fmt: skip

    def render_compose(self) -> list[Path]:
        """The compose files the plan phase would have written for this migration (reports/<id>/compose)."""
        from o2v.gpu import DockerRuntimes, verify_gpu
        from o2v.inventory import Inventory, OllamaModel
        from o2v.plan import make_plan, render_compose

        settings = self.settings()
        report = verify_gpu(settings, docker=DockerRuntimes(engine_reachable=True, runtimes=["nvidia"]))
        inventory = Inventory(ollama_url=self.ollama_url, ollama_version="0.12.3",
                              models=[OllamaModel(name=MODEL, architecture="llama")])  # fmt: skip
        out = self.workdir / "reports" / self.migration_id / "compose"
        return render_compose(make_plan(settings, inventory, report), out)

    def traffic(self, requests: int) -> int:
        """Requests through the gateway (now all on vLLM); the gateway records each as a sample."""
        assert self.gateway is not None
        store = self.store()
        before = store.count_samples(source="gateway")
        ok = 0
        for i in range(requests):
            response = chat(self.gateway.url, api="openai" if i % 2 else "native")
            ok += response.status_code == 200
        # The gateway writes its samples in batches (every 0.5 s): wait until this traffic is all in the store.
        deadline = time.monotonic() + 15
        while store.count_samples(source="gateway") < before + requests and time.monotonic() < deadline:
            time.sleep(0.2)
        return ok

    def straggler(self, requests: int = 3) -> str:
        """One client calling Ollama directly from its own container: returns its address as Ollama sees it."""
        container = self.docker.containers.get(self.container_name)
        ip = container.attrs["NetworkSettings"]["IPAddress"]
        code = (
            "import json, socket, urllib.request\n"
            "print(socket.gethostbyname(socket.gethostname()), flush=True)\n"
            f"for _ in range({requests}):\n"
            f"    req = urllib.request.Request('http://{ip}:11434/api/generate', data=json.dumps("
            f"{{'model': '{MODEL}', 'prompt': 'hi', 'stream': False}}).encode(), "
            "headers={'Content-Type': 'application/json'})\n"
            "    urllib.request.urlopen(req, timeout=30).read()\n"
        )
        client = self.docker.containers.run(OLLAMA_IMAGE, entrypoint=["python3", "-c", code], detach=True,
                                            labels={"o2v.test": "decommission"})  # fmt: skip
        try:
            status = client.wait(timeout=60)
            output = client.logs().decode(errors="replace").strip()
            if status.get("StatusCode") != 0:
                raise RuntimeError(f"the straggler client failed: {output[-500:]}")
            return output.splitlines()[0].strip()
        finally:
            client.remove(force=True)

    def close(self) -> None:
        import docker.errors

        if self.gateway is not None:
            self.gateway.stop()
        if self.vllm is not None:
            self.vllm.stop()
        for remove in (lambda: self.docker.containers.get(self.container_name).remove(force=True),
                       lambda: self.docker.volumes.get(self.volume_name).remove(force=True)):  # fmt: skip
            try:
                remove()
            except docker.errors.NotFound:
                pass
