"""`o2v check validation`: the flow's suite and thresholds on a samples CSV or a stored comparison."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from checks.samples_csv import write_samples_csv
from checks.synthetic import synthetic_window
from o2v.cli import app
from o2v.store import Store


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "migration.yaml"
    path.write_text(
        yaml.safe_dump({"workdir": str(tmp_path / "work"), "store": {"url": f"sqlite:///{tmp_path / 'o2v.db'}"}})
    )
    return path


def samples_file(tmp_path: Path, ratio: float, seed: int = 4) -> Path:
    window = synthetic_window(ratio, levels=[1, 8], samples_per_level=200, rng=np.random.default_rng(seed))
    return write_samples_csv(window, tmp_path / f"samples-{ratio}.csv")


def judge(config: Path, *args: str):
    return CliRunner().invoke(app, ["check", "validation", "--config", str(config), *args])


@pytest.mark.parametrize(("ratio", "code", "word"), [(0.5, 0, "PASS"), (1.5, 1, "FAIL"), (1.1, 3, "INCONCLUSIVE")])
def test_the_exit_code_says_the_verdict(tmp_path, config, ratio, code, word):
    out = tmp_path / "verdict.json"
    result = judge(config, "--samples", str(samples_file(tmp_path, ratio)), "--json", str(out), "--no-docs")
    assert result.exit_code == code, result.output
    assert result.stdout.startswith(f"{word} suite validation, 800 samples")
    assert "validation.comparison: p95 e2e ratio vLLM/Ollama, low end of 95 % interval: observed" in result.stdout
    verdict = json.loads(out.read_text())
    assert verdict["status"] == word.lower()
    assert {e["figure"] for e in verdict["expectations"]} >= {"p95 e2e latency", "error rate"}


def test_a_missing_column_is_bad_input(tmp_path, config):
    path = tmp_path / "s.csv"
    path.write_text("server,concurrency,start_s,ok,e2e_s,output_tokens\nvllm,1,0,true,1.0,10\n")
    result = judge(config, "--samples", str(path))
    assert result.exit_code == 2
    expected = "expected server, concurrency, start_s, ok, e2e_s, ttft_s, output_tokens"
    assert result.stderr == f"{path} line 1: missing column(s) ttft_s; {expected}\n"


def test_every_bad_value_is_named_by_line_and_column(tmp_path, config):
    path = tmp_path / "s.csv"
    path.write_text(
        "server,concurrency,start_s,ok,e2e_s,ttft_s,output_tokens\n"
        "vllm,4,0.0,true,1.2,0.1,20\n"
        "llama,4,0.1,maybe,1.2,0.1,20\n"
        "ollama,0,0.2,true,,0.1,20\n"
    )
    result = judge(config, "--samples", str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{path} line 3, column server: expected ollama or vllm, got 'llama'",
        f"{path} line 3, column ok: expected true or false, got 'maybe'",
        f"{path} line 4, column concurrency: expected a whole number >= 1, got '0'",
        f"{path} line 4, column e2e_s: a value is required",
    ]


def test_neither_samples_nor_run_is_bad_input(config):
    result = judge(config)
    assert result.exit_code == 2
    assert "give exactly one of --samples FILE.csv and --run ID" in result.stderr


def test_a_stored_comparison_is_judged_by_its_id_with_data_docs(tmp_path, config):
    from checks.samples_csv import read_samples_csv
    from o2v.store import RequestSample

    frame = read_samples_csv(samples_file(tmp_path, 0.5))
    store = Store(f"sqlite:///{tmp_path / 'o2v.db'}")
    rows = frame.assign(run_id=frame["backend"] + "-run").to_dict("records")
    store.add_samples(RequestSample.model_validate({k: (None if v != v else v) for k, v in r.items()}) for r in rows)
    store.set_state("comparison:abc123", {"ollama_run_id": "ollama-run", "vllm_run_id": "vllm-run"})
    result = judge(config, "--run", "abc123")
    assert result.exit_code == 0, result.output
    assert f"Data Docs: {tmp_path / 'gx' / 'data_docs' / 'index.html'}" in result.stdout
    unknown = judge(config, "--run", "nope")
    assert unknown.exit_code == 2
    assert "--run nope: no comparison or load-test run with that id" in unknown.stderr
