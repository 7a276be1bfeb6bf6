"""Identity (token, header, address, User-Agent, unnamed), sticky routing, the model map and client seeding."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from o2v.config import load_settings
from o2v.config_sections import ClientDefinition
from o2v.gateway.identity import ClientDirectory, Unauthorized
from o2v.gateway.routing import BUCKETS, ModelMap, bucket, choose_backend
from o2v.gateway.seed import clients_yaml, seed_clients
from o2v.inventory.clients import clients_from_log
from o2v.servers.logs import read_log
from o2v.store_routing import RoutingTable

LOGS = Path(__file__).resolve().parents[2] / "data" / "ollama_logs"
CLIENTS = {
    "lab": ClientDefinition(addresses=["10.0.4.0/24"]),
    "lab-printer": ClientDefinition(addresses=["10.0.4.9"]),
    "ci-bot": ClientDefinition(user_agent=r"^ci-bot/"),
}


def directory(require: bool = False) -> ClientDirectory:
    return ClientDirectory({"notebooks": "key-nb", "ci-bot": "key-ci"}, CLIENTS, require_keys=require)


def test_first_match_wins_in_the_documented_order() -> None:
    d = directory()
    both = d.identify("Bearer key-nb", "header-name", "10.0.4.9", "ci-bot/1.0")
    assert (both.name, both.how) == ("notebooks", "token")
    assert d.identify("bearer key-ci", None, None, None).name == "ci-bot"  # any capitalisation of the scheme
    assert (d.identify(None, "header-name", "10.0.4.9", None).name, d.identify(None, "x", None, None).how) == (
        "header-name", "header",
    )  # fmt: skip
    assert d.identify(None, None, "10.0.4.9", "ci-bot/1").name == "lab-printer"  # the narrowest network wins
    assert d.identify(None, None, "10.0.4.200", None).name == "lab"
    assert d.identify(None, None, "::ffff:10.0.4.1", None).name == "lab"  # IPv4-mapped IPv6
    assert d.identify(None, None, "10.9.9.9", "ci-bot/2.1").name == "ci-bot"
    unnamed = d.identify("Bearer sk-unknown", "bad header!", "10.9.9.9", "curl/8")
    assert (unnamed.name, unnamed.key, unnamed.label, unnamed.named) == ("unnamed", "10.9.9.9", "unnamed:10.9.9.9",
                                                                          False)  # fmt: skip


def test_required_keys_refuse_missing_and_unknown_tokens_only() -> None:
    d = directory(require=True)
    assert d.identify("Bearer key-ci", None, "1.2.3.4", None).name == "ci-bot"
    with pytest.raises(Unauthorized, match="requires a client key"):
        d.identify(None, "ci-bot", "10.0.4.9", None)  # a header is no proof
    with pytest.raises(Unauthorized, match="not one of them"):
        d.identify("Bearer key-c", None, None, None)


def test_unnamed_clients_are_sticky_and_raising_the_share_only_adds_clients() -> None:
    d = directory()
    callers = [d.identify(None, None, f"192.168.{i // 250}.{i % 250}", None) for i in range(2000)]
    on_vllm = []
    for percent in (0, 10, 25, 50, 100):
        table = RoutingTable(version=1, percent=percent)
        chosen = {c.key for c in callers if choose_backend(c, table, vllm_serves_model=True) == "vllm"}
        on_vllm.append(chosen)
        # the same answer every time for the same client: no flapping
        assert chosen == {c.key for c in callers if choose_backend(c, table, vllm_serves_model=True) == "vllm"}
    assert [len(s) for s in (on_vllm[0], on_vllm[-1])] == [0, 2000]
    assert all(earlier <= later for earlier, later in zip(on_vllm, on_vllm[1:], strict=False))
    assert 100 < len(on_vllm[1]) < 300  # about 10% of 2000
    assert bucket("10.0.0.1") == bucket("10.0.0.1")
    assert 0 <= bucket("x") < BUCKETS


def test_named_clients_follow_their_route_and_models_vllm_lacks_stay_on_ollama() -> None:
    d = directory()
    lab = d.identify(None, None, "10.0.4.1", None)
    table = RoutingTable(version=3, percent=100, routes={"lab": "vllm", "ci-bot": "ollama"})
    assert choose_backend(lab, table, vllm_serves_model=True) == "vllm"
    assert choose_backend(lab, table, vllm_serves_model=False) == "ollama"
    ci = d.identify(None, None, "10.9.9.9", "ci-bot/1")
    assert choose_backend(ci, table, vllm_serves_model=True) == "ollama"  # named: the percent is not for it
    other = d.identify(None, "newcomer", None, None)
    assert choose_backend(other, table, vllm_serves_model=True) == "ollama"  # named without a route: Ollama


def test_model_map_uses_served_names_and_latest() -> None:
    models = ModelMap({"llama3.1:8b": "team-llm", "qwen2.5:latest": "qwen"})
    assert not models.known
    assert models.vllm_serves("llama3.1:8b") is False
    models.update(["team-llm", "qwen", "mistral:7b"])
    assert (models.to_vllm("llama3.1:8b"), models.to_vllm("qwen2.5"), models.to_vllm("mistral:7b")) == (
        "team-llm", "qwen", "mistral:7b",
    )  # fmt: skip
    assert models.vllm_serves("qwen2.5")
    assert models.vllm_serves("mistral:7b")
    assert not models.vllm_serves("nomic-embed-text")
    assert models.vllm_serves(None)  # no model in the request: the client's route decides
    assert models.aliases == {"team-llm": "llama3.1:8b", "qwen": "qwen2.5:latest"}


def test_clients_are_seeded_from_the_access_log_of_a_real_ollama(tmp_path: Path) -> None:
    activity = clients_from_log(read_log(LOGS / "docker_v0_9.log"))
    clients = seed_clients(activity, {"office": ClientDefinition(addresses=["10.0.0.0/24"])})
    assert clients["office"].addresses == ["10.0.0.0/24"]  # 10.0.0.12 and .13 are already the office's
    assert "client-10-0-0-12" not in clients
    assert clients["client-127-0-0-1"].addresses == ["127.0.0.1"]
    assert clients["client-2001-db8-85a3-8a2e-370-7334"].addresses == ["2001:db8:85a3::8a2e:370:7334"]
    assert {"client-172-17-0-5", "client-1"} <= set(clients)
    # the seeded block loads as configuration, and the gateway identifies callers by it
    config = tmp_path / "migration.yaml"
    config.write_text(clients_yaml(clients), encoding="utf-8")
    settings = load_settings(config)
    d = ClientDirectory({}, settings.cutover.clients)
    assert d.identify(None, None, "172.17.0.5", None).name == "client-172-17-0-5"
    assert d.identify(None, None, "10.0.0.13", None).name == "office"
    assert yaml.safe_load(config.read_text())["cutover"]["clients"]["office"] == {"addresses": ["10.0.0.0/24"]}


def test_client_rules_are_checked_when_the_config_loads(tmp_path: Path) -> None:
    from o2v.errors import ConfigError

    config = tmp_path / "migration.yaml"
    config.write_text("cutover:\n  clients:\n    bad: {addresses: [10.0.0.300]}\n    worse: {user_agent: '('}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    text = "\n".join(caught.value.problems)
    assert "10.0.0.300" in text
    assert "regular expression" in text


def test_the_cli_refuses_a_malformed_route_flag() -> None:
    from typer.testing import CliRunner

    from o2v.cli import app

    result = CliRunner().invoke(app, ["gateway", "--route", "ci-bot=gpu"])
    assert result.exit_code == 2
    assert "expected CLIENT=ollama or CLIENT=vllm, got" in result.output
    assert "'ci-bot=gpu'" in result.output
    result = CliRunner().invoke(app, ["gateway", "--percent", "150"])
    assert result.exit_code == 2
