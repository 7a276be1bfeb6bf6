"""Every rendered compose file passes `docker-compose config` (Debian's docker-compose package)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.engines import need

from o2v.config import Settings
from o2v.gpu import DockerRuntimes, RecordedNVML, verify_gpu
from o2v.inventory import Inventory, OllamaModel
from o2v.plan import make_plan, render_compose

GPUS = Path(__file__).parents[2] / "data" / "gpus"


@pytest.fixture
def rendered(tmp_path: Path) -> list[Path]:
    s = Settings(vllm={"api_key": "x"})  # type: ignore[arg-type]
    report = verify_gpu(
        s, nvml=RecordedNVML(GPUS / "a100-80gb.json"), docker=DockerRuntimes(engine_reachable=True, runtimes=["nvidia"])
    )
    inv = Inventory(
        ollama_url="http://127.0.0.1:11434",
        ollama_version="0.12.3",
        models=[OllamaModel(name="llama3.1:8b", architecture="llama")],
    )
    return render_compose(make_plan(s, inv, report), tmp_path)


def compose(files: list[Path], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        need("docker-compose", "apt-get install docker-compose")
    args = [str(exe)]
    for f in files:
        args += ["-f", str(f)]
    return subprocess.run(
        [*args, "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), **env},
        cwd=files[0].parent,
    )


def test_each_file_passes_compose_config(rendered: list[Path]) -> None:
    side, alone, eager, gateway = rendered
    secrets = {"HF_TOKEN": "hf_test", "VLLM_API_KEY": "k", "O2V_GATEWAY_ADMIN_TOKEN": "t"}
    for files in ([side], [alone], [side, eager], [gateway]):
        result = compose(files, secrets)
        assert result.returncode == 0, result.stderr
    merged = compose([side, eager], secrets).stdout
    assert "--enforce-eager" in merged
    assert "hf_test" in merged


def test_missing_token_fails_early_with_the_message(rendered: list[Path]) -> None:
    result = compose([rendered[1]], {"VLLM_API_KEY": "k"})
    assert result.returncode != 0
    assert "set HF_TOKEN in .env" in result.stderr


def test_the_gateway_file_gives_11434_to_the_gateway_and_keeps_both_servers_internal(rendered: list[Path]) -> None:
    import yaml

    gateway = rendered[3]
    result = compose([gateway], {"HF_TOKEN": "hf_test", "VLLM_API_KEY": "k", "O2V_GATEWAY_ADMIN_TOKEN": "t"})
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(gateway.read_text())["services"]
    assert services["gateway"]["ports"] == ["11434:11434", "127.0.0.1:11436:11436"]
    assert "ports" not in services["ollama"]
    assert "ports" not in services["vllm"]
    assert services["vllm"]["expose"] == ["8000"]
    assert "--ollama" in services["gateway"]["command"]
    missing = compose([gateway], {"HF_TOKEN": "hf_test", "VLLM_API_KEY": "k"})
    assert missing.returncode != 0
    assert "set O2V_GATEWAY_ADMIN_TOKEN in .env" in missing.stderr
