"""Exposure and secrets in the settings: private by default, loud when not, keys compared in constant time."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from o2v.cli import app
from o2v.config import Settings, load_settings
from o2v.deploy import LaunchSpec
from o2v.errors import ConfigError
from o2v.exposure import bind_address, is_loopback
from o2v.plan.compose import published
from o2v.secret_hash import KEY_FILE, bearer_matches, installation_key, same_secret, secret_digests


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("O2V_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def problems(tmp_path: Path, config: dict[str, object]) -> list[str]:
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return caught.value.problems


# -- where servers are published ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "address"),
    [("localhost", "127.0.0.1"), ("LOCALHOST", "127.0.0.1"), ("vllm.localhost", "127.0.0.1"),
     ("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("10.0.0.5", "10.0.0.5"), ("gpu-box.internal", "0.0.0.0")],
)  # fmt: skip
def test_bind_address_is_private_for_every_loopback_name(host: str, address: str) -> None:
    assert bind_address(host) == address


def test_compose_ports_name_the_address() -> None:
    assert published("127.0.0.1", 8000, 8000) == "127.0.0.1:8000:8000"
    assert published("localhost", 8001, 8000) == "127.0.0.1:8001:8000"
    assert published("::1", 8000, 8000) == "[::1]:8000:8000"
    assert published("10.0.0.5", 11434, 11434) == "10.0.0.5:11434:11434"


def test_default_settings_publish_nothing_beyond_loopback() -> None:
    settings = Settings()
    assert is_loopback(bind_address(settings.vllm.host))
    assert settings.vllm.allow_unauthenticated_public is False


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "gpu-box.internal"])
def test_vllm_beyond_loopback_without_a_key_is_refused_naming_the_fields(tmp_path: Path, host: str) -> None:
    (line,) = problems(tmp_path, {"vllm": {"host": host}})
    assert line.startswith("vllm: vLLM would be published on ")
    for field in ("vllm.host", "vllm.api_key", "vllm.allow_unauthenticated_public"):
        assert field in line


def test_vllm_beyond_loopback_is_accepted_with_a_key_or_an_explicit_flag(tmp_path: Path) -> None:
    with_key = Settings(vllm={"host": "0.0.0.0", "api_key": "team-key-0123"})
    flagged = Settings(vllm={"host": "0.0.0.0", "allow_unauthenticated_public": True})
    assert with_key.vllm.host == flagged.vllm.host == "0.0.0.0"


# -- migration ids and Slack's URL --------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["../../tmp/x", "..", ".hidden", "a/b", "a b", "tab\there", "é"])
def test_migration_id_that_could_leave_the_workdir_is_rejected(tmp_path: Path, bad: str) -> None:
    (line,) = problems(tmp_path, {"migration_id": bad})
    assert line.startswith("migration_id: must be 1-64 letters, digits, '.', '_' or '-'")


def test_migration_id_longer_than_64_is_rejected(tmp_path: Path) -> None:
    (line,) = problems(tmp_path, {"migration_id": "x" * 65})
    assert line.startswith("migration_id: ")
    assert "at most 64 characters" in line


@pytest.mark.parametrize("good", ["default", "team-llm_2025.1", "0042", "a", "x" * 64])
def test_ordinary_migration_ids_are_accepted(good: str) -> None:
    assert Settings(migration_id=good).migration_id == good


def test_a_path_as_migration_id_exits_2_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "migration.yaml").write_text("migration_id: ../../tmp/x\n")
    result = CliRunner().invoke(app, ["config", "check", str(tmp_path / "migration.yaml")])
    assert result.exit_code == 2
    assert "migration_id: must be 1-64 letters" in result.output


@pytest.mark.parametrize("url", ["http://slack.com/api/", "http://10.0.0.9:8080/api/", "ftp://slack.com/", "slack.com"])
def test_slack_base_url_must_be_https_beyond_loopback(tmp_path: Path, url: str) -> None:
    (line,) = problems(tmp_path, {"slack": {"base_url": url}})
    assert line.startswith("slack.base_url: must be an https URL")


@pytest.mark.parametrize("url", ["https://slack.com/api/", "http://127.0.0.1:9999/api/", "http://localhost:1/api/"])
def test_slack_base_url_https_or_loopback_is_accepted(url: str) -> None:
    assert Settings(slack={"base_url": url}).slack.base_url == url


# -- keyed hashes of secrets --------------------------------------------------------------------------------
def test_the_installation_key_is_private_created_once_and_reused(tmp_path: Path) -> None:
    first = installation_key(tmp_path / "work")
    path = tmp_path / "work" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert installation_key(tmp_path / "work") == first
    assert installation_key(tmp_path / "other") != first  # another installation, another key


def test_digests_change_with_the_value_and_never_contain_it(tmp_path: Path) -> None:
    one = secret_digests(tmp_path, {"HF_TOKEN": "hf_one_value"})
    two = secret_digests(tmp_path, {"HF_TOKEN": "hf_two_value"})
    assert one != two
    assert "hf_one_value" not in str(one)
    assert secret_digests(tmp_path / "none", {"HF_TOKEN": ""}) == {}
    assert not (tmp_path / "none").exists()  # nothing to hash: no key file is made


def test_rotating_a_secret_changes_the_config_hash_but_not_its_text(tmp_path: Path) -> None:
    base = {"workdir": str(tmp_path / "work")}
    one = Settings(**base, vllm={"hf_token": "hf_first_token_value"})
    two = Settings(**base, vllm={"hf_token": "hf_second_token_value"})
    same = Settings(**base, vllm={"hf_token": "hf_first_token_value"})
    assert one.config_hash() == same.config_hash() != two.config_hash()
    password = Settings(**base, store={"url": "postgresql://o2v:pw-one-1@db/o2v"})
    other = Settings(**base, store={"url": "postgresql://o2v:pw-two-2@db/o2v"})
    assert password.config_hash() != other.config_hash()
    assert set(one.secret_digests()) == {"vllm.hf_token"}


def test_the_launch_fingerprint_sees_secret_digests() -> None:
    spec = LaunchSpec(name="v", image="i:1", port=8000, secret_env=["VLLM_API_KEY"])
    rotated = spec.model_copy(update={"secret_digests": {"VLLM_API_KEY": "a" * 32}})
    assert spec.fingerprint() != rotated.fingerprint()


def test_keys_are_compared_in_constant_time_and_exactly() -> None:
    assert same_secret("k-123", "k-123")
    assert not same_secret("k-123", "k-124")
    assert not same_secret(None, "k-123")
    assert bearer_matches("Bearer k-123", "k-123")
    assert not bearer_matches("Bearer k-12", "k-123")
    assert not bearer_matches(None, "k-123")
    assert not bearer_matches("k-123", "k-123")


def test_flow_parameters_refuse_a_path_as_migration_id() -> None:
    from pydantic import ValidationError

    from flows.migrate import MigrateParameters
    from flows.rollback import RollbackParameters

    for model in (MigrateParameters, RollbackParameters):
        with pytest.raises(ValidationError, match="migration_id"):
            model(migration_id="../../tmp/x")
        assert model(migration_id="team-llm_2025.1").migration_id == "team-llm_2025.1"
