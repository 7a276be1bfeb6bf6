"""A Diagnosis as Markdown: the CLI prints it, the migrate flow attaches it as a Prefect artifact."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Diagnosis.to_markdown calls this module: a runtime import back would close a circle
    from o2v.diagnose.models import Diagnosis


def _s(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f} s"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def to_markdown(d: Diagnosis) -> str:
    lines = [f"# Diagnosis: **{d.verdict}** ({d.problem.replace('_', ' ')})", ""]
    lines += [f"- {reason}" for reason in d.reasons]
    lines += ["", "| figure | value |", "|---|---|"]
    parallel = "-" if d.effective_parallelism is None else (
        d.fit.describe() if d.fit is not None
        else ("at least " if d.parallelism_is_lower_bound else "") + f"{d.effective_parallelism:g}")
    rows = [
        ("effective parallelism (slots)", parallel),
        ("OLLAMA_NUM_PARALLEL (server config)", str(d.configured_num_parallel or "-")),
        ("one request alone", _s(d.service_ms)),
        (f"p95 reaches the {d.client_timeout_s:g} s timeout at concurrency",
         str(d.timeout_crossing_concurrency or "-")),
        (f"queueing share at concurrency {d.reference_concurrency:g}", _pct(d.queue_share)),
        ("timeout rate", _pct(d.timeout_rate)),
        ("abort rate", _pct(d.abort_rate)),
        ("developer hours lost to queueing per week",
         "-" if d.developer_hours_lost_per_week is None else f"{d.developer_hours_lost_per_week:.1f}"),
    ]
    if d.peak is not None and d.off_hours is not None:
        rows.append(("p95 working hours / off-hours", f"{_s(d.peak.p95_e2e_ms)} / {_s(d.off_hours.p95_e2e_ms)}"))
        rows.append(("timeouts working hours / off-hours",
                     f"{_pct(d.peak.timeout_rate)} / {_pct(d.off_hours.timeout_rate)}"))
    lines += [f"| {name} | {value} |" for name, value in rows]
    if d.levels:
        lines += ["", "| concurrency | requests | mean | steady-state | p95 | errors |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {p.concurrency} | {p.requests} | {_s(p.mean_e2e_ms)} | {_s(p.little_latency_ms)} | "
            f"{_s(p.p95_e2e_ms)} | {_pct(p.error_rate)} |"
            for p in d.levels
        ]
    lines += ["", "## Signs you've outgrown Ollama", ""]
    for sign in d.signs:
        mark = {"present": "[x]", "absent": "[ ]", "unknown": "[?]"}[sign.status]
        lines.append(f"- {mark} {sign.title} ({sign.status}, score {sign.score:.2f}): " + "; ".join(sign.evidence))
    if d.log is not None:
        log = d.log
        lines += ["", f"Log: {log.lines} lines, {log.access_records} access, {log.app_records} application, "
                      f"{log.unparsed_lines} unparsed"]
        lines += [f"    {sample}" for sample in log.unparsed_sample[:5]]
    lines += ["", "Evidence: " + (", ".join(d.evidence_sources) or "none")]
    return "\n".join(lines)
