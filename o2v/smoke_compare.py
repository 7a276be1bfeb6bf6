"""Compare vLLM's answers with Ollama's: template tokens, language, distance, side by side.

Lengths alone let a wrong model or a broken chat template pass the smoke test. Both servers get the same fixed
prompts at temperature 0, so the same weights should say much the same thing; what is checked, per prompt and
mode (streamed, not streamed):

- **empty**: no text at all (vLLM's answers must have text; an empty Ollama answer is only reported);
- **template tokens**: control tokens of a chat template in the text (``<|eot_id|>``, ``[INST]``, ``<|im_end|>``,
  ``</s>``, ``<start_of_turn>``, ...): the server applied no template or the wrong one, and clients would show
  them to users. A gate failure on vLLM;
- **language**: a different language than Ollama's answer (a wrong model, or a template that drops the user
  turn). Dependency-free heuristic: the dominant Unicode script of the letters (Latin, Cyrillic, Greek, Arabic,
  Hebrew, Devanagari, Thai, Hangul, kana, CJK ideographs) decides first; inside Latin script, the share of
  very common function words of English, German, French, Spanish, Italian, Portuguese and Dutch picks one when at
  least ``MIN_STOPWORD_HITS`` of its words occur and it leads the next language clearly. Answers too short to
  tell decide nothing. A gate failure on vLLM when both answers are decided and differ;
- **far**: word overlap of ``FAR_BELOW`` or less. Similarity is the Dice coefficient of the two answers' bags of
  lower-case words (2 x shared words / all words, counting repeats): 1 for the same words, 0 for none shared.
  Ollama usually serves 4-bit GGUF weights and vLLM 16-bit ones, so at temperature 0 the answers drift apart
  after a few words even for the right model, and two unrelated English answers still share function words
  (on hand-written answers to the smoke prompts: paraphrases 0.29 to 0.94, unrelated answers 0.00 to 0.20;
  tests/unit/test_smoke_compare.py). 0.2 therefore flags only answers that share almost nothing beyond them.
  One far answer is reported, not failed: the gate fails when more than half of the comparisons are far,
  which is what a wrong model looks like. The simulators generate text from (seed, prompt) only, so two
  simulators with the same seed answer identically (similarity 1).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Literal

from pydantic import BaseModel, Field

FAR_BELOW = 0.2
MIN_STOPWORD_HITS = 2
TEMPLATE_TOKENS = (
    "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>", "<|python_tag|>",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>",
    "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "<s>", "</s>", "<start_of_turn>", "<end_of_turn>",
    "<|start|>", "<|message|>", "<|channel|>", "<|return|>", "<｜end▁of▁sentence｜>", "<｜Assistant｜>", "<｜User｜>",
)
_TEMPLATE_RE = re.compile("|".join(re.escape(t) for t in sorted(TEMPLATE_TOKENS, key=len, reverse=True)))
_WORD_RE = re.compile(r"\w+", re.UNICODE)
STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the of and to in is that it for as with was on be by this are at from or an have not".split()),
    "de": frozenset("der die das und ist nicht ein eine zu den mit sich des auf für im dem von sie es auch".split()),
    "fr": frozenset("le la les et est un une des du pour dans que qui pas sur au avec ce il sont ne".split()),
    "es": frozenset("el la los las y es un una que de del en por con para no se su al lo como".split()),
    "it": frozenset("il lo la gli le e è un una che di del della per con non si sono al come".split()),
    "pt": frozenset("o a os as e é um uma que de do da em para com não se no na por são".split()),
    "nl": frozenset("de het een en is van dat die niet te in op voor met zijn er ook aan".split()),
}
_SCRIPT_LANGUAGE = {
    "CYRILLIC": "cyrillic", "GREEK": "el", "ARABIC": "ar", "HEBREW": "he", "DEVANAGARI": "hi", "THAI": "th",
    "HANGUL": "ko", "HIRAGANA": "ja", "KATAKANA": "ja", "CJK": "zh",
}


class AnswerComparison(BaseModel):
    """One prompt in one mode, both answers side by side, and what was flagged about vLLM's."""

    prompt: str
    mode: Literal["stream", "once"]
    ollama_text: str
    vllm_text: str
    similarity: float = Field(..., ge=0, le=1, description="Dice coefficient of the two bags of words.")
    ollama_language: str | None = None
    vllm_language: str | None = None
    flags: list[str] = Field(default_factory=list, description="What is wrong with vLLM's answer, if anything.")
    ollama_flags: list[str] = Field(default_factory=list, description="Oddities of Ollama's answer (not a gate).")

    @property
    def far(self) -> bool:
        return self.similarity <= FAR_BELOW


def template_tokens(text: str) -> list[str]:
    """Chat-template control tokens found in the text, each once, in order of appearance."""
    return list(dict.fromkeys(_TEMPLATE_RE.findall(text)))


def similarity(a: str, b: str) -> float:
    """Dice coefficient of the bags of lower-case words: 1.0 for two empty answers."""
    left, right = Counter(_words(a)), Counter(_words(b))
    total = sum(left.values()) + sum(right.values())
    if total == 0:
        return 1.0
    return round(2 * sum((left & right).values()) / total, 3)


def detect_language(text: str) -> str | None:
    """A language (or script) code, or None when the text is too short or too mixed to tell."""
    scripts: Counter[str] = Counter()
    for ch in _TEMPLATE_RE.sub(" ", text):
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            scripts[next((s for s in _SCRIPT_LANGUAGE if name.startswith(s)), name.split(" ")[0])] += 1
    letters = sum(scripts.values())
    if letters < 3:
        return None
    if scripts["HIRAGANA"] or scripts["KATAKANA"]:  # Japanese mixes kanji with kana; Chinese has no kana
        scripts["KATAKANA"] += scripts.pop("HIRAGANA", 0) + scripts.pop("CJK", 0)
    script, count = scripts.most_common(1)[0]
    if count < 0.6 * letters:
        return None
    if script != "LATIN":
        return _SCRIPT_LANGUAGE.get(script, script.lower())
    hits = {lang: sum(w in words for w in _words(text)) for lang, words in STOPWORDS.items()}
    ranked = sorted(hits.items(), key=lambda item: item[1], reverse=True)
    (best, best_hits), (_, runner_up) = ranked[0], ranked[1]
    if best_hits >= MIN_STOPWORD_HITS and best_hits >= 1.5 * runner_up:
        return best
    return None


def compare(prompt: str, mode: Literal["stream", "once"], ollama_text: str, vllm_text: str) -> AnswerComparison:
    ollama_language, vllm_language = detect_language(ollama_text), detect_language(vllm_text)
    flags: list[str] = []
    ollama_flags: list[str] = []
    for text, found in ((vllm_text, flags), (ollama_text, ollama_flags)):
        if not text.strip():
            found.append("empty answer")
        leaked = template_tokens(text)
        if leaked:
            found.append(f"chat-template tokens in the text: {' '.join(leaked)}")
    if ollama_language and vllm_language and ollama_language != vllm_language:
        flags.append(f"answers in {vllm_language}, Ollama in {ollama_language}")
    score = similarity(ollama_text, vllm_text)
    if score <= FAR_BELOW and ollama_text.strip() and vllm_text.strip():
        flags.append(f"far from Ollama's answer (similarity {score:.2f} <= {FAR_BELOW})")
    return AnswerComparison(
        prompt=prompt, mode=mode, ollama_text=ollama_text, vllm_text=vllm_text, similarity=score,
        ollama_language=ollama_language, vllm_language=vllm_language, flags=flags, ollama_flags=ollama_flags,
    )


def gate_problems(comparisons: list[AnswerComparison]) -> list[str]:
    """What fails the smoke gate: template tokens and language on any answer, distance on most of them."""
    problems = [
        f"{c.mode} '{c.prompt[:30]}': {flag}"
        for c in comparisons
        for flag in c.flags
        if not flag.startswith(("far from", "empty answer"))  # empty is already a call problem
    ]
    far = [c for c in comparisons if c.far and c.ollama_text.strip() and c.vllm_text.strip()]
    if comparisons and len(far) * 2 > len(comparisons):
        problems.append(
            f"{len(far)} of {len(comparisons)} answers are far from Ollama's (similarity <= {FAR_BELOW}): "
            "a different model than Ollama serves? check the models: mapping"
        )
    return problems


def side_by_side_markdown(comparisons: list[AnswerComparison], *, width: int = 160) -> str:
    """The answers as a Markdown table; ``width`` caps each cell (0 = full text, for the report file)."""
    lines = [
        "| prompt | mode | Ollama | vLLM | similarity | language (Ollama/vLLM) | flags |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        flags = "; ".join(c.flags + [f"Ollama: {f}" for f in c.ollama_flags]) or "-"
        lines.append(
            f"| {_cell(c.prompt, 40)} | {c.mode} | {_cell(c.ollama_text, width)} | {_cell(c.vllm_text, width)} | "
            f"{c.similarity:.2f} | {c.ollama_language or '?'}/{c.vllm_language or '?'} | {_cell(flags, 0)} |"
        )
    return "\n".join(lines)


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(_TEMPLATE_RE.sub(" ", text).lower())


def escape_html(text: str) -> str:
    """Leaked template tokens look like HTML tags: a Markdown viewer would hide them. Show them instead."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str, width: int) -> str:
    if width and len(text) > width:
        text = text[: width - 1] + "…"
    text = escape_html(text).replace("|", "\\|")  # a bare | would end the table cell
    return text.replace("\r", "").replace("\n", "<br>") or "(empty)"
