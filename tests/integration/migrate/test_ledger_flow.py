"""The migrate flow's ledger against real servers: per-phase keys, the migration lock, smoke-test cleanup.

Ollama is the simulator (its /_sim/stats counts every request it served), Slack the local Web API server,
the GPU a recorded A100, vLLM a process started by the real deploy phase.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from support.slack_api import TOKEN, SlackAPIServer

import o2v
from flows.migrate import MigrateParameters, migrate
from flows.rollback import RollbackParameters, rollback
from o2v.deploy import status
from o2v.errors import PhaseError
from o2v.simulate.process import SimulatorProcess, free_port
from o2v.store import Store
from o2v.store_lock import StoreLock, holders, migration_resources

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(300)]
RECORDED_GPU = Path(o2v.__file__).parent / "data" / "rehearsal-gpu.json"
CRAFTED = Path(__file__).parents[2] / "support" / "crafted_openai.py"


PORTS: dict[str, int] = {}


def write_config(tmp_path: Path, ollama_url: str, slack_url: str, **sections: Any) -> Path:
    port = PORTS.setdefault(str(tmp_path), free_port())  # one vLLM port per test: it is an input of the plan
    config: dict[str, Any] = {
        "migration_id": "ledger",
        "workdir": str(tmp_path / "work"),
        "ollama": {"url": ollama_url, "log_source": "none"},
        "vllm": {"backend": "process", "hf_token": "hf_simulator_needs_no_token", "port": port,
                 "container_name": f"o2v-ledger-{tmp_path.name[-8:]}", "health_timeout_s": 60},
        "gpu": {"recorded_devices": str(RECORDED_GPU)},
        "diagnose": {"probe_concurrency": [1, 2], "probe_requests_per_level": 4, "probe_max_tokens": 8},
        "store": {"url": f"sqlite:///{tmp_path / 'o2v.db'}"},
        "slack": {"bot_token": TOKEN, "base_url": slack_url, "channel": "#migration"},
    }
    for name, values in sections.items():
        config[name] = config.get(name, {}) | values
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def served(ollama: SimulatorProcess) -> int:
    return int(httpx.get(f"{ollama.url}/_sim/stats").json()["requests_total"])


def statuses(summary: Any) -> list[tuple[str, str]]:
    return [(p.phase, p.status) for p in summary.phases]


def test_a_new_slack_channel_sends_nothing_to_ollama_a_plan_input_reruns_from_plan(tmp_path: Path) -> None:
    with (
        SimulatorProcess("ollama", args=["--ttft-ms", "5", "--itl-ms", "1", "--load-ms", "50"]) as ollama,
        SlackAPIServer() as slack,
    ):
        config = write_config(tmp_path, ollama.url, slack.url)
        first = migrate(MigrateParameters(config_path=str(config), dry_run=True))
        after_first = served(ollama)
        assert after_first > 0  # the probe sweep and the inventory did reach Ollama

        config = write_config(tmp_path, ollama.url, slack.url, slack={"channel": "#llm-ops"})
        second = migrate(MigrateParameters(config_path=str(config), dry_run=True))
        assert served(ollama) == after_first  # not one request: no probe sweep, no inventory
        assert [status for _, status in statuses(second)] == ["skipped"] * 4

        config = write_config(tmp_path, ollama.url, slack.url, slack={"channel": "#llm-ops"},
                              vllm={"max_model_len": 4096})
        third = migrate(MigrateParameters(config_path=str(config), dry_run=True))
        assert served(ollama) == after_first
    assert statuses(first) == [(p, "succeeded") for p in ("diagnose", "inventory", "verify_gpu", "plan")]
    assert statuses(third) == [
        ("diagnose", "skipped"), ("inventory", "skipped"), ("verify_gpu", "skipped"), ("plan", "succeeded"),
    ]
    assert holders(Store(f"sqlite:///{tmp_path / 'o2v.db'}")) == []  # every run released its lock


def test_a_failed_smoke_test_rolls_back_like_a_failed_validation(tmp_path: Path) -> None:
    leaking = "Hello platform team!<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
    with (
        SimulatorProcess("ollama", args=["--ttft-ms", "5", "--itl-ms", "1", "--load-ms", "50"]) as ollama,
        SlackAPIServer() as slack,
    ):
        config = write_config(
            tmp_path, ollama.url, slack.url,
            vllm={"command": [sys.executable, str(CRAFTED), "--text", leaking]},
            diagnose={"probe_concurrency": [1], "probe_requests_per_level": 2, "probe_max_tokens": 4},
        )
        with pytest.raises(PhaseError) as failed:
            migrate(MigrateParameters(config_path=str(config)))
        alerts = [m.text for m in slack.top_level() if "rolled back" in m.text]
    assert failed.value.phase == "smoke"
    assert "chat-template tokens in the text: <|eot_id|>" in failed.value.reason
    assert "vLLM was rolled back" in failed.value.hint
    settings_dir = tmp_path / "work"
    name = f"o2v-ledger-{tmp_path.name[-8:]}"
    assert not status(name, "process", workdir=settings_dir).exists  # vLLM is gone, as after a failed validation
    store = Store(f"sqlite:///{tmp_path / 'o2v.db'}")
    deploys = [e for e in store.ledger("ledger") if e.phase == "deploy"]
    assert deploys[-1].status == "failed"
    assert deploys[-1].error == "rolled back: smoke test failed"
    (rolled_back,) = [a for a in store.audit_log() if a.action == "rollback"]
    assert rolled_back.actor == "o2v-smoke"
    assert any(settings_dir.glob("reports/ledger/rolled-back-logs/*"))  # its logs were kept
    assert "&lt;\\|eot_id\\|&gt;" in (settings_dir / "reports" / "ledger" / "smoke" / "answers.md").read_text()
    assert len(alerts) == 1
    assert "smoke test failed; vLLM rolled back, clients stay on Ollama" in alerts[0]
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["smoke-answers"])), limit=5
        )
    assert "| prompt | mode | Ollama | vLLM |" in str(artifact.data)  # the answers beside the failure


def test_rollback_is_refused_while_a_migrate_run_holds_the_migration(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9/api/", slack={"bot_token": None})
    store = Store(f"sqlite:///{tmp_path / 'o2v.db'}")
    name = f"o2v-ledger-{tmp_path.name[-8:]}"
    with StoreLock(store, migration_resources("ledger", name), purpose="migrate", flow_run_id="run-42"):
        with pytest.raises(PhaseError) as refused:
            rollback(RollbackParameters(config_path=str(config), reason="test"))
        with pytest.raises(PhaseError) as second_migrate:
            migrate(MigrateParameters(config_path=str(config), dry_run=True))
    for error in (refused.value, second_migrate.value):
        assert error.phase == "(lock)"
        assert "another run is working on this migration" in error.reason
        assert "a migrate run (flow run run-42) since" in error.reason
        assert "wait for that run to finish or cancel it in the Prefect UI" in error.hint
    assert store.audit_log() == []  # the refused rollback touched nothing
    assert store.ledger("ledger") == []  # nor did the refused migrate
