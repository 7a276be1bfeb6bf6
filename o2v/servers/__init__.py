"""Clients for the servers being migrated (Ollama, OpenAI-compatible) and Ollama's log parser.

Every phase talks to servers through two small interfaces, ``OllamaClient`` and ``OpenAIClient`` (plus
their asyncio twins), so it runs unchanged against real servers, the simulators in processes, or the
simulators in containers. Errors are o2v.errors types: ServerUnreachable, ServerTimeout,
StreamInterrupted, ServerHTTPError(status, server_message) and ServerStreamError (an error object inside
a started stream).

Names are imported lazily so that ``o2v.servers.logs`` (used by light tools) does not pull in httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from o2v.servers.metrics import Histogram, VLLMMetrics, parse_vllm_metrics
    from o2v.servers.ollama_client import AsyncOllamaClient, OllamaClient
    from o2v.servers.openai_client import AsyncOpenAIClient, OpenAIClient
    from o2v.servers.streams import AsyncStream, StreamResult, SyncStream
    from o2v.servers.timing import StreamTiming, TimingRecorder

_EXPORTS = {
    "Histogram": "metrics",
    "VLLMMetrics": "metrics",
    "parse_vllm_metrics": "metrics",
    "OllamaClient": "ollama_client",
    "AsyncOllamaClient": "ollama_client",
    "OpenAIClient": "openai_client",
    "AsyncOpenAIClient": "openai_client",
    "AsyncStream": "streams",
    "StreamResult": "streams",
    "SyncStream": "streams",
    "StreamTiming": "timing",
    "TimingRecorder": "timing",
}

__all__ = [
    "AsyncOllamaClient",
    "AsyncOpenAIClient",
    "AsyncStream",
    "Histogram",
    "OllamaClient",
    "OpenAIClient",
    "StreamResult",
    "StreamTiming",
    "SyncStream",
    "TimingRecorder",
    "VLLMMetrics",
    "parse_vllm_metrics",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'o2v.servers' has no attribute {name!r}")
    return getattr(importlib.import_module(f"o2v.servers.{module}"), name)
