from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from o2v.config import Settings
from o2v.errors import ConfigError
from o2v.loadgen.prompts import BUILTIN_PROMPTS, load_prompts, prompt_sequence
from o2v.loadgen.workload import Workload, workload_from_settings


def test_url_normalised_and_defaults() -> None:
    w = Workload(url=" http://127.0.0.1:8000/v1/ ", model="m")
    assert w.url == "http://127.0.0.1:8000"
    assert w.concurrency == [1, 5, 10, 20, 50]
    assert w.endpoint_path() == "/v1/chat/completions"
    assert Workload(url="http://h:1", model="m", api="ollama").endpoint_path() == "/api/chat"


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"url": "ftp://x"}, "http(s) URL"),
        ({"concurrency": []}, "at least one"),
        ({"concurrency": [0, 5]}, "between 1 and 100000"),
        ({"mode": "rate"}, "needs rate_rps"),
        ({"rate_rps": [0]}, "> 0"),
        ({"prompts": ["  "]}, "non-empty prompt"),
        ({"api": "grpc"}, "openai"),
    ],
)
def test_bad_workloads_say_what_is_wrong(fields: dict, fragment: str) -> None:
    with pytest.raises(ValidationError, match=None) as info:
        Workload.model_validate({"url": "http://h:1", "model": "m", **fields})
    assert fragment in str(info.value)


def test_levels_requests_and_warnings() -> None:
    w = Workload(url="http://h:1", model="m", concurrency=[1, 50], requests_per_level=10)
    assert w.levels() == [(1, None), (50, None)]
    assert w.requests_for(1) == 10
    assert w.requests_for(50) == 50
    assert any("too few for a meaningful p95" in x for x in w.warnings())
    rate = Workload(url="http://h:1", model="m", mode="rate", rate_rps=2.5, max_concurrency=8)
    assert rate.levels() == [(8, 2.5)]
    assert rate.requests_for(8) == 20
    assert rate.warnings() == []


def test_from_settings_takes_the_loadtest_section_and_slos() -> None:
    s = Settings.model_validate({})
    s.loadtest.concurrency = [2, 4]
    w = workload_from_settings(s, url="http://h:1", api="ollama", model="m", backend="ollama")
    assert w.concurrency == [2, 4]
    assert w.max_tokens == s.loadtest.max_tokens
    assert w.slo_ttft_ms == s.thresholds.slo_ttft_ms


def test_prompts_jsonl(tmp_path: Path) -> None:
    good = tmp_path / "p.jsonl"
    good.write_text(
        "\n".join(
            [
                json.dumps({"prompt": "a"}),
                "",
                json.dumps({"text": "b"}),
                json.dumps({"messages": [{"role": "user", "content": "c"}]}),
                json.dumps("d"),
            ]
        ),
        encoding="utf-8",
    )
    assert load_prompts(good) == ["a", "b", "c", "d"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{oops\n{"other": 1}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_prompts(bad)
    assert len(info.value.problems) == 2
    assert "bad.jsonl:2" in info.value.problems[0]
    with pytest.raises(ConfigError, match="cannot be read"):
        load_prompts(tmp_path / "missing.jsonl")


def test_prompt_order_is_seeded() -> None:
    assert prompt_sequence(None, None, 1) == prompt_sequence(None, None, 1)
    assert prompt_sequence(None, None, 1) != prompt_sequence(None, None, 2)
    assert sorted(prompt_sequence(None, None, 3)) == sorted(BUILTIN_PROMPTS)
    assert prompt_sequence(["x", " "], None, 0) == ["x"]
