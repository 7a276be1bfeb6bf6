"""How often the validation gate passes, fails or calls inconclusive when the true vLLM/Ollama p95 ratio is known.

Synthetic windows (checks/synthetic.py): lognormal latencies with log-sd 0.35, the default load levels and
requests per level (o2v's ThresholdSettings / LoadTestSettings defaults), no errors, and a true p95 ratio of
0.5, 0.85, 1.0, 1.15 and 1.5. Each window is judged by the gate's own plan and decision
(``checks.runner.judge_without_gx``: the same figures and rule as the GX run, held equal to it by a unit
test); GX's per-validation overhead would make 1000 windows take a quarter of an hour on two shared cores.

Targets (issue 11): at a true ratio of 0.85 or better, fail in at most 5 % of runs; at 1.5 or worse, pass in at
most 5 % of runs. The script also writes one synthetic window as a samples CSV, so that
``o2v check validation --samples benchmarks/results/validation_gate_example.csv`` re-judges it from outside.

    .venv/bin/python benchmarks/validation_gate_error_rates.py --runs 200
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks.runner import judge_without_gx  # noqa: E402
from checks.samples_csv import write_samples_csv  # noqa: E402
from checks.synthetic import synthetic_window  # noqa: E402
from o2v.config_sections import LoadTestSettings, ThresholdSettings  # noqa: E402

RATIOS = [0.5, 0.85, 1.0, 1.15, 1.5]
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="Synthetic windows per ratio.")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--sigma", type=float, default=0.35)
    parser.add_argument(
        "--cli-only", action="store_true", help="Only write one CSV per ratio and judge it with the CLI."
    )
    args = parser.parse_args()
    if args.cli_only:
        cli_check(args.sigma)
        return

    import numpy as np

    thresholds, loadtest = ThresholdSettings(), LoadTestSettings()
    levels, per_level = loadtest.concurrency, loadtest.requests_per_level
    rng = np.random.default_rng(args.seed)
    table: list[dict[str, float]] = []
    started = time.monotonic()
    for ratio in RATIOS:
        counts = {"pass": 0, "fail": 0, "inconclusive": 0}
        for _ in range(args.runs):
            window = synthetic_window(ratio, levels=levels, samples_per_level=per_level, sigma=args.sigma, rng=rng)
            counts[judge_without_gx("validation", window, thresholds).status] += 1
        row = {"true_ratio": ratio, "runs": args.runs} | {k: v / args.runs for k, v in counts.items()}
        table.append(row)
        shares = "  ".join(f"{k} {row[k]:.1%}" for k in ("pass", "fail", "inconclusive"))
        print(f"ratio {ratio:4}: {shares}", flush=True)
    targets = {
        "fail_at_0.85_or_better_max": 0.05,
        "pass_at_1.5_or_worse_max": 0.05,
        "met": all(r["fail"] <= 0.05 for r in table if r["true_ratio"] <= 0.85)
        and all(r["pass"] <= 0.05 for r in table if r["true_ratio"] >= 1.5),
    }
    out = {
        "what": "validation gate outcome rates on synthetic lognormal windows with a known true p95 ratio",
        "sigma": args.sigma,
        "levels": levels,
        "requests_per_level": per_level,
        "thresholds": thresholds.model_dump(
            include={
                "min_samples",
                "max_vllm_to_ollama_p95_ratio",
                "max_single_stream_p95_ratio",
                "ratio_tolerance",
                "confidence",
                "bootstrap_resamples",
                "min_vllm_to_ollama_throughput_ratio",
                "compare_from_concurrency",
                "max_error_rate_increase",
            }
        ),  # fmt: skip
        "seed": args.seed,
        "table": table,
        "targets": targets,
        "wall_s": round(time.monotonic() - started, 1),
    }
    (RESULTS / "validation_gate_error_rates.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"targets met: {targets['met']}; {out['wall_s']} s")


def cli_check(sigma: float) -> None:
    """One synthetic window per ratio as a samples CSV, judged in-process and by `o2v check validation`."""
    import subprocess
    import tempfile

    import numpy as np

    thresholds, loadtest = ThresholdSettings(), LoadTestSettings()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "migration.yaml"  # defaults, and a store that is not the caller's
        config.write_text(f"workdir: {tmp}\nstore:\n  url: sqlite:///{tmp}/o2v.db\n", encoding="utf-8")
        for i, ratio in enumerate(RATIOS):
            window = synthetic_window(
                ratio, levels=loadtest.concurrency, samples_per_level=loadtest.requests_per_level, sigma=sigma,
                rng=np.random.default_rng(100 + i),
            )  # fmt: skip
            path = write_samples_csv(window, RESULTS / f"validation_gate_example_{ratio}.csv")
            inside = judge_without_gx("validation", window, thresholds).status
            command = [sys.executable, "-c", "from o2v.cli import main; main()", "check", "validation",
                       "--samples", str(path), "--no-docs", "--config", str(config)]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
            outside = {0: "pass", 1: "fail", 3: "inconclusive"}.get(done.returncode, f"exit {done.returncode}")
            rows.append({"true_ratio": ratio, "csv": path.name, "in_process": inside, "cli": outside})
            print(f"ratio {ratio:4}: in process {inside}, `o2v check validation` {outside}", flush=True)
    (RESULTS / "validation_gate_cli_check.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
