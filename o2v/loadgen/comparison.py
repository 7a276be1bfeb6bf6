"""The result of a comparison (both runs and where their report files are).

Kept apart from ``compare`` (which runs the load) so that the report and plot writers depend on the result
model only: compare -> report -> plots -> comparison, every arrow pointing one way.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from o2v.loadgen.metrics import LevelStats, LoadTestResult


class ComparisonReport(BaseModel):
    """Both runs plus where their report files are."""

    ollama: LoadTestResult
    vllm: LoadTestResult
    comparison_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex[:12],
        description="Names the pair of runs in the store (state key 'comparison:<id>'): `o2v check validation --run`.",
    )
    vllm_max_num_seqs: int | None = Field(None, description="vLLM's --max-num-seqs when known (drawn on plots).")
    out_dir: str
    files: dict[str, str] = Field(default_factory=dict, description="Report files by kind: json, markdown, png.")
    interrupted: bool = False
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def pairs(self) -> list[tuple[int, LevelStats | None, LevelStats | None]]:
        """(level, Ollama's figures, vLLM's figures) for every level either side measured, in order."""
        ollama = {lvl.concurrency: lvl for lvl in self.ollama.levels}
        vllm = {lvl.concurrency: lvl for lvl in self.vllm.levels}
        keys = [c for c in self.ollama.workload.concurrency if c in ollama or c in vllm]
        return [(c, ollama.get(c), vllm.get(c)) for c in dict.fromkeys(keys)]

    def state_key(self) -> str:
        return f"comparison:{self.comparison_id}"

    def warnings(self) -> list[str]:
        return [f"ollama: {w}" for w in self.ollama.warnings] + [f"vllm: {w}" for w in self.vllm.warnings]
