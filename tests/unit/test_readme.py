"""The README's commands are the ones CI runs, and its links lead somewhere."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the Quick start has a bash block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_the_main_job_then_the_tests() -> None:
    main_job, _ = quick_start_commands()
    assert main_job.startswith("python3 -m venv .venv")
    assert main_job.endswith(".venv/bin/o2v rehearse")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    install, test = quick_start_commands()
    match = re.search(r"^TEST_COMMAND=\((.*)\)$", CI, re.M)
    assert match, ".ci/run defines TEST_COMMAND=(...)"
    assert shlex.split(match.group(1)) == shlex.split(test)
    assert "python3 -m venv .venv" in install


def test_readme_install_extras_exist() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for found in re.findall(r"pip install -e '\.\[([a-z,]+)\]'", README):
        assert set(found.split(",")) <= set(extras), found
    ci_extras = re.search(r"O2V_CI_EXTRAS:-([a-z,]+)", CI)
    assert ci_extras
    assert set(ci_extras.group(1).split(",")) == set(extras), "CI installs every extra, so every test can run"


def test_readme_links_exist() -> None:
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), f"README links to missing {target}"
