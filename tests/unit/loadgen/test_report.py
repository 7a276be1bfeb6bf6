from __future__ import annotations

import json
from pathlib import Path

import pytest

from o2v.config import Settings
from o2v.errors import ConfigError
from o2v.loadgen.compare import ComparisonReport, comparison_workloads
from o2v.loadgen.metrics import LoadTestResult, level_stats, to_sample
from o2v.loadgen.protocol import Record
from o2v.loadgen.report import compare_rows, fmt_ms, headline, loadtest_rows, write_report
from o2v.loadgen.workload import Workload


def fake_result(backend: str, e2e_s_by_level: dict[int, float]) -> LoadTestResult:
    w = Workload(url="http://h:1", model="llama3.1:8b", backend=backend, concurrency=list(e2e_s_by_level))
    result = LoadTestResult(run_id=f"run-{backend}", workload=w)
    for c, e2e in e2e_s_by_level.items():
        records = []
        for i in range(20):
            r = Record(level=0, intended_s=i * e2e, start_s=i * e2e, wall_time=1.7e9 + i, status=200)
            r.first_token_s = r.start_s + e2e / 2
            r.token_times = [r.first_token_s, r.start_s + e2e * 0.75]
            r.end_s = r.start_s + e2e
            r.usage_tokens = 8
            records.append(r)
        result.levels.append(level_stats(w, c, None, records, [0.5]))
        result.samples += [to_sample(w, result.run_id, c, r) for r in records]
    return result


def test_report_files_table_and_headline(tmp_path: Path) -> None:
    report = ComparisonReport(
        ollama=fake_result("ollama", {1: 0.1, 10: 1.0}), vllm=fake_result("vllm", {1: 0.12, 10: 0.15}),
        out_dir=str(tmp_path), vllm_max_num_seqs=8,
    )  # fmt: skip
    files = write_report(report, tmp_path)
    assert set(files) == {"json", "markdown", "latency", "throughput", "ttft"}
    for path in files.values():
        assert Path(path).stat().st_size > 300
    data = json.loads(Path(files["json"]).read_text())
    assert "samples" not in data["ollama"]
    assert data["vllm"]["levels"][1]["e2e_ms"]["p95"] == pytest.approx(150.0)
    text = headline(report)
    assert text.startswith("at concurrency 10: vLLM p95 latency 150 ms vs Ollama 1.00 s (6.7x lower)")
    rows = compare_rows(report)
    assert [r[0] for r in rows] == ["1", "10"]
    assert rows[1][1:3] == ["1.00 s", "150 ms"]
    markdown = Path(files["markdown"]).read_text()
    assert "| concurrency | E2E p95 Ollama | E2E p95 vLLM |" in markdown
    assert "![TTFT distribution](ttft.png)" in markdown
    assert loadtest_rows(report.ollama)[0][:2] == ["1", "20/20"]


def test_fmt_ms() -> None:
    assert [fmt_ms(None), fmt_ms(3.21), fmt_ms(42.4), fmt_ms(1234.0)] == ["-", "3.2 ms", "42 ms", "1.23 s"]


def test_comparison_workloads_from_settings() -> None:
    settings = Settings.model_validate({})
    with pytest.raises(ConfigError, match="no model to compare"):
        comparison_workloads(settings)
    settings = Settings.model_validate({})
    settings.models = {"llama3.1:8b": {"hf_repo": "meta-llama/Llama-3.1-8B-Instruct", "served_name": "llama"}}  # type: ignore[dict-item]
    ollama, vllm = comparison_workloads(settings)
    assert (ollama.model, ollama.backend, ollama.api) == ("llama3.1:8b", "ollama", settings.loadtest.ollama_api)
    assert (vllm.model, vllm.backend, vllm.api, vllm.url) == ("llama", "vllm", "openai", settings.vllm.url)
    assert ollama.concurrency == vllm.concurrency == settings.loadtest.concurrency
