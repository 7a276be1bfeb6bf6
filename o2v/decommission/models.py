"""Typed results of the decommission's checks and steps."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from checks.verdict import Verdict


class Straggler(BaseModel):
    """A caller that reached Ollama directly (not through the gateway) during the window."""

    address: str
    method: str
    path: str
    requests: int = Field(..., ge=1)
    first_seen: datetime
    last_seen: datetime
    model: str = Field(
        "not logged", description="Ollama's access log names no model; the models Ollama had loaded, when known."
    )

    def sentence(self) -> str:
        return (
            f"{self.address} called Ollama directly: {self.requests} x {self.method} {self.path} "
            f"(model: {self.model}) between {self.first_seen:%Y-%m-%d %H:%M:%S} and {self.last_seen:%H:%M:%S}"
        )


class Blockers(BaseModel):
    """Everything that keeps Ollama needed; empty lists mean nothing blocks."""

    stragglers: list[Straggler] = Field(default_factory=list)
    routed_to_ollama: list[str] = Field(default_factory=list, description="Named clients the table sends to Ollama.")
    unnamed_on_ollama_percent: float = Field(0.0, description="Share of unnamed clients still sent to Ollama.")
    unhonoured_options: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="client -> native option vLLM cannot honour -> times used."
    )
    unreadable: list[str] = Field(default_factory=list, description="Evidence that could not be read (blocks too).")

    @property
    def any(self) -> bool:
        return bool(
            self.stragglers or self.routed_to_ollama or self.unnamed_on_ollama_percent > 0
            or self.unhonoured_options or self.unreadable
        )  # fmt: skip

    def reasons(self) -> list[str]:
        out = [s.sentence() for s in self.stragglers]
        if self.routed_to_ollama:
            out.append(f"still routed to Ollama by the gateway: {', '.join(self.routed_to_ollama)}")
        if self.unnamed_on_ollama_percent > 0:
            out.append(f"{self.unnamed_on_ollama_percent:g} % of unnamed clients are still routed to Ollama")
        for client, options in sorted(self.unhonoured_options.items()):
            used = ", ".join(f"{name} x{count}" for name, count in sorted(options.items()))
            out.append(f"{client} uses native options vLLM cannot honour: {used}")
        out += self.unreadable
        return out


class KeptResources(BaseModel):
    """What stays after Ollama is stopped: the way back (a container, a systemd unit, or an operator's command)."""

    host: Literal["docker", "systemd", "command"] = Field("docker", description="ollama.host at the stop.")
    container: str = Field(..., description="What was stopped: the container's name, the unit, or 'command'.")
    container_id: str = ""
    image: str = ""
    image_id: str = ""
    volumes: list[str] = Field(default_factory=list, description="Named volumes (models) mounted into Ollama.")
    binds: list[str] = Field(default_factory=list, description="Host paths mounted into Ollama.")
    paths: list[str] = Field(default_factory=list, description="Host directories kept (Ollama's models).")
    unit_file: str = Field("", description="The systemd unit's file, kept (systemd host).")
    stopped_at: datetime | None = None

    def stopped(self) -> str:
        """What the stop did, in words."""
        if self.host == "systemd":
            return f"systemd unit `{self.container}` is disabled and stopped (its unit file stays)"
        if self.host == "command":
            return "Ollama is stopped by the configured stop_command"
        return f"container `{self.container}` is stopped (not removed); image `{self.image}` is kept"

    def kept_list(self) -> str:
        return ", ".join(self.volumes + self.binds + self.paths) or "none"


class GpuFreed(BaseModel):
    source: str
    used_before_mib: float
    used_after_mib: float
    ollama_before_mib: float = Field(0.0, description="Memory NVML listed for Ollama's processes before the stop.")

    @property
    def freed_mib(self) -> float:
        return max(0.0, self.used_before_mib - self.used_after_mib)

    def sentence(self) -> str:
        text = (
            f"GPU memory freed: {self.freed_mib:,.0f} MiB (used {self.used_before_mib:,.0f} -> "
            f"{self.used_after_mib:,.0f} MiB; Ollama's processes held {self.ollama_before_mib:,.0f} MiB; {self.source})"
        )
        if not self.source.startswith("nvml"):
            text += " -- a recorded description does not change when Ollama stops"
        return text


Outcome = Literal["ready", "refused", "blocked", "inconclusive", "unstable", "rejected", "timed-out", "decommissioned"]


class DecommissionResult(BaseModel):
    migration_id: str
    outcome: Outcome
    reasons: list[str] = Field(default_factory=list)
    window_start: datetime | None = None
    window_end: datetime | None = None
    stability: Verdict | None = None
    blockers: Blockers = Field(default_factory=Blockers)
    approver: str = ""
    kept: KeptResources | None = None
    final_compose: list[str] = Field(default_factory=list)
    gpu: GpuFreed | None = None
    rollback_command: str = ""

    def to_markdown(self) -> str:
        lines = [f"# Decommission of Ollama ({self.migration_id}): {self.outcome}", ""]
        if self.window_start and self.window_end:
            lines.append(f"Window: {self.window_start:%Y-%m-%d %H:%M:%S} to {self.window_end:%Y-%m-%d %H:%M:%S} UTC")
        if self.stability is not None:
            lines.append(f"Stability (GX suite `decommission`): **{self.stability.status}**")
        lines += [f"- {reason}" for reason in self.reasons]
        if self.kept is not None:
            lines.append(f"\nKept for a rollback: {self.kept.stopped()}; kept: {self.kept.kept_list()}.")
        if self.final_compose:
            lines.append("Final compose files: " + ", ".join(f"`{p}`" for p in self.final_compose))
        if self.gpu is not None:
            lines.append(self.gpu.sentence())
        if self.rollback_command:
            lines.append(f"Way back: `{self.rollback_command}`")
        return "\n".join(lines) + "\n"


class RestoreResult(BaseModel):
    migration_id: str
    container: str = Field(..., description="What was started again: the container, the unit, or 'command'.")
    healthy_after_s: float = Field(..., description="From the start request to Ollama answering /api/version.")
    routing_version: int
    total_s: float
