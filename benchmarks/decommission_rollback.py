"""How long a rollback to Ollama takes after a decommission, on the simulators.

``--host docker`` (Docker + processes): each round stops Ollama's container the way the decommission does
(container, image and volume kept), then runs the rollback to Ollama (o2v.decommission.restore.restore_ollama, what
``o2v rollback --to-ollama`` runs): ``docker start`` of the kept container, wait until /api/version answers, every
client routed back through the gateway's table. A request through the gateway then checks that Ollama serves again.

``--host command`` (no Docker): Ollama's simulator as a background process behind the start/stop commands
``o2v rehearse`` uses (the ``command`` host); the same rounds, and a request straight to Ollama checks it serves.

    .venv/bin/python benchmarks/decommission_rollback.py --rounds 5 [--host command]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from o2v.decommission.ollama_host import DockerOllama  # noqa: E402
from o2v.decommission.restore import restore_ollama  # noqa: E402
from o2v.decommission.scene import Scene  # noqa: E402
from o2v.simulate.process import free_port  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--host", choices=["docker", "command"], default="docker")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    name = "decommission_rollback.json" if args.host == "docker" else "decommission_rollback_command.json"
    out = args.out or RESULTS / name
    rounds = docker_rounds(args.rounds) if args.host == "docker" else command_rounds(args.rounds)
    totals = [r["total_s"] for r in rounds]
    summary = {
        "rounds": rounds,
        "median_total_s": statistics.median(totals),
        "max_total_s": max(totals),
        "median_healthy_after_s": statistics.median(r["healthy_after_s"] for r in rounds),
        "note": ("Ollama simulator container (o2v-sim-ollama)" if args.host == "docker" else
                 "Ollama simulator as a background process (command host)")
        + " on the 2-core development machine, shared",
    }  # fmt: skip
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


def command_rounds(count: int) -> list[dict[str, Any]]:
    import httpx

    from o2v.config import Settings
    from o2v.decommission.ollama_host import ollama_host
    from o2v.decommission.restore import wait_healthy
    from o2v.decommission.sim_commands import simulator_commands
    from o2v.store import Store

    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sim = simulator_commands(Path(tmp), free_port(), ["--ttft-ms", "5", "--itl-ms", "1", "--load-ms", "50"])
        settings = Settings(
            migration_id="bench", workdir=Path(tmp), store={"url": f"sqlite:///{tmp}/o2v.db"},
            ollama={"url": sim.url, "host": "command", "start_command": sim.start, "stop_command": sim.stop,
                    "models_dir": str(sim.models_dir), "log_source": "none"},
            decommission={"ollama_health_timeout_s": 30},
        )  # type: ignore[arg-type]  # fmt: skip
        store, ollama = Store.from_settings(settings), ollama_host(settings)
        ollama.start(None)
        wait_healthy(sim.url, 30)
        try:
            for _ in range(count):
                store.set_percent(100, actor="benchmark", reason="everyone on vLLM, as after the cutover")
                ollama.stop()
                began = time.perf_counter()
                result = restore_ollama(settings, store, reason="benchmark", actor="benchmark", ollama=ollama)
                body = {"model": "llama3.1:8b", "prompt": "hi", "stream": False, "options": {"num_predict": 4}}
                served = httpx.post(f"{sim.url}/api/generate", json=body, timeout=30).status_code == 200
                rounds.append({"healthy_after_s": result.healthy_after_s, "total_s": result.total_s,
                               "first_request_ok_s": time.perf_counter() - began, "served": served})  # fmt: skip
        finally:
            if ollama.running():
                ollama.stop()
    return rounds


def docker_rounds(count: int) -> list[dict[str, Any]]:
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, Scene(Path(tmp)) as scene:
        settings, store = scene.settings(), scene.store()
        store.set_percent(100, actor="benchmark", reason="everyone on vLLM, as after the cutover")
        ollama = DockerOllama(scene.container_name)
        for _ in range(count):
            ollama.stop()
            began = time.perf_counter()
            result = restore_ollama(settings, store, reason="benchmark", actor="benchmark", ollama=ollama)
            served = scene.traffic(1) == 1
            rounds.append({"healthy_after_s": result.healthy_after_s, "total_s": result.total_s,
                           "first_request_ok_s": time.perf_counter() - began, "served": served})  # fmt: skip
            store.set_percent(100, actor="benchmark", reason="forward again")
    return rounds


if __name__ == "__main__":
    main()
