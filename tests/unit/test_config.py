"""Settings: defaults, bounds, environment overrides, secrets, and every kind of bad input through the CLI.

Bad input must give exit code 2 and one line per problem that names the field, what was expected and what
was found; never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import annotated_types
import pytest
import yaml
from pydantic import BaseModel, SecretStr
from typer.testing import CliRunner

from o2v.cli import app
from o2v.config import ModelMapping, Settings, env_overrides, load_settings, normalise_url
from o2v.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "migration.example.yaml"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No O2V variables from the developer's shell, and no ./migration.yaml picked up by accident."""
    for name in list(os.environ):
        if name.upper().startswith("O2V_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "migration.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    return caught.value.problems


def check(*args: str) -> Any:
    return CliRunner().invoke(app, ["config", "check", *args])


# -- defaults and bounds -------------------------------------------------------------------------------------
def test_defaults_without_any_file() -> None:
    settings = load_settings()
    assert settings.ollama.url == "http://127.0.0.1:11434"
    assert settings.vllm.port == 8000
    assert settings.vllm.gpu_memory_utilization == 0.9
    assert settings.vllm.image.startswith("vllm/vllm-openai:v")
    assert settings.store.url == "sqlite:///.o2v/o2v.db"
    assert settings.cutover.stages_percent[-1] == 100
    assert settings.slack.enabled is False
    assert settings.models == {}


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "# nothing yet\n")) == Settings()


def _bounded_fields() -> list[tuple[str, str, float, float]]:
    """(section, field, a value just outside, a value on the edge) for every numeric bound in Settings."""
    cases = []
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, field in model.model_fields.items():
            integer = int in (field.annotation, *typing.get_args(field.annotation))
            step = 1 if integer else 0.001
            for meta in field.metadata:
                if isinstance(meta, annotated_types.Ge):
                    cases.append((section, name, meta.ge - step, meta.ge))
                elif isinstance(meta, annotated_types.Gt):
                    cases.append((section, name, meta.gt, meta.gt + step))
                elif isinstance(meta, annotated_types.Le):
                    cases.append((section, name, meta.le + step, meta.le))
                elif isinstance(meta, annotated_types.Lt):
                    cases.append((section, name, meta.lt, meta.lt - step))
    return cases


BOUNDS = _bounded_fields()


@pytest.mark.parametrize(("section", "name", "outside", "edge"), BOUNDS, ids=[f"{c[0]}.{c[1]}={c[2]}" for c in BOUNDS])
def test_every_numeric_bound_is_enforced_with_a_clear_line(
    tmp_path: Path, section: str, name: str, outside: float, edge: float
) -> None:
    assert getattr(load_settings(overrides={section: {name: edge}}), section).model_dump()[name] == edge
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides={section: {name: outside}})
    (line,) = caught.value.problems
    assert line.startswith(f"{section}.{name}: must be ")
    assert line.endswith(f"got {outside!r}")


def test_bounds_cover_the_fields_people_get_wrong() -> None:
    names = {f"{s}.{n}" for s, n, _, _ in BOUNDS}
    assert {"vllm.gpu_memory_utilization", "vllm.port", "store.batch_size", "thresholds.max_error_rate"} <= names


def test_gpu_memory_utilization_message_from_the_issue(tmp_path: Path) -> None:
    assert problems("vllm:\n  gpu_memory_utilization: 1.3\n", tmp_path) == [
        "vllm.gpu_memory_utilization: must be > 0 and <= 0.95, got 1.3"
    ]


def test_urls_are_normalised_once() -> None:
    assert normalise_url(" http://gpu-box:11434/v1/ ") == "http://gpu-box:11434"
    assert load_settings(overrides={"ollama": {"url": "http://gpu-box:11434/"}}).ollama.url == "http://gpu-box:11434"


@pytest.mark.parametrize("image", ["vllm/vllm-openai", "vllm/vllm-openai:latest", "registry:5000/vllm"])
def test_vllm_image_needs_a_pinned_tag(tmp_path: Path, image: str) -> None:
    (line,) = problems(f"vllm:\n  image: {image}\n", tmp_path)
    assert line.startswith("vllm.image: must be an image with a pinned tag")
    assert repr(image) in line


def test_ports_of_ollama_and_vllm_must_differ(tmp_path: Path) -> None:
    (line,) = problems("ollama:\n  url: http://127.0.0.1:8000\n", tmp_path)
    assert line == "vllm.port: must differ from the port in ollama.url (http://127.0.0.1:8000), got 8000 for both"


# -- environment ---------------------------------------------------------------------------------------------
def test_environment_overrides_the_file_field_by_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path, "vllm:\n  port: 8100\n  host: 10.0.0.5\n  api_key: team-key-123\nloadtest:\n  concurrency: [1, 2]\n"
    )
    monkeypatch.setenv("O2V__VLLM__PORT", "9001")
    monkeypatch.setenv("o2v__loadtest__concurrency", "[4, 16]")  # names are case-insensitive
    monkeypatch.setenv("O2V__MIGRATION_ID", "0042")  # a string field keeps its leading zeros
    monkeypatch.setenv("O2V__VLLM__MAX_MODEL_LEN", "null")
    settings = load_settings(path)
    assert settings.vllm.port == 9001
    assert settings.vllm.host == "10.0.0.5"  # untouched fields of the same section come from the file
    assert settings.loadtest.concurrency == [4, 16]
    assert settings.migration_id == "0042"
    assert settings.vllm.max_model_len is None


def test_o2v_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "migration_id: from-env-path\n", name="elsewhere.yaml")
    monkeypatch.setenv("O2V_CONFIG", str(path))
    assert load_settings().migration_id == "from-env-path"
    result = check()
    assert result.exit_code == 0, result.output
    assert f"OK {path}" in result.stdout


def test_mappings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("O2V__MODELS", '{"qwen2.5:7b": {hf_repo: Qwen/Qwen2.5-7B-Instruct}}')
    assert load_settings().models == {"qwen2.5:7b": ModelMapping(hf_repo="Qwen/Qwen2.5-7B-Instruct")}
    assert env_overrides({"O2V__A__B": "1", "OTHER": "x", "O2V_CONFIG": "f"}) == {"a": {"b": "1"}}


def test_bad_environment_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("O2V__VLLM__PORT", "eighty")
    monkeypatch.setenv("O2V__LOADTEST__CONCURRENCY", "1,5,10")
    monkeypatch.setenv("O2V__VLLM__PROT", "8000")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    lines = caught.value.problems
    assert len(lines) == 3
    port = "vllm.port: expected an integer, got 'eighty' (str) (set by the environment variable O2V__VLLM__PORT)"
    assert port in lines
    levels = [line for line in lines if line.startswith("loadtest.concurrency: expected a list, got '1,5,10'")]
    assert len(levels) == 1
    assert "[1, 5, 10]" in levels[0]
    assert any(line.startswith("vllm.prot: unknown key") and "did you mean 'port'?" in line for line in lines)


# -- secrets -------------------------------------------------------------------------------------------------
def test_secrets_are_secretstr_and_never_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "vllm:\n  api_key: sk-file-secret\nstore:\n  url: postgresql://o2v:db-secret@db/o2v\n")
    monkeypatch.setenv("O2V__SLACK__BOT_TOKEN", "xoxb-env-secret")
    monkeypatch.setenv("O2V__VLLM__HF_TOKEN", "hf_env_secret")
    monkeypatch.setenv("O2V__CUTOVER__CLIENT_API_KEYS", "{ci-bot: key-secret}")
    settings = load_settings(path)
    assert isinstance(settings.slack.bot_token, SecretStr)
    assert settings.slack.bot_token.get_secret_value() == "xoxb-env-secret"
    assert settings.cutover.client_api_keys["ci-bot"].get_secret_value() == "key-secret"
    shown = repr(settings) + str(settings)
    dumped = settings.model_dump_json()
    result = check(str(path))
    assert result.exit_code == 0, result.output
    for secret in ("sk-file-secret", "xoxb-env-secret", "hf_env_secret", "key-secret", "db-secret"):
        assert secret not in shown
        assert secret not in result.output
    for secret in ("sk-file-secret", "xoxb-env-secret", "hf_env_secret", "key-secret"):
        assert secret not in dumped
    assert "slack           configured" in result.stdout
    assert "postgresql://o2v:***@db/o2v" in result.stdout


def test_a_secret_of_the_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    lines = problems(
        "slack:\n  bot_token: [xoxb-123-secret]\nvllm:\n  api_key: 99887766\n"
        "cutover:\n  client_api_keys: {bot: 12345678}\n",
        tmp_path,
    )
    text = "\n".join(lines)
    assert "slack.bot_token: expected a string, got something else (value hidden: this field is a secret)" in lines
    assert "vllm.api_key: expected a string" in text
    for secret in ("xoxb-123-secret", "99887766", "12345678"):
        assert secret not in text


def test_config_hash_sees_a_rotated_secret_through_a_keyed_hash_only() -> None:
    one = load_settings(overrides={"slack": {"bot_token": "xoxb-one"}})
    again = load_settings(overrides={"slack": {"bot_token": "xoxb-one"}})
    two = load_settings(overrides={"slack": {"bot_token": "xoxb-two"}})
    other = load_settings(overrides={"vllm": {"port": 8001}})
    assert one.config_hash() == again.config_hash()
    assert len({one.config_hash(), two.config_hash(), other.config_hash()}) == 3


# -- bad input through the CLI -------------------------------------------------------------------------------
BAD_FILES = {
    "out of range": (
        "vllm:\n  gpu_memory_utilization: 1.3\n", ["vllm.gpu_memory_utilization: must be > 0 and <= 0.95, got 1.3"]
    ),
    "wrong type": (
        "loadtest:\n  requests_per_level: many\n",
        ["loadtest.requests_per_level: expected an integer, got 'many' (str)"],
    ),
    "section not a mapping": ("vllm: 8000\n", ["vllm: expected a mapping, got 8000 (int)"]),
    "unknown key with hint": ("ollama:\n  urll: http://x:1\n", ["ollama.urll: unknown key (expected one of: "]),
    "unknown section": ("vlm:\n  port: 1\n", ["vlm: unknown key (expected one of: "]),
    "bad choice": (
        "vllm:\n  backend: kubernetes\n", ["vllm.backend: must be one of 'docker' or 'process', got 'kubernetes'"]
    ),
    "missing required": (
        "models:\n  llama3.1:8b: {served_name: x}\n", ["models['llama3.1:8b'].hf_repo: required, but missing"]
    ),
    "not a list": ("loadtest:\n  concurrency: 5\n", ["loadtest.concurrency: expected a list, got 5 (int)"]),
    "top level list": (
        "- vllm\n- ollama\n", ["migration.yaml: expected a mapping of sections (ollama:, vllm:, ...), got list"]
    ),
    "malformed yaml": ("vllm:\n  port: 8000\n image: x\n", ["migration.yaml: malformed YAML at line 3, column 2: "]),
    "tab indentation": ("vllm:\n\tport: 8000\n", ["migration.yaml: malformed YAML at line 2, column 1: "]),
    "duplicate key": (
        "vllm:\n  port: 1\nvllm:\n  port: 2\n",
        ["migration.yaml: malformed YAML at line 3, column 1: duplicate key 'vllm' (first given on line 1)"],
    ),
    "python tag": ("vllm: !!python/object:os.system {}\n", ["migration.yaml: malformed YAML at line 1, column 7: "]),
}

@pytest.mark.parametrize(("text", "expected"), list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_file_gives_exit_2_and_one_line_per_problem(tmp_path: Path, text: str, expected: list[str]) -> None:
    result = check(str(write(tmp_path, text)))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(expected), result.stderr
    for line, start in zip(lines, expected, strict=True):
        assert line.replace(str(tmp_path) + "/", "").startswith(start), line
    assert "Traceback" not in result.output


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    text = "vllm:\n  port: 0\n  dtype: fp4\nslack:\n  channel: [a]\nthresholds:\n  max_error_rate: 2\nbogus: 1\n"
    result = check(str(write(tmp_path, text)))
    assert result.exit_code == 2
    paths = [line.split(":")[0] for line in result.stderr.splitlines()]
    assert sorted(paths) == ["bogus", "slack.channel", "thresholds.max_error_rate", "vllm.dtype", "vllm.port"]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    result = check(str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert result.stderr == f"{tmp_path / 'nope.yaml'}: file not found (create it from migration.example.yaml)\n"
    result = check(str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == f"{tmp_path}: is a directory, expected a YAML file\n"


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    """The real console script, in a fresh process, with a file and an environment nobody here wrote."""
    path = write(tmp_path, "vllm:\n  gpu_memory_utilization: 1.3\n  port: [1]\nstore:\n  url: 'not a url'\n")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("O2V_")}
    env["O2V__LOADTEST__CONCURRENCY"] = "{oops"
    script = Path(sys.executable).with_name("o2v")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from o2v.cli import main; main()"]
    done = subprocess.run([*command, "config", "check", str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "vllm.port: expected an integer, got [1] (list)",
        "vllm.gpu_memory_utilization: must be > 0 and <= 0.95, got 1.3",
        "loadtest.concurrency: expected a list, got '{oops' (str) (set by the environment variable "
        "O2V__LOADTEST__CONCURRENCY); give lists and mappings in YAML flow style, e.g. [1, 5, 10] or {key: value}",
        "store.url: must be a SQLAlchemy URL such as sqlite:///.o2v/o2v.db, got 'not a url'",
    ]


# -- migration.example.yaml ----------------------------------------------------------------------------------
def test_example_file_is_valid() -> None:
    result = check(str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"OK {EXAMPLE}")


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        paths.append(prefix + name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths.extend(_field_paths(annotation, f"{prefix}{name}."))
    return paths


def test_example_file_shows_every_settings_field() -> None:
    """New Settings fields must be added to migration.example.yaml, with a comment."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    missing = []
    for path in _field_paths(Settings):
        node: Any = data
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                missing.append(path)
                break
            node = node[part]
    assert missing == [], f"add these fields to migration.example.yaml, each with a comment: {missing}"
    assert data["models"], "the example shows one model mapping"
    for tag, mapping in data["models"].items():
        assert set(mapping) == set(ModelMapping.model_fields), f"models[{tag!r}] should show every field"


def test_every_key_in_the_example_has_a_comment() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    undocumented = []
    node = yaml.compose("\n".join(lines))
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                row = key.start_mark.line
                above = lines[row - 1].strip() if row > 0 else ""
                commented = "#" in lines[row] or above.startswith("#")
                if not commented and key.value not in data_keys_with_section_comment(lines, row):
                    undocumented.append(f"line {row + 1}: {key.value}")
                stack.append(value)
    assert undocumented == []


def data_keys_with_section_comment(lines: list[str], row: int) -> set[str]:
    """A model tag under ``models:`` is documented by the comment block above ``models:`` itself."""
    for back in range(row - 1, -1, -1):
        if lines[back].startswith("models:"):
            return {lines[row].strip().rstrip(":").strip('"')}
        if lines[back] and not lines[back].startswith((" ", "#")):
            return set()
    return set()
