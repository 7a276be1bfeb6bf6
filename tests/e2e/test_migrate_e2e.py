"""The product as a user meets it: prefect.yaml deployed to a real Prefect server, a process worker, simulator
containers on a real Docker engine standing in for Ollama and vLLM.

Run 1 is broken on purpose (the vLLM container gets +1.5 s on every request through its fault-injection
endpoint right after it turns healthy): validation must fail, roll vLLM back and end Failed with the reasons.
Run 2, with the same migration id, must skip the phases that succeeded, deploy again and pass.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support.engines import free_port
from support.prefect_server import POOL, PrefectServer, api_at

import o2v
from o2v.gpu.recorded import recorded_gpu_memory_gib
from o2v.store import Store

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
RECORDED_GPU = ROOT / "o2v" / "data" / "rehearsal-gpu.json"
FAST = ["--ttft-ms", "20", "--itl-ms", "3", "--load-ms", "200"]


@pytest.fixture
def ollama_container(docker_client: Any) -> Any:
    port = free_port()
    container = docker_client.containers.run(
        "o2v-sim-ollama:latest", command=FAST, name=f"o2v-e2e-ollama-{uuid.uuid4().hex[:8]}", detach=True,
        ports={"11434/tcp": ("127.0.0.1", port)}, labels={"o2v.test": "e2e"},
    )
    url = f"http://127.0.0.1:{port}"
    _wait_for(lambda: httpx.get(url, timeout=1).status_code == 200, "the Ollama simulator container")
    container.url = url
    yield container
    container.remove(force=True)


def _wait_for(check: Any, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} did not come up in {timeout_s} s")


def _config(tmp_path: Path, ollama: Any, migration_id: str, vllm_port: int) -> Path:
    config = {
        "migration_id": migration_id,
        "workdir": str(tmp_path / "work"),
        "ollama": {"url": ollama.url, "container_name": ollama.name, "log_source": "docker", "timeout_s": 30},
        "vllm": {
            "image": f"o2v-sim-vllm:{o2v.__version__}",  # a pinned tag, as the settings demand
            "backend": "docker",
            "port": vllm_port,
            "container_name": f"o2v-e2e-vllm-{migration_id}",
            "hf_token": "hf_e2e_simulator_needs_no_token",
            "health_timeout_s": 60,
            "hf_cache_dir": str(tmp_path / "hf-cache"),
            # The same token timing as the Ollama simulator, and the recorded GPU's memory, so the simulated vLLM
            # sizes its KV cache for that card and refuses a max_model_len the card cannot hold.
            "extra_args": ["--ttft-ms", "20", "--itl-ms", "3",
                           "--gpu-memory-gib", str(recorded_gpu_memory_gib(RECORDED_GPU))],  # fmt: skip
        },
        "gpu": {"recorded_devices": str(RECORDED_GPU)},
        "diagnose": {"probe_concurrency": [1, 2, 4], "probe_requests_per_level": 4, "probe_max_tokens": 16},
        # 72 successful requests per level: the gate's minimum for a p95. Only a loaded level: at concurrency 1 the
        # two simulators are equally fast by construction, and a busy CI machine's noise is all that would be judged.
        "loadtest": {"concurrency": [4], "requests_per_level": 72, "max_tokens": 16, "warmup_requests": 1},
        # Nobody answers a pause in this test: an inconclusive gate must fail rather than wait.
        "thresholds": {"on_inconclusive": "fail"},
        "store": {"url": f"sqlite:///{tmp_path / 'work' / 'o2v.db'}"},
    }
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run_migrate(server: PrefectServer, parameters: dict[str, Any]) -> Any:
    from prefect.deployments import run_deployment

    with api_at(server.api_url):
        return asyncio.run(_run(run_deployment, parameters))


async def _run(run_deployment: Any, parameters: dict[str, Any]) -> Any:
    return await run_deployment("migrate/migrate", parameters={"params": parameters}, timeout=600)


def _slow_down_vllm_once_healthy(url: str, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                httpx.post(f"{url}/_sim/faults", json={"added_latency_ms": 1500}, timeout=5).raise_for_status()
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)


def test_migrate_deployment_rolls_back_on_a_failed_gate_and_resumes(
    prefect_server: PrefectServer, docker_client: Any, ollama_container: Any, tmp_path: Path
) -> None:
    prefect_server.cli("work-pool", "create", POOL, "--type", "process", "--overwrite")
    prefect_server.cli("--no-prompt", "deploy", "--all")
    for name in ("migrate/migrate", "baseline-monitor/baseline-monitor", "rollback/rollback"):
        described = prefect_server.cli("deployment", "inspect", name).stdout
        assert "'enforce_parameter_schema': True" in described
    baseline = prefect_server.cli("deployment", "inspect", "baseline-monitor/baseline-monitor").stdout
    assert "*/15 8-18 * * 1-5" in baseline
    prefect_server.start_worker()

    migration_id = f"e2e{uuid.uuid4().hex[:6]}"
    vllm_port = free_port()
    config = _config(tmp_path, ollama_container, migration_id, vllm_port)
    parameters = {"config_path": str(config), "migration_id": migration_id}
    vllm_name = f"o2v-e2e-vllm-{migration_id}"

    stop = threading.Event()
    saboteur = threading.Thread(
        target=_slow_down_vllm_once_healthy, args=(f"http://127.0.0.1:{vllm_port}", stop), daemon=True
    )
    saboteur.start()
    try:
        first = _run_migrate(prefect_server, parameters)
        assert first.state.is_failed(), first.state
        assert "validate" in first.state.message
        assert "rolled back" in first.state.message
        assert "p95 e2e ratio" in first.state.message  # the failed expectation is named, with its figures

        store = Store(f"sqlite:///{tmp_path / 'work' / 'o2v.db'}")
        ledger = [(e.phase, e.status) for e in store.ledger(migration_id)]
        assert ledger == [
            ("diagnose", "succeeded"), ("inventory", "succeeded"), ("verify_gpu", "succeeded"),
            ("plan", "succeeded"), ("deploy", "succeeded"), ("smoke", "succeeded"), ("validate", "failed"),
            ("deploy", "failed"),  # the rollback cancels the deploy's success
        ]
        assert not docker_client.containers.list(all=True, filters={"name": vllm_name})
        kept = list((tmp_path / "work" / "reports" / migration_id / "rolled-back-logs").iterdir())
        assert kept
        assert any(p.stat().st_size > 0 for p in kept)
        assert [a.action for a in store.audit_log()] == ["rollback"]

        second = _run_migrate(prefect_server, parameters)
        assert second.state.is_completed(), second.state
        rerun = [(e.phase, e.status) for e in store.ledger(migration_id)][8:]
        assert rerun == [
            ("diagnose", "skipped"), ("inventory", "skipped"), ("verify_gpu", "skipped"), ("plan", "skipped"),
            ("deploy", "succeeded"), ("smoke", "succeeded"), ("validate", "succeeded"),
        ]
        assert len(docker_client.containers.list(all=True, filters={"name": vllm_name})) == 1
        assert httpx.get(f"http://127.0.0.1:{vllm_port}/health", timeout=5).status_code == 200
    finally:
        stop.set()
        for container in docker_client.containers.list(all=True, filters={"name": vllm_name}):
            container.remove(force=True)
