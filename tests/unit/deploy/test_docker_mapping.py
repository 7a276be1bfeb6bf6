"""The LaunchSpec -> docker SDK mapping and Docker's error texts, checked without an engine."""

from __future__ import annotations

import pytest
from docker.errors import APIError

from o2v.deploy.base import bind_address, resolve_env
from o2v.deploy.docker_backend import FINGERPRINT_LABEL, MANAGED_LABEL, create_kwargs
from o2v.deploy.errors_docker import explain_api_error
from o2v.deploy.spec import LaunchSpec
from o2v.errors import DeployError


def make_spec(**overrides: object) -> LaunchSpec:
    fields: dict[str, object] = {
        "name": "o2v-vllm",
        "image": "vllm/vllm-openai:v0.11.0",
        "command": ["--model", "Qwen/Qwen2.5-7B-Instruct", "--port", "8000"],
        "port": 8001,
        "secret_env": ["HF_TOKEN"],
        "env": {"VLLM_LOGGING_LEVEL": "INFO"},
        "volumes": {"/srv/hf": "/root/.cache/huggingface"},
    }
    fields.update(overrides)
    return LaunchSpec.model_validate(fields)


def test_gpu_request_names_the_devices_and_the_nvidia_driver() -> None:
    kwargs = create_kwargs(make_spec(gpu_device_ids=["0", "1"]), {})
    (request,) = kwargs["device_requests"]
    assert request["Driver"] == "nvidia"
    assert request["DeviceIDs"] == ["0", "1"]
    assert request["Capabilities"] == [["gpu"]]


def test_simulator_spec_requests_no_gpu() -> None:
    assert "device_requests" not in create_kwargs(make_spec(gpu_device_ids=None), {})


def test_ports_volumes_restart_and_ipc() -> None:
    kwargs = create_kwargs(make_spec(), {"A": "1"})
    assert kwargs["ports"] == {"8000/tcp": ("127.0.0.1", 8001)}
    assert kwargs["volumes"] == {"/srv/hf": {"bind": "/root/.cache/huggingface", "mode": "rw"}}
    assert kwargs["restart_policy"] == {"Name": "unless-stopped"}
    assert kwargs["ipc_mode"] == "host"
    assert "shm_size" not in kwargs
    assert kwargs["environment"] == {"A": "1"}
    assert kwargs["command"] == ["--model", "Qwen/Qwen2.5-7B-Instruct", "--port", "8000"]


def test_shm_size_applies_without_host_ipc() -> None:
    kwargs = create_kwargs(make_spec(ipc_host=False, shm_size="8g"), {})
    assert kwargs["shm_size"] == "8g"
    assert "ipc_mode" not in kwargs


def test_hostname_publishes_on_all_interfaces_ip_stays_private() -> None:
    assert bind_address("gpu-box.internal") == "0.0.0.0"
    assert bind_address("127.0.0.1") == "127.0.0.1"
    assert bind_address("10.0.0.5") == "10.0.0.5"


def test_compose_labels_carry_the_fingerprint() -> None:
    spec = make_spec(labels={"team": "ml"})
    labels = create_kwargs(spec, {})["labels"]
    assert labels["com.docker.compose.project"] == "o2v"
    assert labels["com.docker.compose.service"] == "vllm"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.config-hash"] == spec.fingerprint()
    assert labels[FINGERPRINT_LABEL] == spec.fingerprint()
    assert labels[MANAGED_LABEL] == "true"
    assert labels["team"] == "ml"


def test_healthcheck_uses_python_and_the_start_period_in_nanoseconds() -> None:
    check = create_kwargs(make_spec(health_start_period_s=600), {})["healthcheck"]
    assert check["test"][:2] == ["CMD", "python3"]
    assert "http://127.0.0.1:8000/health" in check["test"][-1]
    assert check["start_period"] == 600 * 1_000_000_000


def test_fingerprint_ignores_wait_settings_but_not_the_command() -> None:
    spec = make_spec()
    assert make_spec(health_timeout_s=5).fingerprint() == spec.fingerprint()
    assert make_spec(command=["--model", "other/model"]).fingerprint() != spec.fingerprint()


def test_secrets_join_env_and_missing_ones_are_all_named_without_values() -> None:
    spec = make_spec(secret_env=["HF_TOKEN", "VLLM_API_KEY"])
    env = resolve_env(spec, {"HF_TOKEN": "hf_secret", "VLLM_API_KEY": "sk-1"})
    assert env == {"VLLM_LOGGING_LEVEL": "INFO", "HF_TOKEN": "hf_secret", "VLLM_API_KEY": "sk-1"}
    with pytest.raises(DeployError, match="HF_TOKEN, VLLM_API_KEY") as caught:
        resolve_env(spec, {"HF_TOKEN": "", "OTHER": "hf_secret"})
    assert "hf_secret" not in str(caught.value)


def test_port_conflict_becomes_a_clear_error() -> None:
    said = (
        "driver failed programming external connectivity on endpoint o2v-vllm: "
        "Bind for 127.0.0.1:8001 failed: port is already allocated"
    )
    error = explain_api_error(APIError("500", explanation=said), make_spec())
    assert "port 8001 on 127.0.0.1 is already in use" in str(error)
    assert "vllm.port" in str(error)


def test_missing_nvidia_runtime_becomes_a_clear_error() -> None:
    said = 'could not select device driver "nvidia" with capabilities: [[gpu]]'
    error = explain_api_error(APIError("500", explanation=said), make_spec())
    assert "no NVIDIA runtime" in str(error)
    assert "nvidia-container-toolkit" in str(error)


def test_other_docker_errors_keep_dockers_words() -> None:
    error = explain_api_error(APIError("500", explanation="no space left on device"), make_spec())
    assert "no space left on device" in str(error)


def test_process_backend_picks_gpus_with_cuda_visible_devices() -> None:
    from o2v.deploy.process_backend import process_env

    assert process_env(make_spec(gpu_device_ids=["1", "2"]), {})["CUDA_VISIBLE_DEVICES"] == "1,2"
    assert (
        process_env(make_spec(gpu_device_ids=["1"]), {"CUDA_VISIBLE_DEVICES": "3"})["CUDA_VISIBLE_DEVICES"]
        == "3"
    )
    assert process_env(make_spec(gpu_device_ids=None), {"A": "b"})["A"] == "b"
