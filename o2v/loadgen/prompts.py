"""Prompts the load generator sends: a built-in set that looks like a team's daily use, or a JSONL file.

The built-in prompts vary in length and task (code, summaries, questions) so that prompt processing is not
the same for every request; the order is shuffled with the workload's seed so two runs send the same sequence.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from o2v.errors import ConfigError

BUILTIN_PROMPTS: tuple[str, ...] = (
    "Write a haiku about distributed systems.",
    "Explain the difference between a process and a thread in three sentences.",
    "Write a Python function that checks whether a string is a palindrome, with a docstring and two tests.",
    "Summarise the main causes of the 2008 financial crisis for a software engineer in five bullet points.",
    "What is a KV cache in a transformer model, and why does it grow with the context length?",
    "Translate into French: 'The deployment finished without errors, but latency doubled at peak hours.'",
    "Review this SQL for problems: SELECT * FROM orders o JOIN users u ON u.id = o.user_id WHERE "
    "u.email LIKE '%@example.com' ORDER BY o.created_at;",
    "Give me a regular expression that matches ISO 8601 dates (YYYY-MM-DD) and explain each part.",
    "Draft a short, friendly Slack message telling the team that the shared LLM server moves on Monday.",
    "List five ways to reduce the cold-start time of a Docker container running a Python web service.",
    "Explain continuous batching in LLM serving to a product manager, without jargon.",
    "Write a bash one-liner that prints the ten largest files under the current directory.",
    "What are the trade-offs between GGUF 4-bit quantization and AWQ for serving a 7B model on one GPU?",
    "Refactor this into idiomatic Python: result = []\nfor i in range(len(xs)):\n    if xs[i] % 2 == 0:\n"
    "        result.append(xs[i] * xs[i])",
    "Describe how TCP's slow start works and when it hurts short HTTP requests.",
    "Write a unit test in pytest for a function add(a, b) that must reject non-numbers with TypeError.",
    "Propose three names for an internal tool that migrates LLM serving, with one-line pitches.",
    "Explain what p95 latency means and why it matters more than the average for a shared service.",
    "Write a Dockerfile for a minimal FastAPI app using python:3.12-slim, running as a non-root user.",
    "Summarise the plot of Moby-Dick in exactly three sentences.",
    "What does the HTTP status 503 mean, and how should a client retry when it receives one?",
    'Convert this JSON to YAML: {"service": "vllm", "ports": [8000], "gpu": {"count": 1}}',
    "Give a step-by-step plan to find why a PostgreSQL query became slow after a data import.",
    "Write a limerick about a GPU that ran out of memory.",
)


def load_prompts(path: Path) -> list[str]:
    """Read prompts from JSONL: one object per line with 'prompt' (or 'text', or chat 'messages')."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError([f"prompts file {path}: cannot be read: {exc}"], str(path)) from exc
    prompts: list[str] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f'{path}:{number}: not valid JSON ({exc.msg}); expected {{"prompt": "..."}}')
            continue
        text = _prompt_text(item)
        if text is None:
            problems.append(f"{path}:{number}: expected an object with a non-empty 'prompt', 'text' or 'messages'")
            continue
        prompts.append(text)
    if problems:
        raise ConfigError(problems[:20], str(path))
    if not prompts:
        raise ConfigError([f"prompts file {path}: holds no prompts; expected one JSON object per line"], str(path))
    return prompts


def _prompt_text(item: object) -> str | None:
    if isinstance(item, str):
        return item if item.strip() else None
    if not isinstance(item, dict):
        return None
    for key in ("prompt", "text"):
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value
    messages = item.get("messages")
    if isinstance(messages, list):
        user = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        texts = [t for t in user if isinstance(t, str) and t.strip()]
        if texts:
            return texts[-1]
    return None


def prompt_sequence(prompts: list[str] | None, prompts_file: Path | None, seed: int) -> list[str]:
    """The prompts of a run in the order they are sent (cycled by the runner)."""
    chosen = list(prompts) if prompts else load_prompts(prompts_file) if prompts_file else list(BUILTIN_PROMPTS)
    chosen = [p for p in chosen if p.strip()]
    random.Random(seed).shuffle(chosen)
    return chosen
