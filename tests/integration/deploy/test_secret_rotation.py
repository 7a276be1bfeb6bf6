"""A rotated secret reaches the running vLLM: the ledger re-runs deploy and the server is recreated.

The config hash and the launch fingerprint see each secret through a keyed hash (o2v.secret_hash), so a new
vLLM API key or Hugging Face token is a changed plan, while the same secrets again change nothing. Runs the
real deploy phase through the ledger with the process backend and the vLLM simulator, which enforces the key.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import o2v
from o2v.config import Settings, load_settings
from o2v.deploy import Deployment, teardown
from o2v.gpu import verify_gpu
from o2v.inventory import Inventory, take_inventory
from o2v.notify import ConsoleNotifier
from o2v.phases import PhaseRunner
from o2v.plan import make_plan
from o2v.simulate.process import SimulatorProcess, free_port
from o2v.store import Store
from tasks.common import MigrationContext
from tasks.deploy import deploy_phase

pytestmark = pytest.mark.timeout(300)
RECORDED_GPU = Path(o2v.__file__).parent / "data" / "rehearsal-gpu.json"


@pytest.fixture
def base(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with SimulatorProcess("ollama", args=["--ttft-ms", "5", "--itl-ms", "1"]) as ollama:
        config = {
            "migration_id": "rotation",
            "workdir": str(tmp_path / "work"),
            "ollama": {"url": ollama.url, "log_source": "none"},
            "vllm": {
                "backend": "process",
                "port": free_port(),
                "container_name": f"o2v-rotation-{tmp_path.name[-8:]}",
                "command": [sys.executable, "-m", "o2v.simulate", "vllm", "--ttft-ms", "5", "--itl-ms", "1"],
                "health_timeout_s": 60,
            },
            "gpu": {"recorded_devices": str(RECORDED_GPU)},
            "store": {"url": f"sqlite:///{tmp_path / 'o2v.db'}"},
        }
        yield config
    teardown(config["vllm"]["container_name"], "process", workdir=config["workdir"])


def settings_with(base: dict[str, Any], tmp_path: Path, *, api_key: str, hf_token: str) -> Settings:
    config = {**base, "vllm": {**base["vllm"], "api_key": api_key, "hf_token": hf_token}}
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_settings(path)


def deploy_through_the_ledger(settings: Settings, inventory: Inventory) -> tuple[Deployment, str]:
    store = Store(settings.store.url)
    runner = PhaseRunner(store, settings.migration_id, settings.config_hash())
    ctx = MigrationContext(
        settings=settings, store=store, runner=runner,
        notifier=ConsoleNotifier(StringIO(), artifacts=False), reports_dir=Path(settings.workdir) / "reports",
    )  # fmt: skip
    plan = make_plan(settings, inventory, gpu_report=verify_gpu(settings))
    deployment = deploy_phase.fn(ctx, plan)
    return deployment, runner.outcomes[-1].status


def models_status(url: str, key: str) -> int:
    return httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=10).status_code


def test_rotated_api_key_and_hf_token_recreate_the_server(base: dict[str, Any], tmp_path: Path) -> None:
    first = settings_with(base, tmp_path, api_key="team-key-one-111", hf_token="hf_first_token_for_rotation")
    inventory = take_inventory(first)
    created, status = deploy_through_the_ledger(first, inventory)
    assert status == "succeeded"
    assert not created.reused
    assert models_status(created.url, "team-key-one-111") == 200

    # The same secrets again: nothing changed, the ledger skips deploy and the server keeps running.
    again = settings_with(base, tmp_path, api_key="team-key-one-111", hf_token="hf_first_token_for_rotation")
    kept, status = deploy_through_the_ledger(again, inventory)
    assert status == "skipped"
    assert kept.pid == created.pid

    # A rotated vLLM API key: deploy runs, the server is replaced and only the new key opens it.
    rotated_key = settings_with(base, tmp_path, api_key="team-key-two-222", hf_token="hf_first_token_for_rotation")
    assert rotated_key.config_hash() != first.config_hash()
    replaced, status = deploy_through_the_ledger(rotated_key, inventory)
    assert status == "succeeded"
    assert replaced.recreated
    assert replaced.pid != created.pid
    assert replaced.fingerprint != created.fingerprint
    assert models_status(replaced.url, "team-key-one-111") == 401
    assert models_status(replaced.url, "team-key-two-222") == 200

    # A rotated Hugging Face token: the same again.
    rotated_hf = settings_with(base, tmp_path, api_key="team-key-two-222", hf_token="hf_second_token_for_rotation")
    renewed, status = deploy_through_the_ledger(rotated_hf, inventory)
    assert status == "succeeded"
    assert renewed.recreated
    assert renewed.pid != replaced.pid

    # Neither the values nor anything but keyed hashes of them reached the ledger or the process state.
    ledger = Store(first.store.url).ledger("rotation")
    state = (Path(first.workdir) / "deploy" / f"{first.vllm.container_name}.json").read_text()
    for secret in ("team-key-one-111", "team-key-two-222", "hf_first_token_for_rotation", "hf_second_token"):
        assert secret not in state
        assert all(secret not in str(entry.model_dump()) for entry in ledger)
