"""`.ci/run` installs what it will start, judged by the programs themselves, not by clients that come without them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ["bash", "dirname", "id", "mkdir", "date", "cat"]  # what the script runs before it lists packages


def missing(tmp_path: Path, programs: list[str]) -> list[str]:
    """Run `.ci/run --missing` on a PATH holding only the named programs (as stubs) and the script's own tools."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        os.symlink(shutil.which(tool) or pytest.fail(f"{tool} not found"), bin_dir / tool)
    for program in programs:
        stub = bin_dir / program
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    env = {"PATH": str(bin_dir), "O2V_CI_KEEP_PATH": "1", "O2V_CI_PG_LIB": str(tmp_path / "no-postgres"),
           "PYTHON": "python3"}
    done = subprocess.run(
        [str(bin_dir / "bash"), str(ROOT / ".ci" / "run"), "--missing"], env=env, capture_output=True, text=True,
        timeout=30, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_docker_client_without_an_engine_still_installs_the_engine(tmp_path: Path) -> None:
    wanted = missing(tmp_path, ["docker", "git", "c++"])
    assert "docker.io" in wanted
    assert "postgresql" in wanted  # no server binary, whatever clients are present


def test_nothing_is_installed_twice_when_the_programs_are_there(tmp_path: Path) -> None:
    pg_bin = tmp_path / "no-postgres" / "15" / "bin"
    pg_bin.mkdir(parents=True)
    (pg_bin / "postgres").write_text("")
    present = ["docker", "dockerd", "docker-compose", "debootstrap", "pg_ctlcluster", "c++", "git", "chromium"]
    assert missing(tmp_path, present) == []


def test_the_browser_tier_gets_debians_chromium(tmp_path: Path) -> None:
    assert "chromium" in missing(tmp_path, ["dockerd", "git"])
