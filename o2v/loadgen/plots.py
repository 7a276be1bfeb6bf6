"""PNG plots of a comparison (matplotlib, Agg backend: no display needed, safe in containers and CI).

Three pictures, each answering one question: does latency climb with concurrency (latency.png), does
throughput scale (throughput.png), and how spread out is the wait for the first token (ttft.png).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from o2v.loadgen.comparison import ComparisonReport
from o2v.loadgen.metrics import LevelStats

COLORS = {"ollama": "#d9731a", "vllm": "#1f5fbf"}
LABELS = {"ollama": "Ollama", "vllm": "vLLM"}


def write_plots(report: ComparisonReport, out_dir: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.spines.top": False, "axes.spines.right": False})
    files: dict[str, str] = {}
    runs = {"ollama": report.ollama.levels, "vllm": report.vllm.levels}
    if not any(runs.values()):
        return files
    files["latency"] = _latency(plt, runs, report, out_dir / "latency.png")
    files["throughput"] = _throughput(plt, runs, report, out_dir / "throughput.png")
    ttft = _ttft(plt, report, out_dir / "ttft.png")
    if ttft:
        files["ttft"] = ttft
    return files


def _series(levels: list[LevelStats], pick: Any) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for level in levels:
        value = pick(level)
        if value is not None:
            xs.append(level.concurrency)
            ys.append(value)
    return xs, ys


def _max_seqs_line(ax: Any, report: ComparisonReport, levels: dict[str, list[LevelStats]]) -> None:
    seqs = report.vllm_max_num_seqs
    top = max((lv.concurrency for ls in levels.values() for lv in ls), default=0)
    if seqs and seqs <= top:
        ax.axvline(seqs, color=COLORS["vllm"], linestyle=":", linewidth=1)
        ax.annotate(
            f"vLLM max_num_seqs={seqs}",
            xy=(seqs, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            color=COLORS["vllm"],
            fontsize=8,
        )


def _latency(plt: Any, runs: dict[str, list[LevelStats]], report: ComparisonReport, path: Path) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    panels = (("e2e_ms", "End-to-end latency (send to last token)"), ("ttft_ms", "Time to first token"))
    for ax, (metric, title) in zip(axes, panels, strict=True):
        for name, levels in runs.items():
            xs, med = _series(levels, lambda lv, m=metric: _sec(getattr(lv, m).median))
            _, p95 = _series(levels, lambda lv, m=metric: _sec(getattr(lv, m).p95))
            if not xs:
                continue
            ax.plot(xs, med, marker="o", color=COLORS[name], linewidth=2, label=f"{LABELS[name]} median")
            ax.plot(
                xs,
                p95,
                marker="^",
                color=COLORS[name],
                linewidth=1.2,
                linestyle="--",
                label=f"{LABELS[name]} p95",
            )
            ax.fill_between(xs, med, p95, color=COLORS[name], alpha=0.12)
        _max_seqs_line(ax, report, runs)
        ax.set_title(title)
        ax.set_xlabel("concurrent requests")
        ax.set_ylabel("seconds (lower is better)")
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", frameon=False)
    fig.suptitle(f"Latency vs concurrency  -  model {report.ollama.workload.model}", fontweight="bold")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def _throughput(plt: Any, runs: dict[str, list[LevelStats]], report: ComparisonReport, path: Path) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    panels = (
        (lambda lv: lv.output_tokens_per_s, "Output tokens per second (all users together)", "tokens/s"),
        (lambda lv: lv.request_throughput_rps, "Completed requests per second", "requests/s"),
    )
    for ax, (pick, title, unit) in zip(axes, panels, strict=True):
        for name, levels in runs.items():
            xs, ys = _series(levels, pick)
            if xs:
                ax.plot(xs, ys, marker="o", color=COLORS[name], linewidth=2, label=LABELS[name])
        _max_seqs_line(ax, report, runs)
        ax.set_title(title)
        ax.set_xlabel("concurrent requests")
        ax.set_ylabel(f"{unit} (higher is better)")
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", frameon=False)
    fig.suptitle("Throughput vs concurrency", fontweight="bold")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def _ttft(plt: Any, report: ComparisonReport, path: Path) -> str | None:
    data: dict[str, dict[int, list[float]]] = {"ollama": {}, "vllm": {}}
    for name, result in (("ollama", report.ollama), ("vllm", report.vllm)):
        for sample in result.samples:
            if sample.ttft_ms is not None and sample.concurrency is not None:
                data[name].setdefault(sample.concurrency, []).append(sample.ttft_ms / 1000.0)
    levels = sorted(set(data["ollama"]) | set(data["vllm"]))
    if not levels:
        return None
    fig, ax = plt.subplots(figsize=(11, 4.2), constrained_layout=True)
    width = 0.36
    for offset, name in ((-0.2, "ollama"), (0.2, "vllm")):
        positions = [i + offset for i, c in enumerate(levels) if c in data[name]]
        values = [data[name][c] for c in levels if c in data[name]]
        if not values:
            continue
        box = ax.boxplot(
            values,
            positions=positions,
            widths=width,
            patch_artist=True,
            whis=(5, 95),
            showfliers=True,
            flierprops={"markersize": 2, "alpha": 0.4},
        )
        for patch in box["boxes"]:
            patch.set(facecolor=COLORS[name], alpha=0.55, edgecolor=COLORS[name])
        for key in ("medians", "whiskers", "caps"):
            for line in box[key]:
                line.set(color=COLORS[name])
        ax.plot([], [], color=COLORS[name], linewidth=8, alpha=0.55, label=LABELS[name])
    ax.set_xticks(range(len(levels)), [str(c) for c in levels])
    ax.set_xlabel("concurrent requests")
    ax.set_ylabel("seconds to first token (log scale)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, axis="y", which="both")
    ax.legend(loc="upper left", frameon=False)
    ax.set_title("Time to first token per request (box: p25-p75, line: median, whiskers: p5-p95)", fontsize=10)
    fig.suptitle("TTFT distribution by concurrency", fontweight="bold")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def _sec(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0
