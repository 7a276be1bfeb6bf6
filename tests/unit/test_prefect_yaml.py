"""prefect.yaml as Prefect reads it: migrate and rollback run one at a time per deployment."""

from __future__ import annotations

from pathlib import Path

import yaml
from prefect.cli.deploy._models import PrefectYamlModel
from prefect.client.schemas.objects import ConcurrencyLimitStrategy

PREFECT_YAML = Path(__file__).parents[2] / "prefect.yaml"


def test_migrate_and_rollback_are_limited_to_one_run_each_and_queue_the_next() -> None:
    project = PrefectYamlModel.model_validate(yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8")))
    limits = {d.name: d.concurrency_limit for d in project.deployments}
    for name in ("migrate", "rollback"):
        limit = limits[name]
        assert limit is not None
        assert not isinstance(limit, int)
        assert (limit.limit, limit.collision_strategy) == (1, "ENQUEUE")
        assert ConcurrencyLimitStrategy(limit.collision_strategy) is ConcurrencyLimitStrategy.ENQUEUE
    assert limits["baseline-monitor"] is None  # the monitor's short probes may overlap a migration
