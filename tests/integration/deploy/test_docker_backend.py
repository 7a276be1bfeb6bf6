"""The Docker backend against a real engine.

The stand-in server is a few lines of Python in the locally built ``o2v-base:bookworm`` image (it answers
/health, can boot slowly or crash on purpose); one test runs the real vLLM simulator image ``o2v-sim``.
Every container carries a per-session label and is removed by that label when the tests end.
"""

from __future__ import annotations

import socket
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.engines import need

from o2v.deploy import DockerBackend, deploy, status, teardown, with_secret_digests
from o2v.deploy.spec import LaunchSpec
from o2v.errors import DeployError

pytestmark = pytest.mark.docker

BASE_IMAGE = "o2v-base:bookworm"
SIM_IMAGE = "o2v-sim:latest"
RUN_LABEL = f"o2v-test-deploy-{uuid.uuid4().hex[:8]}"

SERVER = textwrap.dedent(
    """
    import os, signal, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    delay_s, crash = float(sys.argv[1]), sys.argv[2] == "crash"
    print(f"booting, token set: {bool(os.environ.get('HF_TOKEN'))}", flush=True)
    time.sleep(delay_s)
    if crash:
        print("ValueError: model architecture not supported (pretend)", flush=True)
        sys.exit(2)
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
    HTTPServer(("0.0.0.0", 8000), H).serve_forever()
    """
)


def image_or_skip(client: Any, image: str) -> None:
    from docker.errors import ImageNotFound

    try:
        client.images.get(image)
    except ImageNotFound:
        need(f"the image {image}", "build it with bash deployments/build-images.sh")


@pytest.fixture(scope="module")
def engine(docker_client: Any) -> Iterator[Any]:
    image_or_skip(docker_client, BASE_IMAGE)
    yield docker_client
    for container in docker_client.containers.list(all=True, filters={"label": f"o2v.test={RUN_LABEL}"}):
        container.remove(force=True)


@pytest.fixture
def backend(engine: Any) -> DockerBackend:
    return DockerBackend(engine, stop_timeout_s=3)


def spec_for(port: int, *, delay_s: float = 0.0, mode: str = "ok", **fields: object) -> LaunchSpec:
    values: dict[str, object] = {
        "name": f"o2v-vllm-{RUN_LABEL}",
        "image": BASE_IMAGE,
        "command": ["python3", "-c", SERVER, str(delay_s), mode],
        "port": port,
        "gpu_device_ids": None,
        "shm_size": None,
        "ipc_host": False,
        "health_start_period_s": 5,
        "health_timeout_s": 30,
        "compose_project": RUN_LABEL,
        "labels": {"o2v.test": RUN_LABEL},
    }
    values.update(fields)
    return LaunchSpec.model_validate(values)


def containers_of(engine: Any, spec: LaunchSpec) -> list[Any]:
    """What `docker compose -p <project> ps` lists: the project label, not one-off containers."""
    return engine.containers.list(
        all=True,
        filters={"label": [f"com.docker.compose.project={spec.compose_project}", "com.docker.compose.oneoff=False"]},
    )


def test_create_reuse_recreate_and_teardown(engine: Any, backend: DockerBackend, port: int, tmp_path: Path) -> None:
    spec = spec_for(port, secret_env=["HF_TOKEN"], env={"VLLM_LOGGING_LEVEL": "DEBUG"})
    first = deploy(spec, backend, secrets={"HF_TOKEN": "hf_not_a_real_token"})
    assert (first.reused, first.recreated, first.vram_gib) == (False, False, None)
    assert httpx.get(first.url + "/health").status_code == 200
    container = engine.containers.get(spec.name)
    deployed = with_secret_digests(spec, {"HF_TOKEN": "hf_not_a_real_token"})
    assert container.labels["com.docker.compose.config-hash"] == deployed.fingerprint()
    assert container.labels["com.docker.compose.service"] == "vllm"
    assert "HF_TOKEN=hf_not_a_real_token" in container.attrs["Config"]["Env"]
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert container.attrs["Config"]["Healthcheck"]["StartPeriod"] == 5 * 1_000_000_000

    again = deploy(spec, backend, secrets={"HF_TOKEN": "hf_not_a_real_token"})
    assert again.reused
    assert again.container_id == first.container_id
    assert len(containers_of(engine, spec)) == 1

    changed = spec_for(port, secret_env=["HF_TOKEN"], env={"VLLM_LOGGING_LEVEL": "INFO"})
    replaced = deploy(changed, backend, secrets={"HF_TOKEN": "hf_not_a_real_token"})
    assert replaced.recreated
    assert replaced.container_id != first.container_id
    assert [c.id for c in containers_of(engine, spec)] == [replaced.container_id]

    result = teardown(spec.name, backend, keep_logs_dir=tmp_path / "logs")
    assert (result.found, result.stopped, result.removed) == (True, True, True)
    assert "booting, token set: True" in Path(result.saved_log_path or "").read_text()
    assert containers_of(engine, spec) == []
    assert not teardown(spec.name, backend).found


def test_stopped_container_with_the_same_plan_is_started_again(engine: Any, backend: DockerBackend, port: int) -> None:
    spec = spec_for(port, name=f"o2v-restart-{RUN_LABEL}")
    first = deploy(spec, backend)
    engine.containers.get(spec.name).stop(timeout=3)
    assert status(spec.name, backend).state == "exited"
    again = deploy(spec, backend)
    assert again.restarted
    assert again.container_id == first.container_id
    assert status(spec.name, backend).state == "running"
    teardown(spec.name, backend)


def test_crash_fails_fast_with_the_last_log_lines(backend: DockerBackend, port: int) -> None:
    spec = spec_for(port, mode="crash", restart_policy="no", name=f"o2v-crash-{RUN_LABEL}")
    with pytest.raises(DeployError) as caught:
        deploy(spec, backend)
    text = str(caught.value)
    assert "exited with exit code 2" in text
    assert "model architecture not supported (pretend)" in text
    assert f"docker logs {spec.name}" in text


def test_crash_loop_under_a_restart_policy_is_noticed(backend: DockerBackend, port: int) -> None:
    spec = spec_for(port, mode="crash", name=f"o2v-loop-{RUN_LABEL}")
    with pytest.raises(DeployError, match="model architecture not supported"):
        deploy(spec, backend)
    assert status(spec.name, backend).state == "exited"


def test_health_timeout_shows_logs_and_stops_the_container(backend: DockerBackend, port: int) -> None:
    spec = spec_for(port, delay_s=60, health_timeout_s=2, name=f"o2v-slow-{RUN_LABEL}")
    with pytest.raises(DeployError) as caught:
        deploy(spec, backend)
    text = str(caught.value)
    assert "did not become healthy" in text
    assert "within 2 s" in text
    assert "booting, token set: False" in text
    assert status(spec.name, backend).state == "exited"


def test_port_taken_by_another_container_is_a_clear_error(backend: DockerBackend, port: int) -> None:
    deploy(spec_for(port, name=f"o2v-holder-{RUN_LABEL}"), backend)
    spec = spec_for(port, name=f"o2v-second-{RUN_LABEL}")
    with pytest.raises(DeployError, match=f"port {port} on 127.0.0.1 is already in use") as caught:
        deploy(spec, backend)
    assert "vllm.port" in str(caught.value)
    assert not status(spec.name, backend).exists


def test_port_taken_by_a_host_process_is_a_clear_error(backend: DockerBackend, port: int) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(DeployError, match=f"port {port} on 127.0.0.1 is already in use"):
            deploy(spec_for(port, name=f"o2v-hostport-{RUN_LABEL}"), backend)


def test_gpu_request_without_nvidia_runtime_is_a_clear_error(engine: Any, backend: DockerBackend, port: int) -> None:
    if "nvidia" in (engine.info().get("Runtimes") or {}):
        need("a Docker engine without the NVIDIA runtime", "this one has it: the missing-runtime error cannot happen")
    spec = spec_for(port, gpu_device_ids=["0"], name=f"o2v-gpu-{RUN_LABEL}")
    with pytest.raises(DeployError) as caught:
        deploy(spec, backend)
    text = str(caught.value)
    assert "no NVIDIA runtime" in text
    assert "nvidia-container-toolkit" in text
    assert 'could not select device driver "nvidia"' in text
    assert not status(spec.name, backend).exists


def test_a_container_o2v_did_not_create_is_left_alone(engine: Any, backend: DockerBackend, port: int) -> None:
    name = f"o2v-foreign-{RUN_LABEL}"
    engine.containers.create(BASE_IMAGE, ["true"], name=name, labels={"o2v.test": RUN_LABEL})
    with pytest.raises(DeployError, match="was not created by o2v"):
        deploy(spec_for(port, name=name), backend)
    with pytest.raises(DeployError, match="was not created by o2v"):
        teardown(name, backend)


def test_vllm_simulator_image(engine: Any, backend: DockerBackend, port: int) -> None:
    image_or_skip(engine, SIM_IMAGE)
    spec = spec_for(
        port,
        name=f"o2v-sim-{RUN_LABEL}",
        image=SIM_IMAGE,
        command=["vllm", "--host", "0.0.0.0", "--port", "8000"],
    )
    deployment = deploy(spec, backend)
    models = httpx.get(deployment.url + "/v1/models").json()
    assert models["object"] == "list"
    assert deploy(spec, backend).reused
    assert teardown(spec.name, backend).removed
