"""``o2v rehearse``: the whole migration against the built-in simulators, in about a minute.

No GPU, no Docker, no Slack: an Ollama simulator runs as a local background process behind start and stop
commands (``ollama.host: command``, one slot as Ollama's default), the vLLM simulator is deployed by the real
deploy phase through the ``process`` backend, the GPU phase reads a recorded device description, Slack output goes
to the console, and Prefect runs on its ephemeral API. After the cutover, the decommission the cutover scheduled
runs a few seconds later, then a rollback to Ollama and forward again (o2v.decommission.rehearse_end). Every
phase's code is the production code; only the servers and the GPU are stand-ins.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from o2v.cutover.rehearsal import CutoverRehearsal, Traffic, cutover_config, rehearse_cutover
from o2v.decommission.rehearsal import DecommissionRehearsal
from o2v.decommission.sim_commands import SimulatorCommands, simulator_commands
from o2v.gpu.recorded import recorded_gpu_memory_gib, recorded_gpu_path

# Timings chosen so that one Ollama slot visibly queues while the whole rehearsal stays near a minute on 2 cores.
# The gate needs thresholds.min_samples (72) successful requests per server and level, the least that carries a
# p95 (docs/checks.md), so each request is kept short (about 85 ms alone) rather than the sample made smaller,
# and only loaded levels are compared: at concurrency 1 both simulators take the same time by construction, so
# that level measures nothing but the scheduling noise of a busy machine (on 2 shared cores its 95 % interval
# reached past the single-stream limit) while costing as much Ollama time as both loaded levels together.
OLLAMA_SIM_ARGS = ["--num-parallel", "1", "--ttft-ms", "40", "--itl-ms", "3", "--load-ms", "300"]
VLLM_SIM_ARGS = ["--ttft-ms", "40", "--itl-ms", "3"]
REHEARSAL_CONCURRENCY = [4, 8]
REHEARSAL_REQUESTS = 72
REHEARSAL_MAX_TOKENS = 16
DECOMMISSION_AFTER_S = 3.0  # instead of days: the decommission runs this long after the last cutover stage


class RehearsalResult(BaseModel):
    migration_id: str
    status: str
    duration_s: float
    reports_dir: str
    config_path: str
    phases: list[dict[str, Any]]
    data_docs: str = ""
    cutover: CutoverRehearsal | None = None
    decommission: DecommissionRehearsal | None = None


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both else value
    return merged


def rehearsal_config(
    workdir: Path, ollama_url: str, vllm_port: int, migration_id: str, *, commands: SimulatorCommands | None = None
) -> dict[str, Any]:
    """A complete migration.yaml for the rehearsal, written to disk so the user can read and reuse it.

    With ``commands`` Ollama's simulator is a ``command`` host whose access log the decommission reads."""
    ollama: dict[str, Any] = {"url": ollama_url, "log_source": "none", "timeout_s": 30}
    if commands is not None:
        ollama.update({
            # Ollama's access log, with each caller's address: the decommission reads its stragglers from it.
            "log_source": "file", "log_file": str(commands.log_file),
            "host": "command", "start_command": commands.start, "stop_command": commands.stop,
            "models_dir": str(commands.models_dir), "command_timeout_s": 30,
        })  # fmt: skip
    return {
        "migration_id": migration_id,
        "workdir": str(workdir),
        "ollama": ollama,
        "vllm": {
            "backend": "process",
            "host": "127.0.0.1",
            "port": vllm_port,
            "container_name": f"o2v-rehearsal-vllm-{vllm_port}",
            "command": [
                *(sys.executable, "-m", "o2v.simulate", "vllm", *VLLM_SIM_ARGS),
                *("--gpu-memory-gib", str(recorded_gpu_memory_gib(recorded_gpu_path()))),
            ],
            "health_timeout_s": 60,
            # The plan maps llama3.1:8b to a gated Meta repository, so a token is required; the simulator
            # never downloads anything, and this stand-in value is only there to satisfy that requirement.
            "hf_token": "hf_rehearsal_simulator_needs_no_token",
        },
        "gpu": {"recorded_devices": str(recorded_gpu_path())},
        # A short probe sweep: enough levels to fit the slot count, few requests so the rehearsal stays quick.
        "diagnose": {"probe_concurrency": [1, 2, 4], "probe_requests_per_level": 4, "probe_max_tokens": 16},
        "loadtest": {
            "concurrency": REHEARSAL_CONCURRENCY,
            "requests_per_level": REHEARSAL_REQUESTS,
            "max_tokens": REHEARSAL_MAX_TOKENS,
            "warmup_requests": 1,
            "request_timeout_s": 60,
        },
        "store": {"url": f"sqlite:///{workdir / 'o2v.db'}"},
        # Nobody watches the Prefect UI during a rehearsal: an inconclusive gate fails (vLLM left running until
        # the rehearsal's own teardown) instead of pausing for a decision that would never come.
        "thresholds": {"on_inconclusive": "fail"},
        # The gateway calls Ollama from 127.0.0.1; a client calling it directly from elsewhere is a straggler.
        "decommission": {"gateway_addresses": ["127.0.0.1"], "ollama_health_timeout_s": 30},
    }


def rehearse(
    workdir: Path = Path(".o2v/rehearsal"),
    *,
    keep_running: bool = False,
    scan_paths: list[str] | None = None,
    config_overrides: dict[str, Any] | None = None,
    fail_at: str | None = None,
    straggler: bool = False,
) -> RehearsalResult:
    """Start the Ollama simulator, run the migrate flow against it, then the cutover through the gateway with
    client traffic (docs/cutover.md); stop everything, say where the report is.

    ``scan_paths`` are source trees for the inventory's client scan; ``config_overrides`` are merged into the
    rehearsal's migration.yaml (e.g. a Slack section), which is then written readable by its owner only.
    ``fail_at="cutover"`` slows vLLM when the second stage starts: the cutover rolls back on its own.
    ``straggler=True``: one client calls Ollama directly before the decommission, which must be blocked.
    """
    from flows.decommission import decommission
    from flows.migrate import MigrateParameters, migrate
    from o2v.config import load_settings
    from o2v.decommission.ollama_host import ollama_host
    from o2v.decommission.rehearse_end import rehearse_decommission_end
    from o2v.decommission.restore import wait_healthy
    from o2v.deploy import teardown
    from o2v.simulate.process import free_port

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    migration_id = time.strftime("rehearsal-%Y%m%d-%H%M%S")
    started = time.monotonic()
    ollama = simulator_commands(workdir, free_port(), OLLAMA_SIM_ARGS)
    ollama.log_file.unlink(missing_ok=True)  # this rehearsal's access log only
    vllm_port = free_port()
    config = rehearsal_config(workdir, ollama.url, vllm_port, migration_id, commands=ollama)
    config = _merged(config, cutover_config(f"127.0.0.1:{free_port()}"))
    config = _merged(config, {"cutover": {"decommission_after_days": DECOMMISSION_AFTER_S / 86400},
                              "gateway": {"admin_token": secrets.token_hex(16)}})  # fmt: skip
    config = _merged(config, config_overrides or {})
    config_path = workdir / "migration.yaml"
    config_path.touch(mode=0o600)
    config_path.chmod(0o600)  # it may hold the caller's secrets
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    host = ollama_host(load_settings(config_path))
    cutover: CutoverRehearsal | None = None
    ended: list[DecommissionRehearsal] = []

    def decommission_end(traffic: Traffic) -> None:
        try:
            ended.append(rehearse_decommission_end(config_path, traffic, straggler=straggler))
        except Exception as exc:  # noqa: BLE001 - a failed step is a result to show (exit 1), as a failed cutover is
            ended.append(DecommissionRehearsal(migration_id=migration_id, outcome="error",
                                               reasons=[f"{type(exc).__name__}: {exc}"]))  # fmt: skip

    host.start(None)
    try:
        wait_healthy(ollama.url, 30)
        # The deployment the cutover schedules the decommission of (what `o2v serve` or prefect.yaml provides).
        decommission.to_deployment(name="decommission").apply()  # type: ignore[union-attr]
        summary = migrate(
            MigrateParameters(config_path=str(config_path), probe=True, scan_paths=list(scan_paths or []))
        )
        cutover = rehearse_cutover(
            config_path, f"http://127.0.0.1:{vllm_port}", fail_at_cutover=fail_at == "cutover", then=decommission_end
        )
    finally:
        if host.running():
            host.stop()
        if not keep_running:
            teardown(config["vllm"]["container_name"], "process", keep_logs_dir=workdir / "logs", workdir=workdir)
    end = ended[0] if ended else None
    return RehearsalResult(
        migration_id=migration_id,
        status=_status(summary.status, cutover, end),
        duration_s=time.monotonic() - started,
        reports_dir=summary.reports_dir,
        config_path=str(config_path),
        phases=[p.model_dump() for p in summary.phases],
        # The GX project sits next to the SQLite store (checks/gx_project.py): <workdir>/gx.
        data_docs=str(workdir / "gx" / "data_docs" / "index.html"),
        cutover=cutover,
        decommission=end,
    )


def _status(migrated: str, cutover: CutoverRehearsal | None, end: DecommissionRehearsal | None) -> str:
    """``decommissioned`` when everything passed, else where it stopped."""
    if cutover is None:
        return migrated
    if cutover.status != "done":
        return cutover.status
    if end is None:
        return "cut over"
    return "decommissioned" if end.passed else f"decommission {end.outcome}"
