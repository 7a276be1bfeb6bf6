"""The answer checks of the smoke test on crafted texts: template tokens, language, distance, the table."""

from __future__ import annotations

import re

import pytest

from o2v.smoke_compare import (
    FAR_BELOW,
    compare,
    detect_language,
    gate_problems,
    side_by_side_markdown,
    similarity,
    template_tokens,
)

OLLAMA = "A KV cache stores the keys and values of earlier tokens, so the model does not compute them again."


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The team is moving the model server to vLLM, and it is faster for the users.", "en"),
        ("Das Team zieht den Server um, und es ist nicht langsamer für die Nutzer.", "de"),
        ("L'équipe déplace le serveur et les utilisateurs sont contents pour le moment.", "fr"),
        ("El equipo mueve el servidor y los usuarios no notan la diferencia con el anterior.", "es"),
        ("Команда переносит сервер на новую машину.", "cyrillic"),
        ("团队正在迁移模型服务器。", "zh"),
        ("チームはサーバーを移行しています。", "ja"),
        ("팀이 서버를 옮기고 있습니다.", "ko"),
        ("2, 3, 5", None),  # too few letters to tell
        ("vLLM Ollama GPU", None),  # letters, but no function words of any language
    ],
)
def test_language_heuristic(text: str, language: str | None) -> None:
    assert detect_language(text) == language


def test_template_tokens_are_found_once_each_in_order() -> None:
    text = "Hi!<|im_end|>\n<|im_start|>assistant\nHi again<|im_end|><start_of_turn>model <|end|>"
    assert template_tokens(text) == ["<|im_end|>", "<|im_start|>", "<start_of_turn>", "<|end|>"]
    assert template_tokens("Use a <b>bold</b> word and x < y.") == []


def test_similarity_is_word_overlap() -> None:
    assert similarity(OLLAMA, OLLAMA) == 1.0
    assert similarity("", "") == 1.0
    assert similarity(OLLAMA, "") == 0.0
    assert similarity("two three five", "Two, three and five.") == pytest.approx(2 * 3 / 7, abs=0.001)
    # The same model at other precision drifts after a few words but stays well above the threshold ...
    drifted = "A KV cache stores the keys and values computed for earlier tokens so they are reused later."
    assert similarity(OLLAMA, drifted) > 0.5
    # ... an unrelated answer shares little beyond function words.
    assert similarity(OLLAMA, "Bonjour! Voici trois nombres premiers : 2, 3, 5.") < FAR_BELOW


def test_one_far_answer_is_reported_most_far_answers_fail() -> None:
    near = compare("Explain", "once", OLLAMA, OLLAMA)
    far = compare("Explain", "stream", OLLAMA, "Sure. Paris is the capital of France; it has many museums.")
    assert near.flags == []
    assert far.flags == [f"far from Ollama's answer (similarity {far.similarity:.2f} <= {FAR_BELOW})"]
    assert gate_problems([near, near, far]) == []
    (problem,) = gate_problems([near, far, far])
    assert problem.startswith("2 of 3 answers are far from Ollama's")


def test_template_tokens_and_language_fail_even_once_empty_ollama_only_reported() -> None:
    leaked = compare("Hi", "once", OLLAMA, "A KV cache stores keys.<|eot_id|>")
    german = compare("Hi", "once", OLLAMA, "Ein KV cache speichert die keys und values der früheren tokens, gut.")
    ollama_empty = compare("Hi", "once", "", OLLAMA)
    assert gate_problems([leaked]) == ["once 'Hi': chat-template tokens in the text: <|eot_id|>"]
    assert gate_problems([german]) == ["once 'Hi': answers in de, Ollama in en"]
    assert ollama_empty.flags == []
    assert ollama_empty.ollama_flags == ["empty answer"]
    assert gate_problems([ollama_empty]) == []


def test_side_by_side_table_shows_tokens_and_keeps_its_shape() -> None:
    row = compare("What | why", "stream", "line one\nline two", "answer<|im_end|>")
    table = side_by_side_markdown([row])
    assert "What \\| why" in table
    assert "line one<br>line two" in table
    assert "answer&lt;\\|im_end\\|&gt;" in table
    assert {len(re.findall(r"(?<!\\)\|", line)) for line in table.splitlines()} == {8}  # 7 columns on every row
    short = side_by_side_markdown([compare("p", "once", "x" * 500, "y")], width=20)
    assert "x" * 19 + "…" in short


SAME_ANSWER_REWORDED = [
    ("Hello, platform team! Hope your deployments are going smoothly today.",
     "Hi platform team, wishing you a great day and smooth deployments!"),
    ("Here are three prime numbers: 2, 3, and 5.", "Three prime numbers are 2, 3 and 5."),
    ("A KV cache stores the key and value tensors of tokens already processed, so the model does not recompute them "
     "for every new token. This makes generation faster at the cost of GPU memory.",
     "A KV cache keeps the attention keys and values computed for earlier tokens so that each new token only needs "
     "its own computation, trading GPU memory for speed."),
]
UNRELATED = [
    "The capital of France is Paris, which is known for the Eiffel Tower and its museums.",
    "Photosynthesis is the process by which plants turn light into chemical energy.",
    "I am sorry, but I cannot help with that request.",
]


def test_the_threshold_separates_reworded_answers_from_unrelated_ones() -> None:
    """The figures quoted in docs/migrate.md: reworded 0.29 to 0.94, unrelated 0.00 to 0.20."""
    reworded = [similarity(a, b) for a, b in SAME_ANSWER_REWORDED]
    unrelated = [similarity(a, u) for a, _ in SAME_ANSWER_REWORDED for u in UNRELATED]
    assert (min(reworded), max(reworded)) == (0.286, 0.941)
    assert (min(unrelated), max(unrelated)) == (0.0, 0.2)
    assert min(reworded) > FAR_BELOW >= max(unrelated)  # far means <= FAR_BELOW
