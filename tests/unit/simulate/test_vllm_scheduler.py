"""The vLLM simulator's scheduler, cache sizing and request checks, as plain functions (no server, no clock)."""

from __future__ import annotations

import argparse

import pytest

from o2v.simulate.__main__ import build_parser
from o2v.simulate.common import Stats, Timing
from o2v.simulate.openai_fmt import BadRequest, parse_request
from o2v.simulate.vllm_engine import Engine, Seq
from o2v.simulate.vllm_kv import KVCacheTooSmall, size_kv_cache
from o2v.simulate.vllm_metrics import Metrics
from o2v.simulate.vllm_validate import apply_stream_options, check_context, current_wording, version_tuple


def _engine(num_blocks: int, **kwargs: int) -> Engine:
    return Engine(Timing(itl_ms=0.0, ttft_ms=0.0), max_num_seqs=kwargs.pop("max_num_seqs", 256), batch_cost=0.0,
                  batch_exponent=1.0, num_blocks=num_blocks, metrics=Metrics("m"), stats=Stats(), **kwargs)  # fmt: skip


def _seq(prompt: int, output: int) -> Seq:
    return Seq(prompt_tokens=prompt, ids=[0] * output, finish_reason="length", arrival=0.0)


def _step(engine: Engine) -> None:
    engine._advance(engine.schedule(1.0).scheduled, 1.0)


def test_the_newest_running_sequence_is_preempted_to_the_head_of_the_queue() -> None:
    engine = _engine(num_blocks=4)
    older, newer, later = _seq(30, 30), _seq(30, 30), _seq(10, 5)  # 30 + 30 tokens fill the 4 blocks
    engine.add(older)
    engine.add(newer)
    _step(engine)  # both prompts fit: 2 blocks each, the cache is full
    assert engine.running == [older, newer]
    assert engine.free_blocks == 0
    assert (older.ready, newer.ready) == (1, 1)
    _step(engine)  # tokens 31 and 32 still fit in each sequence's second block
    _step(engine)
    engine.add(later)
    _step(engine)  # token 33 needs a third block for the older one: the newer one gives its blocks back
    assert engine.metrics.preemptions == 1
    assert engine.running == [older]
    assert list(engine.waiting) == [newer, later]  # back at the HEAD, ahead of a later arrival
    assert (newer.computed, newer.blocks, newer.ready) == (0, 0, 3)  # output kept, cache dropped
    for _ in range(50):
        _step(engine)
        if newer in engine.running:
            break
    assert older.done
    # Readmitted with a full recompute of prompt and output so far, as one prefill.
    assert newer.computed == 30 + newer.ready - 1
    assert engine.metrics.prompt_tokens == 30 + 30 + (30 + 3) + 10  # the later one joins in the same step


def test_a_waiting_request_joins_only_when_its_prompt_blocks_are_free() -> None:
    engine = _engine(num_blocks=8)
    first, second, third = _seq(64, 4), _seq(80, 4), _seq(16, 4)
    for seq in (first, second, third):
        engine.add(seq)
    _step(engine)
    # 4 blocks for the first prompt; the second needs 5 of the 4 left, and the third (1 block) would fit
    # but waits behind it: vLLM's queue is first come, first served.
    assert engine.running == [first]
    assert list(engine.waiting) == [second, third]
    while not first.done:
        _step(engine)
    _step(engine)
    assert engine.running == [second, third]
    assert engine.metrics.preemptions == 0


def test_the_token_budget_chunks_a_long_prefill() -> None:
    engine = _engine(num_blocks=100, max_num_batched_tokens=256)
    seq = _seq(600, 2)
    engine.add(seq)
    _step(engine)
    assert (seq.computed, seq.ready, seq.blocks) == (256, 0, 16)
    _step(engine)
    _step(engine)
    assert (seq.computed, seq.ready) == (600, 1)


def test_max_num_seqs_still_limits_the_batch() -> None:
    engine = _engine(num_blocks=1000, max_num_seqs=2)
    for _ in range(3):
        engine.add(_seq(10, 3))
    _step(engine)
    assert (len(engine.running), len(engine.waiting)) == (2, 1)


def _args(*flags: str) -> argparse.Namespace:
    return build_parser().parse_args(["vllm", *flags])


def test_cache_size_follows_memory_utilization_dtype_and_tensor_parallelism() -> None:
    base = size_kv_cache(_args("--gpu-memory-gib", "80", "--gpu-memory-utilization", "0.9"))
    assert base.num_blocks == int((72 - 16.5) * 1024**3) // (16 * 131072)
    assert base.tokens == base.num_blocks * 16
    fp8 = size_kv_cache(_args("--gpu-memory-gib", "80", "--kv-cache-dtype", "fp8"))
    assert fp8.num_blocks == pytest.approx(2 * base.num_blocks, abs=1)
    tp2 = size_kv_cache(_args("--gpu-memory-gib", "80", "--tensor-parallel-size", "2"))
    assert tp2.num_blocks > 2 * base.num_blocks  # half the heads per GPU and half the weights
    override = size_kv_cache(_args("--gpu-memory-gib", "80", "--num-gpu-blocks-override", "100"))
    assert override.num_blocks == 100
    assert size_kv_cache(_args("--kv-cache-tokens", "1000", "--max-model-len", "512")).num_blocks == 62


def test_no_memory_left_for_the_cache() -> None:
    with pytest.raises(KVCacheTooSmall, match=r"^No available memory for the cache blocks\. Try increasing"):
        size_kv_cache(_args("--gpu-memory-gib", "16", "--gpu-memory-utilization", "0.9"))


def test_versions_choose_the_wording() -> None:
    assert version_tuple("v0.16.0rc1.dev5+g123") == (0, 16, 0)
    assert version_tuple("0.10.1.1") == (0, 10, 1, 1)
    assert current_wording("0.16.0", legacy_errors=False)
    assert not current_wording("0.15.1", legacy_errors=False)
    assert not current_wording("0.20.0", legacy_errors=True)


@pytest.mark.parametrize(
    ("prompt", "max_tokens", "param", "start"),
    [
        (100, None, "input_tokens", "You passed 65 input tokens and requested 0 output tokens."),
        (50, 20, "input_tokens", "You passed 45 input tokens and requested 20 output tokens."),
        (1, 65, "max_tokens", "max_tokens=65 cannot be greater than max_model_len=64."),
        (64, None, "max_tokens", "max_tokens must be at least 1, got 0."),
    ],
)
def test_current_length_errors(prompt: int, max_tokens: int | None, param: str, start: str) -> None:
    with pytest.raises(BadRequest) as info:
        check_context(64, prompt, max_tokens, current=True)
    assert info.value.message.startswith(start)
    assert info.value.param == param


def test_what_fits_gets_the_rest_of_the_context() -> None:
    assert check_context(64, 40, None, current=True) == 24
    assert check_context(64, 40, 24, current=True) == 24
    assert check_context(64, 40, None, current=False) == 24


def test_stream_options_default_to_usage() -> None:
    body: dict[str, object] = {"prompt": "x", "stream": True, "stream_options": {"continuous_usage_stats": True}}
    req = parse_request(body, chat=False)
    apply_stream_options(req, body)
    assert (req.include_usage, req.continuous_usage) == (True, True)
    body["stream_options"] = {"include_usage": False, "continuous_usage_stats": True}
    apply_stream_options(req, body)
    assert (req.include_usage, req.continuous_usage) == (False, False)
