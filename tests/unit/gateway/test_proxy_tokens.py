"""Output tokens read from the end of a passed-through answer: the last count sent, wherever the pieces split."""

from __future__ import annotations

from o2v.gateway.proxy import tokens_in

SSE_END = (b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":16,"total_tokens":21}}\n\n'
           b"data: [DONE]\n\n")  # fmt: skip
OLLAMA_END = b'{"model":"m","done":true,"done_reason":"stop","eval_count":12,"eval_duration":5}\n'


def test_the_count_in_the_last_piece() -> None:
    assert tokens_in(SSE_END) == 16
    assert tokens_in(OLLAMA_END, b'{"model":"m","message":{"content":"x"},"done":false}\n') == 12


def test_a_count_split_between_the_last_two_pieces() -> None:
    at = SSE_END.index(b"16")
    assert tokens_in(SSE_END[at + 1 :], SSE_END[: at + 1]) == 16
    cut = OLLAMA_END.index(b"eval_count") + 3
    assert tokens_in(OLLAMA_END[cut:], OLLAMA_END[:cut]) == 12


def test_the_last_count_wins_and_a_null_one_falls_back_to_an_earlier_count() -> None:
    assert tokens_in(b'{"eval_count":3}\n{"eval_count":9}\n') == 9
    assert tokens_in(b'{"usage":{"completion_tokens":4}}{"usage":{"completion_tokens":null}}') == 4


def test_no_count() -> None:
    assert tokens_in(b'{"choices":[{"delta":{"content":"eval_count"}}]}', b"") is None
    assert tokens_in(b"") is None


def test_only_the_last_4_kib_are_read() -> None:
    assert tokens_in(b"x" * 5000, b'{"eval_count":3}') is None
    assert tokens_in(b"x" * 4000, b'{"eval_count":3}') == 3
