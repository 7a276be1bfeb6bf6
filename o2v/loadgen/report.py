"""Reports a person reads: console tables, Markdown, JSON (and PNG plots via plots.py).

Every table puts the two servers next to each other per level, with the figure that decides a migration
(p95 end-to-end latency) first, so that the guide's picture -- Ollama climbing with concurrency, vLLM flat --
is visible without reading numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from o2v.loadgen.comparison import ComparisonReport
from o2v.loadgen.metrics import LevelStats, LoadTestResult

if TYPE_CHECKING:
    from rich.table import Table


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _level_name(level: LevelStats) -> str:
    return f"{level.rate_rps:g}/s" if level.rate_rps is not None else str(level.concurrency)


def _errors(level: LevelStats | None) -> str:
    if level is None:
        return "-"
    if not level.failed:
        return "0"
    kinds = ", ".join(f"{k}={v}" for k, v in sorted(level.errors_by_kind.items()))
    return f"{level.error_rate:.0%} ({kinds})"


LOADTEST_COLUMNS = [
    "level",
    "ok/sent",
    "E2E\np50",
    "E2E\np95",
    "E2E\np99",
    "TTFT\np50",
    "TTFT\np95",
    "ITL\np50",
    "TPOT\np50",
    "out\ntok/s",
    "req/s",
    "errors",
    "client\nlag p99",
]


def loadtest_rows(result: LoadTestResult) -> list[list[str]]:
    return [
        [
            _level_name(lv) + (" (stopped)" if lv.interrupted else ""),
            f"{lv.completed}/{lv.requests}",
            fmt_ms(lv.e2e_ms.median),
            fmt_ms(lv.e2e_ms.p95),
            fmt_ms(lv.e2e_ms.p99),
            fmt_ms(lv.ttft_ms.median),
            fmt_ms(lv.ttft_ms.p95),
            fmt_ms(lv.itl_ms.median),
            fmt_ms(lv.tpot_ms.median),
            f"{lv.output_tokens_per_s:.0f}",
            f"{lv.request_throughput_rps:.2f}",
            _errors(lv),
            fmt_ms(lv.loop_lag_ms.p99) + (" (!)" if lv.client_bound else ""),
        ]
        for lv in result.levels
    ]


COMPARE_COLUMNS = [
    "concur-\nrency",
    "E2E p95\nOllama",
    "E2E p95\nvLLM",
    "E2E p50\nOllama",
    "E2E p50\nvLLM",
    "TTFT p95\nOllama",
    "TTFT p95\nvLLM",
    "tok/s\nOllama",
    "tok/s\nvLLM",
    "errors\nOllama",
    "errors\nvLLM",
]


def compare_rows(report: ComparisonReport) -> list[list[str]]:
    rows = []
    for level, o, v in report.pairs():
        rows.append(
            [
                str(level),
                fmt_ms(o.e2e_ms.p95 if o else None),
                fmt_ms(v.e2e_ms.p95 if v else None),
                fmt_ms(o.e2e_ms.median if o else None),
                fmt_ms(v.e2e_ms.median if v else None),
                fmt_ms(o.ttft_ms.p95 if o else None),
                fmt_ms(v.ttft_ms.p95 if v else None),
                f"{o.output_tokens_per_s:.0f}" if o else "-",
                f"{v.output_tokens_per_s:.0f}" if v else "-",
                _errors(o),
                _errors(v),
            ]
        )
    return rows


def headline(report: ComparisonReport) -> str:
    """One sentence: the highest level both sides measured, p95 latency and throughput side by side."""
    both = [(c, o, v) for c, o, v in report.pairs() if o and v and o.e2e_ms.p95 and v.e2e_ms.p95]
    if not both:
        return "no level was measured on both servers"
    c, o, v = both[-1]
    assert o is not None
    assert v is not None
    ratio = (o.e2e_ms.p95 or 0.0) / (v.e2e_ms.p95 or 1.0)
    faster = f"{ratio:.1f}x lower" if ratio >= 1 else f"{1 / ratio:.1f}x HIGHER"
    tput = v.output_tokens_per_s / o.output_tokens_per_s if o.output_tokens_per_s else float("inf")
    return (
        f"at concurrency {c}: vLLM p95 latency {fmt_ms(v.e2e_ms.p95)} vs Ollama {fmt_ms(o.e2e_ms.p95)} "
        f"({faster}); output throughput {v.output_tokens_per_s:.0f} vs {o.output_tokens_per_s:.0f} tokens/s "
        f"({tput:.1f}x)"
    )


def rich_table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    names = [c.replace("-\n", "").replace("\n", " ") for c in columns]
    lines = ["| " + " | ".join(names) + " |", "|" + "|".join(["---"] + ["---:"] * (len(columns) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _workload_line(result: LoadTestResult) -> str:
    w = result.workload
    load = (
        f"rate {', '.join(f'{r:g}' for r in w.rate_rps)} req/s ({'Poisson' if w.poisson else 'constant'})"
        if w.mode == "rate"
        else f"concurrency {', '.join(map(str, w.concurrency))}"
    )
    return (
        f"`{w.url}` ({w.api} API), model `{w.model}`, {load}, {w.requests_per_level} requests per level, "
        f"max_tokens {w.max_tokens}, temperature {w.temperature:g}, timeout {w.request_timeout_s:g} s, "
        f"seed {w.seed}"
    )


def comparison_markdown(report: ComparisonReport, plots: dict[str, str]) -> str:
    parts = [
        "# Ollama vs vLLM under the same load",
        "",
        f"**{headline(report)}**",
        "",
        f"- Ollama: {_workload_line(report.ollama)}",
        f"- vLLM: {_workload_line(report.vllm)}",
        f"- run ids: ollama `{report.ollama.run_id}`, vllm `{report.vllm.run_id}`; "
        f"created {report.created:%Y-%m-%d %H:%M} UTC",
        "",
    ]
    if report.interrupted:
        parts += ["**The run was interrupted: the figures cover what was measured before Ctrl-C.**", ""]
    parts += [markdown_table(COMPARE_COLUMNS, compare_rows(report)), ""]
    for name, caption in (
        ("latency", "Latency vs concurrency"),
        ("throughput", "Throughput vs concurrency"),
        ("ttft", "TTFT distribution"),
    ):
        if name in plots:
            parts += [f"## {caption}", "", f"![{caption}]({Path(plots[name]).name})", ""]
    parts += ["## Each server in detail", ""]
    for label, result in (("Ollama", report.ollama), ("vLLM", report.vllm)):
        parts += [f"### {label}", "", markdown_table(LOADTEST_COLUMNS, loadtest_rows(result)), ""]
    if report.warnings():
        parts += ["## Warnings", ""] + [f"- {w}" for w in report.warnings()] + [""]
    parts += [
        "Definitions: E2E = send to last byte; TTFT = send to first content token; ITL = gap between content "
        "chunks; TPOT = (E2E - TTFT) / (tokens - 1); client lag = event-loop lag of the load generator "
        "(large values mean the client, not the server, was slow). See docs/loadgen.md.",
    ]
    return "\n".join(parts) + "\n"


def write_report(report: ComparisonReport, out_dir: Path) -> dict[str, str]:
    """Write comparison.json, comparison.md and the PNG plots; return their paths by kind."""
    from o2v.loadgen.plots import write_plots

    out_dir.mkdir(parents=True, exist_ok=True)
    plots = write_plots(report, out_dir)
    files = {"json": str(out_dir / "comparison.json"), "markdown": str(out_dir / "comparison.md")} | plots
    report.files = files
    data = report.model_dump(mode="json", exclude={"ollama": {"samples"}, "vllm": {"samples"}})
    Path(files["json"]).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    Path(files["markdown"]).write_text(comparison_markdown(report, plots), encoding="utf-8")
    return files


def result_json(result: LoadTestResult, *, with_samples: bool = False) -> str:
    data = result.model_dump(mode="json", exclude=None if with_samples else {"samples"})
    return json.dumps(data, indent=2) + "\n"
