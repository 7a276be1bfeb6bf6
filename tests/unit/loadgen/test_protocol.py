from __future__ import annotations

import json

import pytest

from o2v.loadgen.protocol import NDJSONParser, Record, SSEParser, build_body, error_text


def sse(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def content(text: str) -> bytes:
    return sse({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})


def test_sse_counts_content_chunks_not_the_role_chunk_and_reads_usage() -> None:
    record = Record(level=0, intended_s=0.0)
    parser = SSEParser(record)
    parser.feed(sse({"choices": [{"delta": {"role": "assistant", "content": ""}}]}), 1.0)
    parser.feed(content("Hel") + content("lo"), 2.0)
    parser.feed(sse({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 7}}), 3.0)
    parser.feed(b"data: [DONE]\n\n", 3.5)
    assert record.first_token_s == 2.0
    assert record.token_times == [2.0, 2.0]
    assert record.usage_tokens == 7
    assert record.done
    assert record.ok


def test_sse_event_split_across_reads_is_timed_when_complete() -> None:
    record = Record(level=0, intended_s=0.0)
    parser = SSEParser(record)
    raw = content("a")
    parser.feed(raw[:10], 1.0)
    assert record.token_times == []
    parser.feed(raw[10:], 2.0)
    parser.feed(b": keep-alive comment\n\nevent: x\n", 2.5)
    assert record.token_times == [2.0]
    assert not record.done


def test_sse_error_event_after_stream_began_is_a_stream_error() -> None:
    record = Record(level=0, intended_s=0.0)
    parser = SSEParser(record)
    parser.feed(content("a") + sse({"error": {"message": "engine died", "type": "InternalServerError"}}), 1.0)
    parser.feed(content("ignored after the error"), 2.0)
    assert record.error_kind == "stream_error"
    assert "engine died" in record.error_message
    assert len(record.token_times) == 1


def test_sse_legacy_flat_error_and_garbage() -> None:
    flat = Record(level=0, intended_s=0.0)
    SSEParser(flat).feed(sse({"object": "error", "message": "bad", "type": "BadRequestError"}), 1.0)
    assert flat.error_kind == "stream_error"
    assert flat.error_message == "bad"
    garbage = Record(level=0, intended_s=0.0)
    SSEParser(garbage).feed(b"data: {not json\n\n", 1.0)
    assert garbage.error_kind == "bad_response"


def test_ndjson_tokens_final_eval_count_and_unterminated_last_line() -> None:
    record = Record(level=0, intended_s=0.0)
    parser = NDJSONParser(record)
    line = json.dumps({"message": {"role": "assistant", "content": "hi"}, "done": False}).encode() + b"\n"
    parser.feed(line + line[:5], 1.0)
    parser.feed(line[5:], 2.0)
    parser.feed(json.dumps({"message": {"content": ""}, "done": True, "eval_count": 9}).encode(), 3.0)
    assert record.token_times == [1.0, 2.0]
    assert not record.done
    parser.finish(3.0)
    assert record.done
    assert record.usage_tokens == 9


def test_ndjson_generate_response_field_and_error_line() -> None:
    record = Record(level=0, intended_s=0.0)
    parser = NDJSONParser(record)
    parser.feed(json.dumps({"response": "x", "done": False}).encode() + b"\n", 1.0)
    parser.feed(b'{"error":"model runner has unexpectedly stopped"}\n', 2.0)
    assert record.token_times == [1.0]
    assert record.error_kind == "stream_error"
    assert "unexpectedly stopped" in record.error_message


@pytest.mark.parametrize("api", ["openai", "ollama"])
def test_build_body_asks_for_streaming_and_token_limits(api: str) -> None:
    body = json.loads(build_body(api, "m", "hi", max_tokens=5, temperature=0.5, top_p=0.9, ignore_eos=True))
    assert body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    if api == "openai":
        assert body["max_tokens"] == 5
        assert body["stream_options"] == {"include_usage": True}
        assert body["ignore_eos"] is True
    else:
        assert body["options"] == {"num_predict": 5, "temperature": 0.5, "top_p": 0.9}


def test_error_text_reads_every_error_shape() -> None:
    assert error_text(b'{"error":{"message":"The model `x` does not exist.","type":"NotFoundError"}}') == (
        "The model `x` does not exist."
    )
    assert error_text(b'{"error":"model \'x\' not found"}') == "model 'x' not found"
    assert error_text(b'{"object":"error","message":"flat"}') == "flat"
    assert error_text(b"<html>bad gateway</html>") == "<html>bad gateway</html>"
    assert error_text(b"") == "(empty body)"


def test_sse_whole_stream_in_one_read_and_json_with_spaces() -> None:
    record = Record(level=0, intended_s=0.0)
    whole = (
        sse({"choices": [{"delta": {"role": "assistant", "content": ""}}]})
        + content("a")
        + content('"quoted"')
        + b'data: {"choices": [{"delta": {"content": "spaced"}}]}\n\n'
        + sse({"choices": [{"delta": {}, "finish_reason": "length"}]})
        + sse({"choices": [], "usage": {"completion_tokens": 3}})
        + b"data: [DONE]\n\n"
    )
    SSEParser(record).feed(whole, 5.0)
    assert record.token_times == [5.0, 5.0, 5.0]
    assert record.usage_tokens == 3
    assert record.done


def test_sse_fast_path_counts_a_read_of_pure_content_deltas() -> None:
    record = Record(level=0, intended_s=0.0)
    parser = SSEParser(record)
    parser.feed(content("x") * 5 + content("")[:-2], 1.0)
    parser.feed(b"\n\n" + content("y"), 2.0)
    assert record.token_times == [1.0] * 5 + [2.0]
    assert record.first_token_s == 1.0
