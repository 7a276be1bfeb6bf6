"""Ollama and vLLM under the same load, one after the other, in one report.

The two servers are measured sequentially (never at the same time): on a shared GPU, loading one while
measuring the other would blame each for the other's work. Both sides get the same Workload apart from
URL, API and model name, so any difference in the report is the servers'.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from o2v.config import Settings
from o2v.errors import ConfigError
from o2v.loadgen.comparison import ComparisonReport
from o2v.loadgen.metrics import LoadTestResult
from o2v.loadgen.runner import run_async, run_loadtest
from o2v.loadgen.workload import Workload, workload_from_settings
from o2v.store import Store

__all__ = ["ComparisonReport", "compare_async", "comparison_workloads", "run_comparison"]


def comparison_workloads(
    settings: Settings,
    *,
    model: str | None = None,
    ollama_url: str | None = None,
    vllm_url: str | None = None,
    vllm_model: str | None = None,
    **extra: Any,
) -> tuple[Workload, Workload]:
    """The two workloads of a comparison: the same load, each server's own name for the model."""
    tag = model or settings.loadtest.model or next(iter(settings.models), None)
    if tag is None:
        raise ConfigError(
            [
                "loadtest.model: no model to compare; set loadtest.model (an Ollama tag such as llama3.1:8b) "
                "or list the model under models:"
            ]
        )
    mapping = settings.models.get(tag)
    served = vllm_model or (mapping.served_name if mapping and mapping.served_name else tag)
    api_key = settings.vllm.api_key
    ollama = workload_from_settings(
        settings,
        url=ollama_url or settings.ollama.url,
        api=settings.loadtest.ollama_api,
        model=tag,
        backend="ollama",
        **extra,
    )
    vllm = workload_from_settings(
        settings,
        url=vllm_url or settings.vllm.url,
        api="openai",
        model=served,
        backend="vllm",
        api_key=api_key,
        **extra,
    )
    return ollama, vllm


async def compare_async(
    ollama: Workload,
    vllm: Workload,
    *,
    store: Store | None = None,
    progress: bool = False,
    stop: asyncio.Event | None = None,
) -> tuple[LoadTestResult, LoadTestResult]:
    """Run Ollama then vLLM; both preflights run before any load so a bad vLLM URL fails in seconds."""
    from o2v.loadgen.preflight import preflight

    for workload in (ollama, vllm):
        if workload.preflight:
            headers = {"Authorization": f"Bearer {workload.api_key.get_secret_value()}"} if workload.api_key else {}
            await preflight(workload, headers)
    results = []
    for workload in (ollama, vllm):
        if stop is not None and stop.is_set():
            results.append(LoadTestResult(run_id="not-run", workload=workload, interrupted=True))
            continue
        if store is not None:
            async with store.writer() as writer:
                result = await run_loadtest(workload, writer=writer, progress=progress, stop=stop)
            store.save_run(result.run_record())
        else:
            result = await run_loadtest(workload, progress=progress, stop=stop)
        results.append(result)
    return results[0], results[1]


def run_comparison(
    settings: Settings,
    *,
    store: Store | None = None,
    out_dir: Path | None = None,
    progress: bool = False,
    model: str | None = None,
    ollama_url: str | None = None,
    vllm_url: str | None = None,
    vllm_model: str | None = None,
    vllm_max_num_seqs: int | None = None,
    **extra: Any,
) -> ComparisonReport:
    """Run the configured workload against Ollama and vLLM and write JSON, Markdown and PNG reports."""
    from o2v.loadgen.report import write_report

    ollama, vllm = comparison_workloads(
        settings, model=model, ollama_url=ollama_url, vllm_url=vllm_url, vllm_model=vllm_model, **extra
    )
    ollama_result, vllm_result = run_async(
        lambda stop: compare_async(ollama, vllm, store=store, progress=progress, stop=stop)
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = out_dir or settings.workdir / "reports" / f"compare-{stamp}"
    report = ComparisonReport(
        ollama=ollama_result,
        vllm=vllm_result,
        out_dir=str(target),
        vllm_max_num_seqs=vllm_max_num_seqs or settings.vllm.max_num_seqs,
        interrupted=ollama_result.interrupted or vllm_result.interrupted,
    )
    report.files = write_report(report, target)
    if store is not None:
        # So the pair can be re-judged later by one id: `o2v check validation --run <comparison_id>`.
        store.set_state(
            report.state_key(),
            {"ollama_run_id": ollama_result.run_id, "vllm_run_id": vllm_result.run_id, "out_dir": str(target)},
        )
    return report
