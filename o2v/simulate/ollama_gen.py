"""One Ollama generation, from the scheduler to the last NDJSON (or SSE) line.

Timing per request: ``ttft_ms + prompt_tokens * prompt_token_ms`` (+ injected latency) of prefill after a
slot is granted, then one token every ``itl_ms`` times the runner's slowdown: the slots of one model share
one runner's compute (``ollama_sched.SLOT_SPEEDUP``), so with one slot five simultaneous requests finish at
1x..5x the single latency, and with two slots the steps halve less than twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from o2v.simulate.catalog import CatalogModel
from o2v.simulate.common import VOCAB, VOCAB_JSON, dumps, generate_token_ids, json_response, sleep_until
from o2v.simulate.ollama_sched import QueueFull, Runner
from o2v.simulate.ollama_sse import OllamaStream
from o2v.simulate.ollama_state import OllamaSim
from o2v.simulate.openai_fmt import BadRequest

BUSY = "server busy, please try again.  maximum pending requests exceeded"


@dataclass
class GenerationRequest:
    api: str  # "generate" | "chat" | "openai_chat" | "openai_completion"
    model: CatalogModel
    stream: bool
    prompt_text: str
    prompt_tokens: int
    num_predict: int | None
    seed: object
    keep_alive_s: float | None
    openai: OllamaStream | None = None
    model_name: str = ""
    num_ctx: int | None = None  # options.num_ctx; None = the server's default (an "automatic" context)


def _error(sim: OllamaSim, gen: GenerationRequest, status: int, message: str) -> web.Response:
    if gen.openai is not None:
        return json_response(sim.style.error_body(BadRequest(message, status=status)), status=status)
    return json_response({"error": message}, status=status)


class _Native:
    """Byte templates for native NDJSON lines of one request."""

    def __init__(self, gen: GenerationRequest) -> None:
        name = dumps(gen.model_name or gen.model.name)
        self.head = '{"model":' + name + ',"created_at":"'
        if gen.api == "chat":
            self.mid = '","message":{"role":"assistant","content":"'
            self.tail = '"},"done":false}\n'
        else:
            self.mid = '","response":"'
            self.tail = '","done":false}\n'

    def line(self, created_at: str, idx: int) -> bytes:
        return (self.head + created_at + self.mid + VOCAB_JSON[idx] + self.tail).encode()


def final_object(
    gen: GenerationRequest,
    created_at: str,
    content: str,
    reason: str,
    metrics: dict[str, int],
    context: list[int] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"model": gen.model_name or gen.model.name, "created_at": created_at}
    if gen.api == "chat":
        out["message"] = {"role": "assistant", "content": content}
    else:
        out["response"] = content
    out["done_reason"] = reason
    out["done"] = True
    if context is not None:
        out["context"] = context
    out.update(metrics)
    return out


async def generate(request: web.Request, sim: OllamaSim, gen: GenerationRequest) -> web.StreamResponse:
    state = sim.state
    loop = asyncio.get_running_loop()
    t_arrival = loop.time()
    state.stats.requests_total += 1
    if state.roll_error():
        state.stats.finish(state.faults.error_status)
        return _error(sim, gen, state.faults.error_status, "simulated server error (fault injection)")
    state.stats.waiting += 1
    waiting = True
    runner: Runner | None = None
    slot = False
    try:
        try:
            runner, load_s = await sim.sched.get_runner(gen.model, gen.keep_alive_s, gen.num_ctx)
        except QueueFull:
            state.stats.finish(503)
            return _error(sim, gen, 503, BUSY)
        try:
            await runner.sem.acquire()
        except asyncio.CancelledError:
            what = "chat" if gen.api in ("chat", "openai_chat") else "completion"
            sim.logs.app("INFO", "server.go:1155", f"aborting {what} request due to client closing the connection")
            raise
        slot = True
        sim.sched.slot_taken(runner)
        state.stats.waiting -= 1
        waiting = False
        state.stats.active += 1
        state.stats.max_active = max(state.stats.max_active, state.stats.active)
        return await _run(request, sim, gen, runner, load_s, t_arrival)
    except asyncio.CancelledError:
        if waiting:
            state.stats.finish(499)
        raise
    finally:
        if waiting:
            state.stats.waiting -= 1
        elif slot:
            state.stats.active -= 1
        if slot and runner is not None:
            sim.sched.slot_freed(runner)
            runner.sem.release()
        if runner is not None:
            sim.sched.release(runner)


async def _run(
    request: web.Request,
    sim: OllamaSim,
    gen: GenerationRequest,
    runner: Runner,
    load_s: float,
    t_arrival: float,
) -> web.StreamResponse:
    state, timing, faults = sim.state, sim.state.timing, sim.state.faults
    loop = asyncio.get_running_loop()
    prompt_tokens = min(gen.prompt_tokens, runner.num_ctx)  # Ollama truncates silently
    limit = gen.num_predict if gen.num_predict is not None and gen.num_predict >= 0 else None
    ids, reason = generate_token_ids(state.answer_seed(gen.seed, gen.prompt_text), timing.response_tokens, limit)
    t_start = loop.time()
    prefill_s = (timing.ttft_ms + prompt_tokens * timing.prompt_token_ms + faults.added_latency_ms) / 1000.0
    itl_s = timing.itl_ms / 1000.0
    t_first = t_start + prefill_s
    stall_s = faults.stall_ms / 1000.0
    cut_after = faults.disconnect_after_chunks
    request["status"] = 200

    def metrics(t_end: float) -> dict[str, int]:
        return {
            "total_duration": int((t_end - t_arrival) * 1e9),
            "load_duration": int(load_s * 1e9),
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": int(prefill_s * 1e9),
            "eval_count": len(ids),
            "eval_duration": int(max(0.0, t_end - t_first) * 1e9),
        }

    if not gen.stream:
        await sleep_until(t_first)
        t_last = await _decode(runner, t_first, len(ids) - 1, itl_s) if itl_s else t_first
        await sleep_until(t_last + stall_s)
        state.stats.tokens_generated += len(ids)
        state.stats.finish(200)
        text = "".join(VOCAB[i] for i in ids)
        if gen.openai is not None:
            return json_response(gen.openai.whole(text, reason, len(ids)))
        ctx = list(range(prompt_tokens + len(ids))) if gen.api == "generate" else None
        return json_response(final_object(gen, state.clock.rfc3339_nano(), text, reason, metrics(loop.time()), ctx))

    resp = web.StreamResponse(status=200)
    resp.content_type = "text/event-stream" if gen.openai is not None else "application/x-ndjson"
    await resp.prepare(request)
    native = _Native(gen) if gen.openai is None else None
    clock = state.clock
    stats = state.stats
    openai = gen.openai
    t_next = t_first
    await sleep_until(t_first)
    for n, idx in enumerate(ids):
        if n and (itl_s or stall_s):
            t_next += itl_s * runner.slowdown  # the step slows while other slots of the runner generate
            await sleep_until(t_next + stall_s)  # the stall falls after the first chunk
        if cut_after is not None and n >= cut_after:
            stats.finish(200)
            if request.transport is not None:
                request.transport.abort()
            return resp
        if native is not None:
            await resp.write(native.line(clock.rfc3339_nano(), idx))
        elif n:
            assert openai is not None
            await resp.write(openai.token(idx, prompt_tokens, n + 1))
        else:
            assert openai is not None
            await resp.write(openai.opening(idx, prompt_tokens))
        stats.chunks_sent += 1
        stats.tokens_generated += 1
    if native is not None:
        ctx = list(range(prompt_tokens + len(ids))) if gen.api == "generate" else None
        final = final_object(gen, clock.rfc3339_nano(), "", reason, metrics(loop.time()), ctx)
        await resp.write(dumps(final).encode() + b"\n")
    else:
        assert gen.openai is not None
        await resp.write(gen.openai.finish(reason, len(ids)))
    await resp.write_eof()
    stats.finish(200)
    return resp


async def _decode(runner: Runner, t_first: float, steps: int, itl_s: float) -> float:
    """Sleep through ``steps`` decode steps of a non-streamed answer; returns the loop time of the last one.

    The runner's slowdown is re-read every 16 steps, so slots that start or finish meanwhile change the
    pace as they would per token, at a sixteenth of the timer wake-ups.
    """
    t = t_first
    while steps > 0:
        batch = min(steps, 16)
        t += batch * itl_s * runner.slowdown
        steps -= batch
        await sleep_until(t)
    return t


def load_only_response(sim: OllamaSim, gen: GenerationRequest, reason: str) -> web.Response:
    created = sim.state.clock.rfc3339_nano()
    out = final_object(gen, created, "", reason, {})
    return json_response(out)


async def load_or_unload(request: web.Request, sim: OllamaSim, gen: GenerationRequest) -> web.Response:
    """Empty prompt / messages: load the model (or unload it with ``keep_alive: 0``), generate nothing."""
    sim.state.stats.requests_total += 1
    if gen.keep_alive_s == 0:
        sim.sched.unload(gen.model)
        sim.state.stats.finish(200)
        return load_only_response(sim, gen, "unload")
    try:
        runner, _ = await sim.sched.get_runner(gen.model, gen.keep_alive_s, gen.num_ctx)
    except QueueFull:
        sim.state.stats.finish(503)
        return _error(sim, gen, 503, BUSY)
    sim.sched.release(runner)
    sim.state.stats.finish(200)
    return load_only_response(sim, gen, "load")
