"""Concurrency diagnosis: prove (or disprove) that Ollama's slots are the bottleneck before migrating.

    settings ─► diagnose(settings, store=, log_path=, probe=) ─► Diagnosis
                  ├─ logstats: Ollama's log ─► in-flight levels, timeouts, aborts, reloads, peak vs off-hours
                  ├─ probe: short closed-loop sweep (o2v.loadgen) ─► latency per concurrency level
                  ├─ samples: baseline samples already in the store
                  ├─ fit: latency = S * max(1, c/k) ─► effective parallelism k, p95-timeout crossing, queue share
                  └─ evidence: the guide's outgrown signs, not-a-concurrency findings, verdict
"""

from __future__ import annotations

from o2v.diagnose.core import diagnose
from o2v.diagnose.fit import fit_parallelism, queue_share_at, timeout_crossing
from o2v.diagnose.logstats import LogAnalyzer, analyse_log
from o2v.diagnose.models import (
    Diagnosis,
    Finding,
    LevelPoint,
    LogSummary,
    ParallelismFit,
    PeriodStats,
    ProbeOutcome,
    Sign,
)
from o2v.diagnose.probe import run_probe

__all__ = [
    "Diagnosis",
    "Finding",
    "LevelPoint",
    "LogAnalyzer",
    "LogSummary",
    "ParallelismFit",
    "PeriodStats",
    "ProbeOutcome",
    "Sign",
    "analyse_log",
    "diagnose",
    "fit_parallelism",
    "queue_share_at",
    "run_probe",
    "timeout_crossing",
]
