"""Each phase is keyed by what it reads: unrelated settings never re-run it, its own inputs always do."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from o2v.config import Settings
from o2v.phase_keys import PHASE_SETTINGS, phase_key
from o2v.phases import PHASES


class Upstream(BaseModel):
    value: int


def keys(settings: Settings) -> dict[str, str]:
    return {phase: phase_key(settings, phase) for phase in PHASES}


def changed(before: Settings, after: Settings) -> list[str]:
    old, new = keys(before), keys(after)
    return [phase for phase in PHASES if old[phase] != new[phase]]


def test_every_phase_declares_existing_settings() -> None:
    assert set(PHASE_SETTINGS) == set(PHASES)
    settings = Settings()
    for paths in PHASE_SETTINGS.values():
        for path in paths:
            settings.section_fingerprint(path)  # raises KeyError for a path that does not exist


@pytest.mark.parametrize(
    "update",
    [
        {"slack": {"channel": "#another-channel"}},
        {"slack": {"bot_token": "xoxb-new-token", "approval_timeout_s": 60}},
        {"cutover": {"stages_percent": [25, 100]}},
        {"monitor": {"window_s": 600}},
        {"store": {"batch_size": 50, "lock_wait_s": 30}},
    ],
)
def test_settings_no_phase_reads_change_no_key(update: dict) -> None:
    assert changed(Settings(), Settings(**update)) == []


@pytest.mark.parametrize(
    ("update", "phases"),
    [
        ({"diagnose": {"probe_max_tokens": 16}}, ["diagnose"]),
        ({"ollama": {"url": "http://gpu-box:11434"}}, ["diagnose", "inventory", "smoke", "validate"]),
        ({"gpu": {"min_free_gib": 2}}, ["verify_gpu", "plan"]),
        ({"vllm": {"max_model_len": 4096}}, ["plan"]),
        ({"vllm": {"api_key": "sk-vllm"}}, ["plan", "deploy", "smoke", "validate"]),
        ({"thresholds": {"p95_ttft_ms": 900}}, ["validate"]),
        ({"thresholds": {"outgrown_queue_share": 0.3}}, ["diagnose", "validate"]),
    ],
)
def test_a_phase_key_changes_with_its_own_inputs(update: dict, phases: list[str]) -> None:
    # The runner then re-runs the first changed phase and every phase after it (tests/unit/test_phases.py).
    assert changed(Settings(), Settings(**update)) == phases


def test_upstream_results_and_parameters_are_inputs() -> None:
    settings = Settings()
    base = phase_key(settings, "plan", upstream=(Upstream(value=1),))
    assert phase_key(settings, "plan", upstream=(Upstream(value=1),)) == base
    assert phase_key(settings, "plan", upstream=(Upstream(value=2),)) != base
    assert phase_key(settings, "inventory", params={"scan_paths": ["a"]}) != phase_key(
        settings, "inventory", params={"scan_paths": ["b"]}
    )


def test_unknown_phase_is_an_error() -> None:
    with pytest.raises(KeyError, match="add it to PHASE_SETTINGS"):
        phase_key(Settings(), "cutover")
