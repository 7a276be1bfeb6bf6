"""The migrate flow in-process: a bad configuration touches nothing; a dry run stops after the plan."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support.slack_api import TOKEN, SlackAPIServer

import o2v
from flows.migrate import MigrateParameters, migrate
from o2v.errors import PhaseError
from o2v.simulate.process import SimulatorProcess
from o2v.store import Store

pytestmark = pytest.mark.usefixtures("prefect_harness")
RECORDED_GPU = Path(o2v.__file__).parent / "data" / "rehearsal-gpu.json"


def test_a_bad_configuration_stops_before_anything_is_touched(tmp_path: Path) -> None:
    config = tmp_path / "migration.yaml"
    config.write_text(f"workdir: {tmp_path / 'work'}\nvllm:\n  gpu_memory_utilization: 1.3\n  imagee: x\n")
    with pytest.raises(PhaseError) as failed:
        migrate(MigrateParameters(config_path=str(config)))
    message = str(failed.value)
    assert "vllm.gpu_memory_utilization: must be > 0 and <= 0.95, got 1.3" in message
    assert "vllm.imagee: unknown key" in message
    assert "o2v config check" in message
    assert not (tmp_path / "work").exists()  # no store, no reports, no container, no probe


def test_dry_run_stops_after_the_plan_and_a_rerun_skips_every_phase(tmp_path: Path) -> None:
    with (
        SimulatorProcess("ollama", args=["--ttft-ms", "5", "--itl-ms", "1", "--load-ms", "50"]) as ollama,
        SlackAPIServer() as slack,
    ):
        config = tmp_path / "migration.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "migration_id": "dry",
                    "workdir": str(tmp_path / "work"),
                    "ollama": {"url": ollama.url, "log_source": "none"},
                    "vllm": {"backend": "process", "hf_token": "hf_simulator_needs_no_token"},
                    "gpu": {"recorded_devices": str(RECORDED_GPU)},
                    "diagnose": {"probe_concurrency": [1, 2], "probe_requests_per_level": 4, "probe_max_tokens": 8},
                    "store": {"url": f"sqlite:///{tmp_path / 'o2v.db'}"},
                    "slack": {"bot_token": TOKEN, "base_url": slack.url, "channel": "#migration"},
                }
            )
        )
        first = migrate(MigrateParameters(config_path=str(config), dry_run=True))
        second = migrate(MigrateParameters(config_path=str(config), dry_run=True))
    assert first.status == "planned"
    assert [(p.phase, p.status) for p in first.phases] == [
        ("diagnose", "succeeded"), ("inventory", "succeeded"), ("verify_gpu", "succeeded"), ("plan", "succeeded"),
    ]
    assert [p.status for p in second.phases] == ["skipped"] * 4
    compose = Path(first.reports_dir) / "compose"
    assert (compose / "docker-compose.side-by-side.yml").exists()
    assert [e.phase for e in Store(f"sqlite:///{tmp_path / 'o2v.db'}").ledger("dry")].count("plan") == 2

    # Slack: one parent message for the migration, every phase of both runs threaded under it.
    (parent,) = slack.top_level()
    replies = [m.text for m in slack.replies(parent.ts)]
    assert len(replies) == 8
    for phase in ("diagnose", "inventory", "verify_gpu", "plan"):
        assert sum(phase in text and "succeeded" in text for text in replies) == 1
        assert sum(phase in text and "skipped" in text for text in replies) == 1
