"""Clients nobody here wrote: the official ``ollama`` Python client and the official ``openai`` SDK work
against the simulators as they do against the real servers (list, show, chat, stream, errors)."""

from __future__ import annotations

import ollama
import openai
import pytest

from o2v.simulate.process import SimulatorProcess

from .sims import API_KEY, OLLAMA_MODEL, VLLM_MAX_LEN, VLLM_MODEL, Target, faults

MSGS = [{"role": "user", "content": "Tell me about GPUs."}]


# --- ollama-python against the Ollama simulator -------------------------------------------------------


def test_ollama_sdk_list_show_ps(ollama_sim: SimulatorProcess) -> None:
    client = ollama.Client(host=ollama_sim.url, timeout=10)
    listed = client.list()
    shown = client.show(OLLAMA_MODEL)
    assert [m.model for m in listed.models] == [OLLAMA_MODEL]
    assert listed.models[0].details is not None
    assert listed.models[0].details.quantization_level == "Q4_K_M"
    assert listed.models[0].size is not None
    assert listed.models[0].size > 0
    assert shown.modelinfo is not None
    assert shown.modelinfo["general.architecture"] == "llama"
    assert shown.details is not None
    assert shown.details.family == "llama"
    client.generate(model=OLLAMA_MODEL, prompt="", keep_alive="1m")  # load
    assert [m.model for m in client.ps().models] == [OLLAMA_MODEL]


def test_ollama_sdk_chat_and_stream(ollama_sim: SimulatorProcess) -> None:
    client = ollama.Client(host=ollama_sim.url, timeout=10)
    answer = client.chat(model=OLLAMA_MODEL, messages=MSGS, options={"num_predict": 4, "seed": 9})
    parts = list(client.chat(model=OLLAMA_MODEL, messages=MSGS, stream=True, options={"num_predict": 4, "seed": 9}))
    generated = client.generate(model=OLLAMA_MODEL, prompt="hi", options={"num_predict": 3})
    assert answer.message.role == "assistant"
    assert answer.message.content
    assert answer.eval_count == 4
    assert answer.done_reason == "length"
    assert parts[-1].done
    assert parts[-1].eval_count == 4
    assert "".join(p.message.content or "" for p in parts) == answer.message.content
    assert generated.response
    assert generated.eval_count == 3


def test_ollama_sdk_errors(ollama_sim: SimulatorProcess) -> None:
    client = ollama.Client(host=ollama_sim.url, timeout=10)
    with pytest.raises(ollama.ResponseError) as missing:
        client.chat(model="nope:1b", messages=MSGS)
    with pytest.raises(ollama.ResponseError) as missing_stream:
        list(client.chat(model="nope:1b", messages=MSGS, stream=True))
    assert (missing.value.status_code, missing.value.error) == (404, "model 'nope:1b' not found")
    assert missing_stream.value.status_code == 404
    with faults(ollama_sim.url, error_rate=1.0, error_status=500), pytest.raises(ollama.ResponseError) as boom:
        client.generate(model=OLLAMA_MODEL, prompt="x")
    assert boom.value.status_code == 500


# --- openai SDK against vLLM and Ollama's /v1 ---------------------------------------------------------


def _sdk(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=10)


def test_openai_sdk_models(target: Target) -> None:
    models = _sdk(target.url).models.list().data
    assert [m.id for m in models] == [target.model]
    if target.max_model_len is not None:
        assert getattr(models[0], "max_model_len", None) == target.max_model_len


def test_openai_sdk_chat_and_stream_with_usage(target: Target) -> None:
    sdk = _sdk(target.url)
    answer = sdk.chat.completions.create(model=target.model, messages=MSGS, max_tokens=4, seed=5)  # type: ignore[arg-type]
    stream = sdk.chat.completions.create(
        model=target.model,
        messages=MSGS,  # type: ignore[arg-type]
        max_tokens=4,
        seed=5,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert answer.choices[0].message.content
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 4
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4
    assert text == answer.choices[0].message.content


def test_openai_sdk_completions(target: Target) -> None:
    answer = _sdk(target.url).completions.create(model=target.model, prompt="Once", max_tokens=3)
    assert answer.choices[0].text
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 3


def test_openai_sdk_unknown_model(target: Target) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        _sdk(target.url).chat.completions.create(model="no-such-model", messages=MSGS)  # type: ignore[arg-type]
    assert info.value.status_code == 404
    assert "no-such-model" in info.value.message


def test_openai_sdk_vllm_context_length_and_auth(vllm_sim: SimulatorProcess, vllm_auth_sim: SimulatorProcess) -> None:
    long = [{"role": "user", "content": "word " * (VLLM_MAX_LEN + 10)}]
    with pytest.raises(openai.BadRequestError) as too_long:
        _sdk(vllm_sim.url).chat.completions.create(model=VLLM_MODEL, messages=long, max_tokens=2)  # type: ignore[arg-type]
    assert f"the model's context length is only {VLLM_MAX_LEN} tokens" in too_long.value.message
    assert too_long.value.param == "input_tokens"
    with pytest.raises(openai.AuthenticationError):
        _sdk(vllm_auth_sim.url, key="wrong").models.list()
    assert [m.id for m in _sdk(vllm_auth_sim.url, key=API_KEY).models.list().data] == ["team-llm"]
