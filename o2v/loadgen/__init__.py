"""Concurrent load generator for Ollama and OpenAI-compatible servers (vLLM), and side-by-side comparison.

Workload ──► run_loadtest (runner.py over wire.py's HTTP/1.1 client) ──► LoadTestResult(levels: LevelStats, samples)
compare.run_comparison(settings) runs one Workload against Ollama and vLLM and writes report.py's files.
"""

from __future__ import annotations

from o2v.loadgen.metrics import LevelStats, LoadTestResult, Percentiles
from o2v.loadgen.runner import run_loadtest, run_loadtest_sync
from o2v.loadgen.workload import Workload, workload_from_settings

__all__ = [
    "LevelStats",
    "LoadTestResult",
    "Percentiles",
    "Workload",
    "run_loadtest",
    "run_loadtest_sync",
    "workload_from_settings",
]
