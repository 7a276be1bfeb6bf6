"""The process backend with real child processes: a tiny HTTP server script, and the vLLM simulator."""

from __future__ import annotations

import os
import socket
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from o2v.deploy import ProcessBackend, deploy, status, teardown, with_secret_digests
from o2v.deploy.spec import LaunchSpec
from o2v.errors import DeployError

SERVER = textwrap.dedent(
    """
    import os, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer
    port, delay_s, crash = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "crash"
    print(f"booting pid={os.getpid()} token_set={bool(os.environ.get('HF_TOKEN'))}", flush=True)
    time.sleep(delay_s)
    if crash:
        print("RuntimeError: CUDA out of memory (pretend)", flush=True)
        sys.exit(3)
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
    HTTPServer(("127.0.0.1", port), H).serve_forever()
    """
)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[ProcessBackend]:
    backend = ProcessBackend(tmp_path / "work", stop_timeout_s=5)
    yield backend
    for state_file in backend.state_dir.glob("*.json"):
        teardown(state_file.stem, backend)


def script_spec(tmp_path: Path, port: int, *, delay_s: float = 0.2, mode: str = "ok", **fields: object) -> LaunchSpec:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    values: dict[str, object] = {
        "name": "vllm-test",
        "image": "unused:1",
        "command": [sys.executable, str(script), str(port), str(delay_s), mode],
        "port": port,
        "gpu_device_ids": None,
        "health_timeout_s": 20,
    }
    values.update(fields)
    return LaunchSpec.model_validate(values)


def test_deploy_rerun_reuses_then_changed_plan_replaces(tmp_path: Path, port: int, backend: ProcessBackend) -> None:
    spec = script_spec(tmp_path, port, secret_env=["HF_TOKEN"])
    first = deploy(spec, backend, secrets={"HF_TOKEN": "hf_secret_value"})
    assert (first.reused, first.recreated, first.backend) == (False, False, "process")
    assert httpx.get(first.url + "/health").status_code == 200
    assert "token_set=True" in Path(first.log_path or "").read_text()

    again = deploy(spec, backend, secrets={"HF_TOKEN": "hf_secret_value"})
    assert again.reused
    assert again.pid == first.pid

    changed = script_spec(tmp_path, port, delay_s=0.3, secret_env=["HF_TOKEN"])
    replaced = deploy(changed, backend, secrets={"HF_TOKEN": "hf_secret_value"})
    assert replaced.recreated
    assert replaced.pid != first.pid
    with pytest.raises(ProcessLookupError):
        os.kill(first.pid or 0, 0)
    deployed = with_secret_digests(changed, {"HF_TOKEN": "hf_secret_value"})
    assert status("vllm-test", backend).fingerprint == deployed.fingerprint()


def test_a_fresh_backend_object_finds_the_running_process(tmp_path: Path, port: int, backend: ProcessBackend) -> None:
    spec = script_spec(tmp_path, port)
    first = deploy(spec, backend)
    second = deploy(spec, ProcessBackend(backend.state_dir.parent))
    assert second.reused
    assert second.pid == first.pid


def test_dead_process_with_same_plan_is_started_again(tmp_path: Path, port: int, backend: ProcessBackend) -> None:
    spec = script_spec(tmp_path, port)
    first = deploy(spec, backend)
    os.killpg(first.pid or 0, 9)
    deadline = time.monotonic() + 5
    while status(spec.name, backend).state != "dead" and time.monotonic() < deadline:
        time.sleep(0.05)
    again = deploy(spec, backend)
    assert again.restarted
    assert again.pid != first.pid


def test_crash_shows_last_log_lines_fast(tmp_path: Path, port: int, backend: ProcessBackend) -> None:
    spec = script_spec(tmp_path, port, mode="crash")
    started = time.monotonic()
    with pytest.raises(DeployError) as caught:
        deploy(spec, backend)
    text = str(caught.value)
    assert "exited with code 3" in text
    assert "CUDA out of memory (pretend)" in text
    assert time.monotonic() - started < 10
    assert not status(spec.name, backend).exists


def test_health_timeout_stops_the_process_and_shows_logs(tmp_path: Path, port: int, backend: ProcessBackend) -> None:
    spec = script_spec(tmp_path, port, delay_s=30, health_timeout_s=1.0)
    with pytest.raises(DeployError) as caught:
        deploy(spec, backend)
    text = str(caught.value)
    assert "did not become healthy" in text
    assert "booting pid=" in text
    assert "health_timeout_s" in text


def test_port_in_use_is_refused_before_starting(tmp_path: Path, port: int, backend: ProcessBackend) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(DeployError, match=f"port {port} on 127.0.0.1 is already in use"):
            deploy(script_spec(tmp_path, port), backend)


def test_missing_executable_says_what_to_install(tmp_path: Path, port: int, backend: ProcessBackend) -> None:
    spec = script_spec(tmp_path, port, command=["/nonexistent/vllm", "serve"])
    with pytest.raises(DeployError, match="pip install vllm"):
        deploy(spec, backend)


def test_teardown_kills_the_group_and_keeps_the_log(tmp_path: Path, port: int, backend: ProcessBackend) -> None:
    deployment = deploy(script_spec(tmp_path, port), backend)
    result = teardown("vllm-test", backend, keep_logs_dir=tmp_path / "kept")
    assert (result.found, result.stopped, result.removed) == (True, True, True)
    assert "booting" in Path(result.saved_log_path or "").read_text()
    with pytest.raises(ProcessLookupError):
        os.kill(deployment.pid or 0, 0)
    assert not teardown("vllm-test", backend).found


def test_vllm_simulator_as_a_process(tmp_path: Path, port: int, backend: ProcessBackend) -> None:
    spec = LaunchSpec(
        name="vllm-sim",
        image="unused:1",
        command=[sys.executable, "-m", "o2v.simulate", "vllm", "--host", "127.0.0.1", "--port", str(port)],
        port=port,
        gpu_device_ids=None,
        health_timeout_s=30,
    )
    deployment = deploy(spec, backend)
    assert httpx.get(deployment.url + "/v1/models").status_code == 200
    assert deploy(spec, backend).reused
    assert teardown("vllm-sim", backend).stopped


def test_a_vllm_that_cannot_hold_max_model_len_fails_the_deploy_with_its_own_words(
    tmp_path: Path, port: int, backend: ProcessBackend
) -> None:
    spec = LaunchSpec(
        name="vllm-sim-too-long",
        image="unused:1",
        command=[sys.executable, "-m", "o2v.simulate", "vllm", "--host", "127.0.0.1", "--port", str(port),
                 "--gpu-memory-gib", "24", "--max-model-len", "131072"],  # fmt: skip
        port=port,
        gpu_device_ids=None,
        health_timeout_s=30,
    )
    with pytest.raises(DeployError) as info:
        deploy(spec, backend)
    message = str(info.value)
    assert "exited with code 1" in message
    assert "ValueError: To serve at least one request with the models's max seq len (131072)" in message
