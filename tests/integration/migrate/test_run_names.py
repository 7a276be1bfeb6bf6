"""The names a person reads in the Prefect UI's run list: the migration id, and the phase a forced re-run starts at."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect import flow

from flows.migrate import MigrateParameters, run_name

pytestmark = pytest.mark.usefixtures("prefect_harness")


@flow
def named(params: MigrateParameters) -> str:
    return run_name()


def test_the_run_is_named_after_the_migration_id_given_or_configured(tmp_path: Path) -> None:
    config = tmp_path / "migration.yaml"
    config.write_text(yaml.safe_dump({"migration_id": "team-a", "workdir": str(tmp_path)}))
    assert named(MigrateParameters(config_path=str(config))) == "migrate-team-a"
    assert named(MigrateParameters(migration_id="m7", from_phase="deploy")) == "migrate-m7-from-deploy"
    broken = tmp_path / "broken.yaml"
    broken.write_text("vllm: {port: not-a-port}\n")
    assert named(MigrateParameters(config_path=str(broken))) == "migrate-unconfigured"
