"""Stragglers from Ollama's access log (gin lines as Ollama and its simulator write them), routes, counters."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from o2v.decommission.models import Blockers
from o2v.decommission.stragglers import collect_blockers, find_stragglers, is_gateway, routing_blockers
from o2v.servers.logs import parse_lines
from o2v.simulate.ollama_logs import OllamaLogs
from o2v.store_routing import RoutingTable

GATEWAY = ["172.18.0.5", "127.0.0.1"]


def _log(calls: list[tuple[str, str, str, int]]) -> list[object]:
    out = io.StringIO()
    logs = OllamaLogs(out=out, err=io.StringIO())
    for ip, method, path, status in calls:
        logs.access(status, 0.25, ip, method, path)
    return list(parse_lines(out.getvalue().splitlines()))


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=1), now + timedelta(minutes=1)


def test_direct_callers_are_named_by_address_path_and_count() -> None:
    since, until = _window()
    records = _log([
        ("172.18.0.5", "POST", "/api/chat", 200),  # the gateway
        ("10.1.2.3", "POST", "/api/generate", 200),
        ("10.1.2.3", "POST", "/api/generate", 500),
        ("10.1.2.3", "POST", "/v1/chat/completions?x=1", 200),
        ("10.9.9.9", "GET", "/api/version", 200),  # a health probe uses no model
        ("127.0.0.1", "POST", "/api/embed", 200),  # the gateway's loopback
    ])  # fmt: skip
    found = find_stragglers(records, since=since, until=until, gateway=GATEWAY, models=["llama3.1:8b"])
    assert [(s.address, s.method, s.path, s.requests) for s in found] == [
        ("10.1.2.3", "POST", "/api/generate", 2),
        ("10.1.2.3", "POST", "/v1/chat/completions", 1),
    ]
    sentence = found[0].sentence()
    assert "10.1.2.3" in sentence
    assert "2 x POST /api/generate" in sentence
    assert "llama3.1:8b" in sentence


def test_requests_outside_the_window_do_not_count() -> None:
    now = datetime.now(UTC)
    records = _log([("10.1.2.3", "POST", "/api/chat", 200)])
    found = find_stragglers(records, since=now + timedelta(minutes=5), until=now + timedelta(minutes=9),
                            gateway=GATEWAY, models=[])  # fmt: skip
    assert found == []


def test_gateway_networks_match_cidr_and_ipv6() -> None:
    assert is_gateway("172.18.0.77", ["172.18.0.0/16"])
    assert is_gateway("::1", ["::1"])
    assert not is_gateway("172.19.0.1", ["172.18.0.0/16"])
    assert not is_gateway("not-an-ip", ["0.0.0.0/0"])


def test_routes_left_on_ollama_block() -> None:
    table = RoutingTable(version=7, percent=75, routes={"ci-bot": "vllm", "notebooks": "ollama"})
    assert routing_blockers(table) == (["notebooks"], 25.0)
    assert routing_blockers(RoutingTable(version=8, percent=100, routes={"ci-bot": "vllm"})) == ([], 0.0)


def test_every_blocker_is_listed_at_once() -> None:
    since, until = _window()
    blockers = collect_blockers(
        _log([("10.1.2.3", "POST", "/api/chat", 200)]),
        RoutingTable(version=3, percent=100, routes={"notebooks": "ollama"}),
        {"notebooks": {"mirostat": 4, "num_gpu": 0}, "ci-bot": {}},
        since=since, until=until, gateway=GATEWAY, models=[],
        unreadable=["the gateway's counters could not be read"],
    )  # fmt: skip
    assert blockers.any
    reasons = blockers.reasons()
    assert reasons[0].startswith("10.1.2.3 called Ollama directly: 1 x POST /api/chat (model: not logged)")
    assert "still routed to Ollama by the gateway: notebooks" in reasons
    assert "notebooks uses native options vLLM cannot honour: mirostat x4" in reasons
    assert reasons[-1] == "the gateway's counters could not be read"
    assert blockers.unhonoured_options == {"notebooks": {"mirostat": 4}}


def test_nothing_blocks_when_everything_went_through_the_gateway() -> None:
    since, until = _window()
    blockers = collect_blockers(
        _log([("172.18.0.5", "POST", "/api/chat", 200)]), RoutingTable(version=9, percent=100, routes={"a": "vllm"}),
        {}, since=since, until=until, gateway=GATEWAY, models=[],
    )  # fmt: skip
    assert blockers == Blockers()
    assert not blockers.any
