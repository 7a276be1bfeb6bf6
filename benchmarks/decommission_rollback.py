"""How long a rollback to Ollama takes after a decommission, on the simulators (Docker + processes).

Each round stops Ollama's container the way the decommission does (container, image and volume kept), then
runs the rollback to Ollama (o2v.decommission.restore.restore_ollama, what ``o2v rollback --to-ollama`` runs):
``docker start`` of the kept container, wait until /api/version answers, every client routed back through
the gateway's table. A request through the gateway then checks that Ollama serves again.

    .venv/bin/python benchmarks/decommission_rollback.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from o2v.decommission.ollama_host import DockerOllama  # noqa: E402
from o2v.decommission.restore import restore_ollama  # noqa: E402
from o2v.decommission.scene import Scene  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "decommission_rollback.json")
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as tmp, Scene(Path(tmp)) as scene:
        settings, store = scene.settings(), scene.store()
        store.set_percent(100, actor="benchmark", reason="everyone on vLLM, as after the cutover")
        ollama = DockerOllama(scene.container_name)
        for _ in range(args.rounds):
            ollama.stop()
            began = time.perf_counter()
            result = restore_ollama(settings, store, reason="benchmark", actor="benchmark", ollama=ollama)
            served = scene.traffic(1) == 1
            rounds.append({"healthy_after_s": result.healthy_after_s, "total_s": result.total_s,
                           "first_request_ok_s": time.perf_counter() - began, "served": served})  # fmt: skip
            store.set_percent(100, actor="benchmark", reason="forward again")
    totals = [r["total_s"] for r in rounds]
    summary = {
        "rounds": rounds,
        "median_total_s": statistics.median(totals),
        "max_total_s": max(totals),
        "median_healthy_after_s": statistics.median(r["healthy_after_s"] for r in rounds),
        "note": "Ollama simulator container (o2v-sim-ollama) on the 2-core development machine, shared",
    }
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
