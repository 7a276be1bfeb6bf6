"""The patched sample client really talks to vLLM: the ported call runs against the vLLM simulator."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from o2v.inventory.patch import patch_clients, write_patches
from o2v.inventory.scan import scan_tree
from o2v.inventory.types import Inventory
from o2v.simulate.process import SimulatorProcess

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_repo"


def test_the_ported_native_call_answers_from_vllm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "team-app"
    shutil.copytree(SAMPLE, repo)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    args = ["--ttft-ms", "5", "--itl-ms", "1", "--served-model-name", "llama-3.1-8b", "--api-key", "team-key"]
    with SimulatorProcess("vllm", args=args) as sim:
        base = f"http://127.0.0.1:{sim.port}"
        inventory = Inventory(ollama_url="http://gpu-box:11434", integration_points=scan_tree(repo))
        patches = patch_clients(inventory, base_url=base, served_names={"llama3.1:8b": "llama-3.1-8b"})
        write_patches(patches, tmp_path / "out")
        subprocess.run(["git", "apply", str(tmp_path / "out" / "team-app.patch")], cwd=repo, check=True)

        monkeypatch.setenv("VLLM_API_KEY", "team-key")  # the key reaches the client from its environment
        spec = importlib.util.spec_from_file_location("chat_native_ported", repo / "app" / "chat_native.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        answer = module.ask("Say hello to the team.")
    assert isinstance(answer, str)
    assert answer.strip()
