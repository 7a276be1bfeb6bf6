"""Smoke phase against the two simulators: passes on healthy servers, lists every problem on a broken vLLM."""

from __future__ import annotations

import httpx
import pytest

from o2v.errors import GateFailed
from o2v.simulate.process import SimulatorProcess
from o2v.smoke import smoke_test

FAST = ["--ttft-ms", "5", "--itl-ms", "2"]
OLLAMA_MODEL = "llama3.1:8b"
VLLM_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct"


@pytest.fixture(scope="module")
def servers():
    with SimulatorProcess("ollama", args=FAST) as ollama, SimulatorProcess("vllm", args=FAST) as vllm:
        yield ollama, vllm


def test_healthy_servers_pass_and_are_compared(servers) -> None:
    ollama, vllm = servers
    result = smoke_test(ollama.url, OLLAMA_MODEL, vllm.url, VLLM_MODEL, prompts=("Say hi.",), max_tokens=8)
    assert [(c.backend, c.mode, c.ok) for c in result.calls] == [
        ("ollama", "stream", True), ("ollama", "once", True), ("vllm", "stream", True), ("vllm", "once", True),
    ]
    streamed = [c for c in result.calls if c.mode == "stream"]
    assert all(c.chunks == 8 and c.completion_tokens == 8 for c in streamed)
    assert all(c.stream_spread_ms is not None and c.stream_spread_ms > 5 for c in streamed)
    assert "| vllm | stream |" in result.to_markdown()


def test_failing_vllm_is_a_gate_with_every_problem(servers) -> None:
    ollama, vllm = servers
    httpx.post(f"{vllm.url}/_sim/faults", json={"error_rate": 1.0, "error_status": 500}).raise_for_status()
    try:
        with pytest.raises(GateFailed) as failed:
            smoke_test(ollama.url, OLLAMA_MODEL, vllm.url, VLLM_MODEL, prompts=("a", "b"), max_tokens=4)
    finally:
        httpx.post(f"{vllm.url}/_sim/faults", json={"reset": True}).raise_for_status()
    assert len(failed.value.violations) == 4  # two prompts x (stream, once)
    assert all("500" in v for v in failed.value.violations)


def test_unknown_vllm_model_is_reported(servers) -> None:
    ollama, vllm = servers
    with pytest.raises(GateFailed, match="does not exist"):
        smoke_test(ollama.url, OLLAMA_MODEL, vllm.url, "no/such-model", prompts=("a",), max_tokens=4)


def test_answers_are_kept_compared_and_written_side_by_side(servers, tmp_path) -> None:
    ollama, vllm = servers
    result = smoke_test(
        ollama.url, OLLAMA_MODEL, vllm.url, VLLM_MODEL, prompts=("Say hi.", "List primes."), max_tokens=8,
        report_dir=tmp_path / "smoke",
    )
    # The simulators answer from (seed, prompt) only: same seed, same prompt, the same words on both.
    assert len(result.comparisons) == 4
    assert all(c.similarity == 1.0 and c.flags == [] and c.vllm_text for c in result.comparisons)
    assert all(c.text for c in result.calls)
    answers = (tmp_path / "smoke" / "answers.md").read_text()
    assert "No vLLM problems." in answers
    assert result.comparisons[0].vllm_text.strip()[:20] in answers
    assert "| prompt | mode | Ollama | vLLM | similarity |" in result.to_markdown()


@pytest.mark.parametrize(
    ("text", "expected", "shown"),
    [
        ("Hello platform team!<|eot_id|><|start_header_id|>assistant<|end_header_id|>",
         "chat-template tokens in the text: <|eot_id|> <|start_header_id|> <|end_header_id|>",
         "team!&lt;\\|eot_id\\|&gt;"),
        ("[INST] Say hello to the platform team [/INST] Hello team </s>",
         "chat-template tokens in the text: [INST] [/INST] </s>", "[/INST] Hello team &lt;/s&gt;"),
        ("Hallo Team, das ist eine kurze Antwort und sie ist nicht von dem richtigen Modell.",
         "answers in de, Ollama in en", "| en/de |"),
    ],
)
def test_a_broken_template_or_another_language_fails_the_gate(servers, tmp_path, text, expected, shown) -> None:
    from support.crafted_openai import crafted_server

    ollama, _ = servers
    with crafted_server(text) as url, pytest.raises(GateFailed) as failed:
        smoke_test(ollama.url, OLLAMA_MODEL, url, "crafted", prompts=("Say hello.",), max_tokens=24,
                   report_dir=tmp_path / "smoke")
    assert any(expected in v for v in failed.value.violations)
    assert "answers side by side: " in failed.value.violations[-1]
    report = (tmp_path / "smoke" / "answers.md").read_text()
    assert shown in report
