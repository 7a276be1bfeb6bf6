"""Pure pieces of the simulators: Go durations, keep-alive parsing, text, catalog, batching model, metrics."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from o2v.errors import ConfigError
from o2v.simulate.catalog import default_catalog, load_catalog
from o2v.simulate.common import Faults, Stats, Timing, count_tokens, generate_token_ids, go_duration
from o2v.simulate.ollama_logs import OllamaLogs
from o2v.simulate.ollama_sched import parse_keep_alive
from o2v.simulate.vllm_engine import Engine
from o2v.simulate.vllm_metrics import Histogram, Metrics


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (41.5e-6, "41.5µs"), (0.0012, "1.2ms"), (2.345678901, "2.345678901s"), (65, "1m5s"),
     (300, "5m0s"), (3600, "1h0m0s"), (5e-7, "500ns")],
)  # fmt: skip
def test_go_duration_matches_go(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "seconds"), [("5m", 300.0), ("1h30m", 5400.0), ("-1", -1.0), (0, 0.0), ("90s", 90.0), (None, None)]
)
def test_keep_alive_parsing(value: object, seconds: float | None) -> None:
    assert parse_keep_alive(value) == seconds


def test_keep_alive_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_keep_alive("soon")


def test_access_line_is_gins_layout() -> None:
    out = io.StringIO()
    OllamaLogs(out=out, err=io.StringIO()).access(200, 2.345678901, "172.17.0.1", "POST", "/api/chat")
    line = out.getvalue().rstrip("\n")
    assert line.endswith(' | 200 |  2.345678901s |      172.17.0.1 | POST     "/api/chat"')


def test_app_line_quotes_like_slog() -> None:
    err = io.StringIO()
    OllamaLogs(out=io.StringIO(), err=err).app("INFO", "server.go:1", "aborting chat request", model="a b")
    assert ' level=INFO source=server.go:1 msg="aborting chat request" model="a b"' in err.getvalue()


def test_text_is_deterministic_and_respects_limits() -> None:
    a = generate_token_ids(42, 64, None)
    assert a == generate_token_ids(42, 64, None)
    assert a != generate_token_ids(43, 64, None)
    ids, reason = generate_token_ids(42, 64, 5)
    assert (len(ids), reason) == (5, "length")
    assert 48 <= len(a[0]) <= 80
    assert a[1] == "stop"


def test_token_count_approximates_words() -> None:
    assert count_tokens("") == 0
    assert count_tokens("Hello, world!") == 4


def test_catalog_default_and_bad_files(tmp_path: Path) -> None:
    model = default_catalog().models[0]
    assert (model.full_name, model.quantization_level, model.architecture) == ("llama3.1:8b", "Q4_K_M", "llama")
    bad_yaml = tmp_path / "c.yaml"
    bad_yaml.write_text("models: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_catalog(bad_yaml)
    wrong = tmp_path / "w.yaml"
    wrong.write_text("models:\n  - name: qwen2.5:7b\n    size_bytes: -1\n")
    with pytest.raises(ConfigError, match=r"models\.0\.size_bytes"):
        load_catalog(wrong)
    good = tmp_path / "g.yaml"
    good.write_text("models:\n  - name: qwen2.5:7b\n    architecture: qwen2\n    head_count_kv: 4\n")
    catalog = load_catalog(good, ["mistral:7b"])
    assert [m.full_name for m in catalog.models] == ["qwen2.5:7b", "mistral:7b:latest".replace(":latest", "")]
    assert catalog.models[0].model_info()["qwen2.attention.head_count_kv"] == 4


def test_decode_step_grows_sub_linearly_with_the_batch() -> None:
    engine = Engine(Timing(itl_ms=10.0), max_num_seqs=256, batch_cost=0.02, batch_exponent=0.85,
                    num_blocks=1000, metrics=Metrics("m"), stats=Stats())  # fmt: skip
    throughput = {b: b / engine.decode_s(b) for b in (1, 5, 16, 64, 256)}
    assert engine.decode_s(1) == pytest.approx(0.010)
    assert engine.decode_s(5) < 1.1 * engine.decode_s(1)
    values = list(throughput.values())
    assert all(b > a for a, b in zip(values, values[1:], strict=False)), throughput
    assert throughput[256] < 0.5 * 256 * throughput[1]


def test_histogram_is_cumulative() -> None:
    hist = Histogram((0.1, 1.0))
    for value in (0.05, 0.5, 5.0):
        hist.observe(value)
    lines = hist.lines("x", 'a="b"')
    assert lines[:3] == [
        'x_bucket{a="b",le="0.1"} 1.0',
        'x_bucket{a="b",le="1.0"} 2.0',
        'x_bucket{a="b",le="+Inf"} 3.0',
    ]


def test_faults_validate_bounds() -> None:
    assert not Faults().active()
    with pytest.raises(ValueError, match="error_rate"):
        Faults.model_validate({"error_rate": 1.5})


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["vllm", "--max-num-seqs", "many"], "expected a int"),
        (["ollama", "--bogus"], "unrecognized arguments"),
        (["ollama", "--catalog", "/does/not/exist.yaml"], "cannot be read"),
        (["ollama", "--keep-alive", "x"], "keep-alive"),
        (["redis"], "invalid choice"),
    ],
)
def test_bad_flags_exit_2_with_one_line(argv: list[str], needle: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "o2v.simulate", *argv, "--port", "1"], capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0]


def test_o2v_simulate_command_passes_flags_through() -> None:
    from typer.testing import CliRunner

    from o2v.cli import app

    result = CliRunner().invoke(app, ["simulate", "vllm", "--max-num-seqs", "many"])
    assert result.exit_code == 2


def test_package_imports_only_what_the_slim_image_has() -> None:
    """The simulator image ships stdlib + aiohttp + pydantic + pyyaml: nothing else may be imported."""
    code = (
        "import sys; before = set(sys.modules)\n"
        "import o2v.simulate.__main__, o2v.simulate.ollama, o2v.simulate.vllm, o2v.simulate.process\n"
        "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    allowed = {"o2v", "cython_runtime", "aiohttp", "pydantic", "pydantic_core", "yaml", "multidict", "yarl",
               "frozenlist",
               "aiosignal", "aiohappyeyeballs", "propcache", "attr", "idna", "annotated_types",
               "typing_extensions", "typing_inspection"}  # fmt: skip
    extra = {m for m in out.stdout.split() if m not in sys.stdlib_module_names and not m.startswith("_")} - allowed
    assert not extra, f"o2v.simulate pulled in {sorted(extra)}"
