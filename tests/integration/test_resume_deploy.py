"""A migrate run killed during the deploy phase, then re-run: the container it left is reused, not duplicated.

The killed run is reproduced as it leaves things behind: a ledger row for 'deploy' stuck at 'running' and a
vLLM (simulator) container that was started but never recorded as deployed.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml

import o2v
from o2v.config import load_settings
from o2v.deploy import deploy, teardown
from o2v.gpu import verify_gpu
from o2v.inventory import take_inventory
from o2v.notify import ConsoleNotifier
from o2v.phases import PhaseRunner
from o2v.plan import make_plan
from o2v.simulate.process import SimulatorProcess, free_port
from o2v.store import Store
from tasks.common import MigrationContext
from tasks.deploy import deploy_phase, deploy_secrets

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]
RECORDED_GPU = Path(o2v.__file__).parent / "data" / "rehearsal-gpu.json"


@pytest.fixture
def settings_and_inventory(tmp_path: Path, docker_client: Any) -> Any:
    with SimulatorProcess("ollama", args=["--ttft-ms", "5", "--itl-ms", "1"]) as ollama:
        config = {
            "migration_id": "resume-test",
            "workdir": str(tmp_path / "work"),
            "ollama": {"url": ollama.url, "log_source": "none"},
            "vllm": {
                "image": f"o2v-sim-vllm:{o2v.__version__}",
                "backend": "docker",
                "port": free_port(),
                "container_name": f"o2v-resume-test-{tmp_path.name[-8:]}",
                "hf_token": "hf_simulator_needs_no_token",
                "health_timeout_s": 60,
                "hf_cache_dir": str(tmp_path / "hf"),
            },
            "gpu": {"recorded_devices": str(RECORDED_GPU)},
            "store": {"url": f"sqlite:///{tmp_path / 'o2v.db'}"},
        }
        path = tmp_path / "migration.yaml"
        path.write_text(yaml.safe_dump(config))
        loaded = load_settings(path)
        inventory = take_inventory(loaded)
    yield loaded, inventory
    for container in docker_client.containers.list(all=True, filters={"name": loaded.vllm.container_name}):  # noqa: E501
        container.remove(force=True)


def test_rerun_after_a_kill_during_deploy_reuses_the_container(settings_and_inventory: Any, docker_client: Any) -> None:
    settings, inventory = settings_and_inventory
    store = Store(settings.store.url)
    plan = make_plan(settings, inventory, gpu_report=verify_gpu(settings))
    spec = plan.launch_spec()

    # The killed run: its ledger row never finished, its container is up.
    store.phase_started(settings.migration_id, "deploy", settings.config_hash())
    killed = deploy(spec, "docker", secrets=deploy_secrets(settings), workdir=settings.workdir)
    assert not killed.reused

    ctx = MigrationContext(
        settings=settings, store=store,
        runner=PhaseRunner(store, settings.migration_id, settings.config_hash()),
        notifier=ConsoleNotifier(StringIO(), artifacts=False), reports_dir=settings.workdir / "reports",
    )
    resumed = deploy_phase.fn(ctx, plan)

    assert resumed.reused
    assert resumed.container_id == killed.container_id
    assert len(docker_client.containers.list(all=True, filters={"name": spec.name})) == 1
    assert [(e.phase, e.status) for e in store.ledger(settings.migration_id)] == [
        ("deploy", "running"), ("deploy", "succeeded"),
    ]
    teardown(spec.name, "docker", workdir=settings.workdir)
    assert not docker_client.containers.list(all=True, filters={"name": spec.name})
