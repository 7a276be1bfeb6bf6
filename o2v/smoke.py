"""Smoke test: the same prompts to Ollama and to vLLM, compared before any load is sent.

Each prompt goes to both endpoints as a chat, once streamed and once not. A pass needs, on vLLM: a non-empty
answer, a normal finish reason (stop or length), usage figures, and a stream that really arrives in several
chunks spread over time (a buffering proxy or a server that returns everything at the end fails this).
Ollama is asked the same so that differences between the two are listed side by side; Ollama's own oddities
are reported but never fail the phase, since Ollama is what the team already runs.

Both answers are kept and compared (``o2v.smoke_compare``): chat-template tokens in vLLM's text, another
language than Ollama's, or answers far from Ollama's on most prompts fail the gate too, since lengths alone
let a wrong model or a broken chat template pass. The answers go side by side into the report
(``answers.md``/``answers.json`` under ``report_dir``) and into the phase's artifact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from o2v.errors import GateFailed, ServerError
from o2v.servers.ollama_client import OllamaClient
from o2v.servers.ollama_types import ChatResponse
from o2v.servers.openai_client import OpenAIClient
from o2v.servers.openai_types import ChatCompletion
from o2v.servers.streams import StreamResult
from o2v.servers.timing import StreamTiming
from o2v.smoke_compare import AnswerComparison, compare, escape_html, gate_problems, side_by_side_markdown
from o2v.store import utcnow

SMOKE_PROMPTS = (
    "Say hello to the platform team in one short sentence.",
    "List three prime numbers.",
    "Explain in two sentences what a KV cache is.",
)
NORMAL_FINISH = {"stop", "length"}
MAX_KEPT_CHARS = 4000  # answers are capped at max_tokens anyway; this bounds a runaway one in the ledger


class SmokeCall(BaseModel):
    backend: Literal["ollama", "vllm"]
    mode: Literal["stream", "once"]
    prompt: str
    ok: bool
    text: str = Field("", description="The answer (first MAX_KEPT_CHARS characters).")
    text_chars: int = 0
    finish_reason: str | None = None
    completion_tokens: int | None = None
    chunks: int = 0
    ttft_ms: float | None = None
    stream_spread_ms: float | None = Field(None, description="First to last text chunk; ~0 means buffered.")
    problems: list[str] = Field(default_factory=list)


class SmokeResult(BaseModel):
    ollama_model: str
    vllm_model: str
    calls: list[SmokeCall]
    differences: list[str]
    comparisons: list[AnswerComparison] = Field(default_factory=list, description="Both answers, side by side.")
    report_files: dict[str, str] = Field(default_factory=dict)

    @property
    def vllm_problems(self) -> list[str]:
        calls = [f"{c.mode} '{c.prompt[:30]}': {p}" for c in self.calls if c.backend == "vllm" for p in c.problems]
        return calls + gate_problems(self.comparisons)

    def write_reports(self, report_dir: Path) -> dict[str, str]:
        """``answers.md`` (full answers side by side) and ``answers.json``; return their paths."""
        report_dir.mkdir(parents=True, exist_ok=True)
        markdown, data = report_dir / "answers.md", report_dir / "answers.json"
        header = f"# Smoke test answers: Ollama `{self.ollama_model}` vs vLLM `{self.vllm_model}`\n\n"
        problems = self.vllm_problems
        listed = "\n".join(f"- {escape_html(p)}" for p in problems)
        verdict = f"**vLLM problems:**\n\n{listed}" if problems else "No vLLM problems."
        body = side_by_side_markdown(self.comparisons, width=0)
        markdown.write_text(f"{header}{verdict}\n\n{body}\n", encoding="utf-8")
        data.write_text(json.dumps(self.model_dump(mode="json"), indent=2), encoding="utf-8")
        self.report_files = {"markdown": str(markdown), "json": str(data)}
        return self.report_files

    def to_markdown(self) -> str:
        lines = [
            f"Ollama `{self.ollama_model}` vs vLLM `{self.vllm_model}`",
            "",
            "| backend | mode | prompt | ok | chars | finish | tokens | chunks | TTFT ms | stream spread ms |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in self.calls:
            lines.append(
                f"| {c.backend} | {c.mode} | {c.prompt[:28]} | {'yes' if c.ok else 'NO'} | {c.text_chars} | "
                f"{c.finish_reason} | {c.completion_tokens} | {c.chunks} | {_ms(c.ttft_ms)} | "
                f"{_ms(c.stream_spread_ms)} |"
            )
        lines += ["", "**Answers side by side** (temperature 0)", "", side_by_side_markdown(self.comparisons)]
        lines += ["", "**Differences**", ""] + [f"- {d}" for d in self.differences or ["none"]]
        lines += [f"- {kind}: `{path}`" for kind, path in sorted(self.report_files.items())]
        return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def smoke_test(
    ollama_url: str,
    ollama_model: str,
    vllm_url: str,
    vllm_model: str,
    *,
    api_key: str | None = None,
    max_tokens: int = 32,
    timeout_s: float = 120.0,
    prompts: tuple[str, ...] = SMOKE_PROMPTS,
    report_dir: Path | None = None,
) -> SmokeResult:
    """Run the smoke prompts; raise GateFailed listing every vLLM problem, else return the comparison.

    With ``report_dir`` the side-by-side answers are written there first, pass or fail.
    """
    calls: list[SmokeCall] = []
    with OllamaClient(ollama_url, timeout_s=timeout_s) as ollama, OpenAIClient(
        vllm_url, api_key=api_key, timeout_s=timeout_s
    ) as vllm:
        for prompt in prompts:
            calls += _ask_both(ollama, ollama_model, vllm, vllm_model, prompt, max_tokens)
    result = SmokeResult(
        ollama_model=ollama_model, vllm_model=vllm_model, calls=calls, differences=_differences(calls),
        comparisons=_comparisons(calls),
    )
    if report_dir is not None:
        result.write_reports(report_dir)
    problems = result.vllm_problems
    if problems:
        where = f" (answers side by side: {result.report_files['markdown']})" if result.report_files else ""
        raise GateFailed("smoke test", [*problems[:-1], problems[-1] + where])
    return result


def _comparisons(calls: list[SmokeCall]) -> list[AnswerComparison]:
    by_key = {(c.backend, c.mode, c.prompt): c for c in calls}
    found = []
    for (backend, mode, prompt), call in by_key.items():
        other = by_key.get(("ollama", mode, prompt))
        if backend == "vllm" and other is not None:
            found.append(compare(prompt, mode, other.text, call.text))
    return found


def _ask_both(
    ollama: OllamaClient, ollama_model: str, vllm: OpenAIClient, vllm_model: str, prompt: str, max_tokens: int
) -> list[SmokeCall]:
    messages = [{"role": "user", "content": prompt}]
    options = {"num_predict": max_tokens, "temperature": 0}
    sampling: dict[str, Any] = {"max_tokens": max_tokens, "temperature": 0}
    return [
        _run("ollama", "stream", prompt, lambda: _collect(ollama.stream_chat(ollama_model, messages, options=options))),
        _run("ollama", "once", prompt, lambda: _from_ollama(ollama.chat(ollama_model, messages, options=options))),
        _run("vllm", "stream", prompt, lambda: _collect(vllm.stream_chat(vllm_model, messages, **sampling))),
        _run("vllm", "once", prompt, lambda: _from_openai(vllm.chat(vllm_model, messages, **sampling))),
    ]


def _collect(stream: Any) -> StreamResult:
    with stream as opened:
        return opened.collect()  # type: ignore[no-any-return]


def _from_ollama(response: ChatResponse) -> StreamResult:
    return StreamResult(
        text=response.message.content, finish_reason=response.done_reason, prompt_tokens=response.prompt_eval_count,
        completion_tokens=response.eval_count, timing=StreamTiming(sent_at=utcnow()),
    )


def _from_openai(response: ChatCompletion) -> StreamResult:
    usage = response.usage
    return StreamResult(
        text=response.text, finish_reason=response.choices[0].finish_reason if response.choices else None,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None, timing=StreamTiming(sent_at=utcnow()),
    )


def _differences(calls: list[SmokeCall]) -> list[str]:
    """What a client would notice when moving from Ollama to vLLM, prompt by prompt."""
    found = []
    by_key = {(c.backend, c.mode, c.prompt): c for c in calls}
    for (backend, mode, prompt), call in by_key.items():
        if backend != "vllm":
            continue
        other = by_key.get(("ollama", mode, prompt))
        if other is None:
            continue
        if other.finish_reason != call.finish_reason:
            found.append(
                f"{mode} '{prompt[:30]}': finish reason ollama={other.finish_reason} vllm={call.finish_reason}"
            )
        if other.ok != call.ok:
            found.append(f"{mode} '{prompt[:30]}': ollama {'ok' if other.ok else 'failed'}, "
                         f"vllm {'ok' if call.ok else 'failed'}")
        if other.ttft_ms is not None and call.ttft_ms is not None:
            found.append(f"{mode} '{prompt[:30]}': TTFT ollama {other.ttft_ms:.0f} ms, vllm {call.ttft_ms:.0f} ms")
    for call in calls:
        if call.backend == "ollama" and call.problems:
            found.append(f"ollama {call.mode} '{call.prompt[:30]}' (not a gate): {'; '.join(call.problems)}")
    return found


def _run(
    backend: Literal["ollama", "vllm"], mode: Literal["stream", "once"], prompt: str, call: Callable[[], StreamResult]
) -> SmokeCall:
    try:
        outcome: StreamResult = call()
    except ServerError as exc:
        return SmokeCall(backend=backend, mode=mode, prompt=prompt, ok=False, problems=[str(exc)])
    problems = []
    if not outcome.text.strip():
        problems.append("empty answer")
    if outcome.finish_reason not in NORMAL_FINISH:
        problems.append(f"finish reason {outcome.finish_reason!r}, expected stop or length")
    if outcome.completion_tokens is None:
        problems.append("no token usage reported")
    spread_ms = None
    ttft_ms = None
    if mode == "stream":
        timing = outcome.timing
        if timing.first_token_s is not None:
            ttft_ms = timing.first_token_s * 1000
        if len(timing.chunk_s) >= 2:
            spread_ms = (timing.chunk_s[-1] - timing.chunk_s[0]) * 1000
        if outcome.chunks < 2:
            problems.append(f"stream arrived in {outcome.chunks} chunk(s), expected several")
        elif spread_ms is not None and spread_ms <= 0.5:
            problems.append(f"all {outcome.chunks} chunks arrived within {spread_ms:.2f} ms: the stream is buffered")
    return SmokeCall(
        backend=backend, mode=mode, prompt=prompt, ok=not problems, text=outcome.text[:MAX_KEPT_CHARS],
        text_chars=len(outcome.text),
        finish_reason=outcome.finish_reason, completion_tokens=outcome.completion_tokens, chunks=outcome.chunks,
        ttft_ms=ttft_ms, stream_spread_ms=spread_ms, problems=problems,
    )
