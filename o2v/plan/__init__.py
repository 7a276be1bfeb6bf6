"""The migration plan: model mapping, vLLM sizing with its own arithmetic, flags and compose files.

``make_plan(settings, inventory, gpu_report=None, workload=None) -> MigrationPlan``;
``MigrationPlan.launch_spec(period) -> LaunchSpec``; ``render_compose(plan, out_dir) -> list[Path]``;
``size(SizingRequest) -> SizingResult`` answers "how many sequences fit?" without any server.
"""

from __future__ import annotations

from o2v.plan.catalog import CATALOG, ArchFacts, CatalogEntry, arch_from_config, candidates, lookup, lookup_by_name
from o2v.plan.compose import render_compose
from o2v.plan.make import cuda_visible_gib, make_plan, map_models
from o2v.plan.registry import is_supported
from o2v.plan.sizing import SizingRequest, SizingResult, largest_fitting_len, size
from o2v.plan.types import MigrationPlan, ModelPlan, PeriodFlags

__all__ = [
    "CATALOG",
    "ArchFacts",
    "CatalogEntry",
    "MigrationPlan",
    "ModelPlan",
    "PeriodFlags",
    "SizingRequest",
    "SizingResult",
    "arch_from_config",
    "candidates",
    "cuda_visible_gib",
    "is_supported",
    "largest_fitting_len",
    "lookup",
    "lookup_by_name",
    "make_plan",
    "map_models",
    "render_compose",
    "size",
]
