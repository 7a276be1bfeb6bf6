"""The cutover's stages, resolved from the config, and the routing table each stage stands for.

Stages are cumulative: stage n routes to vLLM every client named by stages 1..n, and the unnamed share of the
latest stage that gave one. A stage at 100 % means everyone: every named client moves too, so that the last
stage leaves nobody on Ollama (a model vLLM does not serve still goes to Ollama: the gateway decides that).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

from o2v.config import Settings
from o2v.config_sections import StageSettings
from o2v.store import Store
from o2v.store_schema import Backend


class Stage(BaseModel):
    """One stage with every default filled in."""

    index: int = Field(..., ge=1, description="1-based position; the approval key is stage-<index>.")
    name: str
    clients: list[str] = Field(default_factory=list, description="Named clients this stage moves to vLLM.")
    percent: float | None = Field(None, description="Share of unnamed clients on vLLM from this stage on.")
    watch_window_s: float
    interval_s: float
    min_samples: int

    @property
    def key(self) -> str:
        return f"stage-{self.index}"

    def moves(self) -> str:
        parts = list(self.clients)
        if self.percent is not None:
            parts.append(
                f"{self.percent:g} % of unnamed clients" + (" and every named client" if self.percent >= 100 else "")
            )
        return ", ".join(parts) or "nobody"


def resolve_stages(settings: Settings) -> list[Stage]:
    cut = settings.cutover
    given = cut.stages or [StageSettings(percent=float(p)) for p in cut.stages_percent]
    stages = []
    for index, stage in enumerate(given, 1):
        resolved = Stage(
            index=index,
            name="",
            clients=list(stage.clients),
            percent=stage.percent,
            watch_window_s=stage.watch_window_s or cut.watch_window_s,
            interval_s=stage.interval_s or cut.analysis_interval_s,
            min_samples=stage.min_samples or settings.thresholds.min_samples,
        )
        resolved.name = stage.name or f"stage-{index}: {resolved.moves()}"
        stages.append(resolved)
    return stages


def named_clients(
    settings: Settings, stages: list[Stage], routed: dict[str, Backend], seen: set[str] | None = None
) -> set[str]:
    """Every client o2v knows by name: the config's rules and keys, the stages, the routing table, and the names
    the gateway has seen (an ``X-O2V-Client`` header names a client that no config lists)."""
    names = set(settings.cutover.clients) | set(settings.cutover.client_api_keys) | set(routed) | set(seen or ())
    for stage in stages:
        names |= set(stage.clients)
    return names


def seen_clients(store: Store, *, within: timedelta = timedelta(days=7)) -> set[str]:
    """Named clients in the gateway's samples of the last ``within`` (unnamed ones are recorded as unnamed:<addr>)."""
    from sqlalchemy import select

    from o2v.store_schema import SampleRow, as_utc, utcnow

    query = (
        select(SampleRow.client)
        .distinct()
        .where(SampleRow.source == "gateway", SampleRow.time >= as_utc(utcnow() - within))
    )
    with store.engine.connect() as conn:
        names = {str(row[0]) for row in conn.execute(query)}
    return {n for n in names if n and not n.startswith("unnamed")}


def routing_at(stages: list[Stage], upto: int, everyone: set[str]) -> tuple[dict[str, Backend], float]:
    """The routes and unnamed share once stages 1..upto are in force (0: everyone on Ollama)."""
    on_vllm: set[str] = set()
    percent = 0.0
    for stage in stages[:upto]:
        on_vllm |= set(stage.clients)
        if stage.percent is not None:
            percent = stage.percent
    if percent >= 100:
        on_vllm |= everyone
    routes: dict[str, Backend] = {name: "vllm" if name in on_vllm else "ollama" for name in sorted(everyone | on_vllm)}
    return routes, percent
