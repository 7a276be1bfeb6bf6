"""The deployment surface: every prefect.yaml entrypoint imports to a Flow, and the cutover one runs one at a time."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from prefect import Flow

ROOT = Path(__file__).resolve().parents[3]


def test_every_entrypoint_is_a_flow_and_the_cutover_is_deployed_alone() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    by_name = {d["name"]: d for d in spec["deployments"]}
    for deployment in spec["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, name), Flow), deployment["entrypoint"]
    assert by_name["cutover"]["entrypoint"] == "flows/cutover.py:cutover"
    assert by_name["cutover"]["concurrency_limit"] == 1
    assert by_name["cutover"]["enforce_parameter_schema"] is True
