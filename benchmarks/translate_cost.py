"""CPU cost of the native-API translation per request and per streamed chunk (one core, no network).

The gateway's budget is under 1 ms of added median TTFT at 64 streams; this isolates the translation's part of
it: ``translate_chat`` once per request, ``NativeStream.feed`` once per SSE event, ``finish`` once per stream.
The events are the vLLM simulator's own chunks, parsed once beforehand (the gateway parses them anyway).

    .venv/bin/python benchmarks/translate_cost.py --tokens 256 --repeat 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from o2v.gateway.translate import NativeStream, translate_chat  # noqa: E402
from o2v.simulate.common import VOCAB  # noqa: E402
from o2v.simulate.openai_fmt import OpenAIStream, OpenAIStyle, parse_request  # noqa: E402

REQUEST = {
    "model": "llama3.1:8b",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Summarise the plot of Hamlet in three sentences."},
    ],
    "options": {"temperature": 0.7, "top_k": 40, "top_p": 0.9, "num_ctx": 8192, "num_predict": 256},
    "keep_alive": "10m",
}


def vllm_events(tokens: int) -> list[dict[str, Any]]:
    body = {
        "model": "served",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": REQUEST["messages"],
    }
    out = OpenAIStream(OpenAIStyle("vllm"), parse_request(body, chat=True), "served")
    data = (
        (out.first() or b"")
        + b"".join(out.token(i % (len(VOCAB) - 3)) for i in range(tokens))
        + out.finish("stop", tokens)
    )
    blocks = [b.removeprefix("data: ").strip() for b in data.decode().split("\n\n")]
    return [json.loads(b) for b in blocks if b and b != "[DONE]"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "translate_cost.json")
    args = parser.parse_args()
    events = vllm_events(args.tokens)
    request_ns, chunk_ns, finish_ns = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter_ns()
        translate_chat(REQUEST, "meta-llama/Llama-3.1-8B-Instruct")
        t1 = time.perf_counter_ns()
        stream = NativeStream("chat", "llama3.1:8b")
        for event in events:
            stream.feed(event)
        t2 = time.perf_counter_ns()
        stream.finish()
        t3 = time.perf_counter_ns()
        request_ns.append(t1 - t0)
        chunk_ns.append((t2 - t1) / len(events))
        finish_ns.append(t3 - t2)
    result = {
        "python": sys.version.split()[0],
        "tokens_per_stream": args.tokens,
        "streams": args.repeat,
        "translate_chat_us_median": round(statistics.median(request_ns) / 1000, 2),
        "feed_us_per_chunk_median": round(statistics.median(chunk_ns) / 1000, 2),
        "feed_us_per_chunk_p95": round(sorted(chunk_ns)[int(0.95 * len(chunk_ns))] / 1000, 2),
        "finish_us_median": round(statistics.median(finish_ns) / 1000, 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
