"""`o2v rehearse --fail-at cutover`: the whole rehearsal, whose cutover rolls back on its own with no failed request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from o2v.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def test_the_rehearsal_rolls_back_at_the_second_stage_and_exits_non_zero(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    result = CliRunner().invoke(
        app, ["rehearse", "--workdir", str(tmp_path / "rehearsal"), "--json", str(summary), "--fail-at", "cutover"]
    )
    assert result.exit_code == 1, result.output
    data = json.loads(summary.read_text())
    cutover = data["cutover"]
    assert (data["status"], cutover["status"]) == ("rolled-back", "rolled-back")
    assert [(s["stage"], s["verdict"]) for s in cutover["stages"]] == [
        ("stage-1", "promoted"),
        ("stage-2", "rolled-back"),
    ]
    assert cutover["clients"]["failed"] == 0
    assert cutover["clients"]["ok"] == cutover["clients"]["sent"] > 0
    assert set(cutover["routes"].values()) == {"ollama"}
    assert cutover["percent"] == 0
    assert "stage-2  rolled-back" in result.output
