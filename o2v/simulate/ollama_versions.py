"""Which Ollama release behaves how: ``--version-string`` picks the behaviour the simulator copies.

Each switch names the first release (the first non-rc tag of ollama/ollama that contains the change)
where the behaviour changed, so a team that runs an older Ollama rehearses against what it really runs:

- 0.11.5 (``server/sched.go``, "llm: New memory management"): a request for an already loaded model that
  needs no reload is handed the runner in ``GetRunner`` and skips the pending queue.  Before it, every
  request went through the queue (``OLLAMA_MAX_QUEUE``, 503 when full) behind any model load.
  ``servers.md`` dates this v0.12; the tags say 0.11.5, so 0.11 (= 0.11.0) and earlier keep the old queue.
- 0.15.5 (``server/routes.go``): the default context follows the VRAM (4k / 32k / 256k) and is logged.
- 0.30.0 (``llm/llama_server.go``): runners are ``llama-server`` processes; loads log
  ``starting llama-server`` and ``llama-server started in N seconds`` (twice per load).
- 0.32.6 (``openai/openai.go``): ``/v1`` chat streams put the role in the first chunk only and end with a
  finish chunk whose delta is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CURRENT_VERSION = "0.33.0"

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int]:
    """``0.11.4``, ``v0.30.0-rc2``, ``0.11`` -> a comparable triple; ValueError for anything else."""
    m = _VERSION.match(text.strip())
    if m is None:
        raise ValueError(f"expected an Ollama version such as 0.11.4 or 0.33.0, got {text!r}")
    return int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)


@dataclass(frozen=True)
class Behaviour:
    """The version-dependent choices, decided once at start-up (never on the per-token path)."""

    version: str
    loaded_skips_queue: bool
    vram_default_context: bool
    llama_server_logs: bool
    openai_role_first_only: bool

    @classmethod
    def of(cls, version: str) -> Behaviour:
        v = parse_version(version)
        return cls(
            version=version,
            loaded_skips_queue=v >= (0, 11, 5),
            vram_default_context=v >= (0, 15, 5),
            llama_server_logs=v >= (0, 30, 0),
            openai_role_first_only=v >= (0, 32, 6),
        )


def vram_default_context(total_vram_bytes: int) -> int:
    """Ollama's VRAM tiers (``routes.go``): 47 GiB and up -> 256k, 23 GiB and up -> 32k, else (CPU too) 4k."""
    gib = 1024**3
    if total_vram_bytes >= 47 * gib:
        return 262_144
    if total_vram_bytes >= 23 * gib:
        return 32_768
    return 4096


def human_bytes(value: int) -> str:
    """Go's ``format.HumanBytes2``, which Ollama's log lines use for memory sizes."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"
