"""The vLLM simulator: ``vllm serve``'s OpenAI-compatible server over the batching engine.

Like vLLM, the port opens only after the model "loaded" (``--load-s``), ``/v1/*`` needs the bearer key when
``--api-key`` (or ``$VLLM_API_KEY``) is set, requests beyond the batch wait (never 503), and uvicorn's
access lines plus the periodic engine stats line go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web

from o2v.errors import ConfigError
from o2v.simulate.common import (
    EXTRA_STATS,
    STATE,
    VOCAB,
    SimState,
    add_admin_routes,
    dumps,
    generate_token_ids,
    json_response,
    timing_from_args,
)
from o2v.simulate.openai_fmt import BadRequest, OpenAIStream, parse_request
from o2v.simulate.vllm_engine import Engine, Seq
from o2v.simulate.vllm_http import auth_and_access_log
from o2v.simulate.vllm_kv import KVCacheSize, KVCacheTooSmall, size_kv_cache
from o2v.simulate.vllm_metrics import Metrics
from o2v.simulate.vllm_routes import add_info_routes
from o2v.simulate.vllm_sim import SIM, VLLM_VERSION, VLLMConfig, VLLMSim, log
from o2v.simulate.vllm_validate import apply_stream_options, check_context

ERROR_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    404: "NotFoundError",
    429: "RateLimitError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}


def error(sim: VLLMSim, exc: BadRequest) -> web.Response:
    return json_response(sim.style.error_body(exc), exc.status)


async def _completion(request: web.Request, chat: bool) -> web.StreamResponse:
    sim = request.app[SIM]
    state, engine = sim.state, sim.engine
    loop = asyncio.get_running_loop()
    arrival = loop.time()
    state.stats.requests_total += 1
    try:
        try:
            body = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadRequest(
                f"[{{'type': 'json_invalid', 'loc': ('body', 0), 'msg': 'JSON decode error', "
                f"'ctx': {{'error': '{getattr(exc, 'msg', 'invalid')}'}}}}]"
            ) from exc
        req = parse_request(body, chat)
        apply_stream_options(req, body)
        if req.model and req.model not in sim.cfg.served:
            raise BadRequest(
                f"The model `{req.model}` does not exist.",
                status=404,
                err_type="NotFoundError",
                param="model",
            )
        max_tokens = check_context(sim.cfg.max_model_len, req.prompt_tokens, req.max_tokens, current=sim.current)
        if state.roll_error():
            status = state.faults.error_status
            raise BadRequest(
                "simulated engine error (fault injection)",
                status=status,
                err_type=ERROR_TYPES.get(status, "InternalServerError"),
            )
    except BadRequest as exc:
        state.stats.finish(exc.status)
        return error(sim, exc)
    faults = state.faults
    ids, reason = generate_token_ids(
        state.answer_seed(req.seed, req.prompt_text), state.timing.response_tokens, max_tokens
    )
    fmt = OpenAIStream(sim.style, req, sim.cfg.served[0])
    if faults.added_latency_ms:
        await asyncio.sleep(faults.added_latency_ms / 1000.0)
    seq = Seq(prompt_tokens=req.prompt_tokens, ids=ids, finish_reason=reason, arrival=arrival)
    stats = state.stats
    stats.active += 1
    stats.max_active = max(stats.max_active, stats.active)
    engine.add(seq)
    try:
        if not req.stream:
            while not seq.done:
                seq.waiter = loop.create_future()
                await seq.waiter
            if faults.stall_ms:
                await asyncio.sleep(faults.stall_ms / 1000.0)
            stats.finish(200)
            text = "".join(VOCAB[i] for i in ids)
            return json_response(fmt.whole(text, reason, len(ids)))
        return await _stream(request, sim, seq, fmt)
    finally:
        stats.active -= 1
        engine.abort(seq)


async def _stream(request: web.Request, sim: VLLMSim, seq: Seq, fmt: OpenAIStream) -> web.StreamResponse:
    stats, faults = sim.state.stats, sim.state.faults
    loop = asyncio.get_running_loop()
    resp = web.StreamResponse(status=200)
    resp.content_type = "text/event-stream"
    await resp.prepare(request)
    # vLLM sends the role chunk on the engine's first output, so it leaves with the first token
    opening = fmt.first() or b""
    cut_after = faults.disconnect_after_chunks
    stall_s = faults.stall_ms / 1000.0
    sent, ids, n = 0, seq.ids, len(seq.ids)
    write = resp.write
    while sent < n:
        if sent == seq.ready:
            seq.waiter = loop.create_future()
            await seq.waiter
            continue
        if cut_after is not None and sent >= cut_after:
            stats.finish(200)
            if request.transport is not None:
                request.transport.abort()
            return resp
        upto = seq.ready if cut_after is None else min(seq.ready, cut_after)
        if stall_s and sent == 0:
            upto = 1
        # Tokens that became ready together leave in one write: still one SSE event each.
        if upto - sent == 1:
            await write(opening + fmt.token(ids[sent], seq.prompt_tokens, upto))
        else:
            events = b"".join(fmt.token(ids[i], seq.prompt_tokens, i + 1) for i in range(sent, upto))
            await write(opening + events)
        opening = b""
        stats.chunks_sent += upto - sent
        sent = upto
        if sent == 1 and stall_s:
            await asyncio.sleep(stall_s)
    await resp.write_eof(opening + fmt.finish(seq.finish_reason, n))  # the last events and the end, one write
    stats.finish(200)
    return resp


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _completion(request, chat=True)


async def completions(request: web.Request) -> web.StreamResponse:
    return await _completion(request, chat=False)


def build_app(sim: VLLMSim) -> web.Application:
    app = web.Application(middlewares=[auth_and_access_log(sim.cfg.api_keys)], client_max_size=64 * 1024 * 1024)
    app[SIM] = sim
    app[STATE] = sim.state
    app[EXTRA_STATS] = lambda: {
        "running": len(sim.engine.running),
        "waiting": len(sim.engine.waiting),
        "engine_steps": sim.engine.steps,
        "max_running": sim.engine.max_running,
        "kv_blocks_total": sim.engine.num_blocks,
        "kv_blocks_free": sim.engine.free_blocks,
        "preemptions": sim.metrics.preemptions,
    }
    add_admin_routes(app, sim.state)
    add_info_routes(app, sim)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)

    async def stats_logger() -> None:
        m = sim.metrics
        last_p, last_g = 0, 0
        while True:
            await asyncio.sleep(10.0)
            if m.prompt_tokens == last_p and m.generation_tokens == last_g and not m.running and not m.waiting:
                continue
            log(
                f"Engine 000: Avg prompt throughput: {(m.prompt_tokens - last_p) / 10:.1f} tokens/s, "
                f"Avg generation throughput: {(m.generation_tokens - last_g) / 10:.1f} tokens/s, "
                f"Running: {m.running} reqs, Waiting: {m.waiting} reqs, "
                f"GPU KV cache usage: {m.kv_usage * 100:.1f}%, "
                "Prefix cache hit rate: 0.0%",
                source="loggers.py:123",
            )
            last_p, last_g = m.prompt_tokens, m.generation_tokens

    tasks: list[asyncio.Task[None]] = []

    async def on_startup(app: web.Application) -> None:
        sim.engine.start()
        tasks.append(asyncio.get_running_loop().create_task(stats_logger()))

    async def on_cleanup(app: web.Application) -> None:
        await sim.engine.stop()
        for task in tasks:
            task.cancel()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def make_sim(args: argparse.Namespace, kv: KVCacheSize) -> VLLMSim:
    model = args.model_tag or args.model
    served = args.served_model_name or [model]
    env_key = os.environ.get("VLLM_API_KEY")
    timing = timing_from_args(
        args.ttft_ms,
        10.0 if args.itl_ms is None and not args.tokens_per_s else args.itl_ms,
        args.tokens_per_s,
        args.prompt_token_ms,
        args.load_s * 1000.0,
        args.response_tokens,
    )
    cfg = VLLMConfig(
        model=model,
        served=served,
        max_model_len=args.max_model_len,
        max_num_seqs=args.max_num_seqs,
        api_keys=list(args.api_key or ([env_key] if env_key else [])),
        version=args.version_string or VLLM_VERSION,
        legacy_errors=args.legacy_errors,
    )
    state = SimState("vllm", timing, args.seed)
    metrics = Metrics(served[0], legacy_names=args.legacy_metrics)
    engine = Engine(
        timing,
        max_num_seqs=args.max_num_seqs,
        batch_cost=args.batch_cost,
        batch_exponent=args.batch_exponent,
        num_blocks=kv.num_blocks,
        block_size=kv.block_size,
        max_num_batched_tokens=args.max_num_batched_tokens,
        metrics=metrics,
        stats=state.stats,
    )
    return VLLMSim(cfg, state, engine, metrics)


def check_flags(args: argparse.Namespace) -> None:
    problems = []
    if args.max_num_seqs < 1 or args.max_model_len < 16:
        problems.append("--max-num-seqs must be >= 1 and --max-model-len >= 16")
    if args.block_size < 1 or args.max_num_batched_tokens < 1 or args.tensor_parallel_size < 1:
        problems.append("--block-size, --max-num-batched-tokens and --tensor-parallel-size must be >= 1")
    if problems:
        raise ConfigError(problems)


def refuse_to_start(exc: KVCacheTooSmall) -> None:
    """What ``vllm serve`` prints when the engine core cannot allocate its cache, then exit 1 as it does."""
    log("EngineCore failed to start.", source="core.py:708", level="ERROR")
    print("Traceback (most recent call last):", file=sys.stderr)
    print('  File "vllm/v1/core/kv_cache_utils.py", in check_enough_kv_cache_memory', file=sys.stderr)
    print(f"ValueError: {exc}", file=sys.stderr)
    print(
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
        file=sys.stderr,
        flush=True,
    )
    raise SystemExit(1)


async def run_vllm(
    args: argparse.Namespace, serve: Callable[[web.Application, str, int, str], Awaitable[None]]
) -> None:
    check_flags(args)
    version = args.version_string or VLLM_VERSION
    model = args.model_tag or args.model
    log(f"vLLM API server version {version}")
    shown = {k: v for k, v in vars(args).items() if k not in ("api_key",)}
    log(f"args: Namespace({', '.join(f'{k}={v!r}' for k, v in shown.items())})", source="utils.py:326")
    log(f"Loading model {model} (simulated, {args.load_s:.1f}s)", source="gpu_model_runner.py:1892")
    if args.load_s > 0:
        await asyncio.sleep(args.load_s)
    try:
        kv = size_kv_cache(args)
    except KVCacheTooSmall as exc:
        refuse_to_start(exc)
        return
    log(f"Available KV cache memory: {kv.available_bytes / (1 << 30):.2f} GiB", source="gpu_worker.py:276")
    log(f"GPU KV cache size: {kv.tokens:,} tokens", source="kv_cache_utils.py:829")
    log(
        f"Maximum concurrency for {args.max_model_len:,} tokens per request: "
        f"{kv.max_concurrency(args.max_model_len):.2f}x",
        source="kv_cache_utils.py:833",
    )
    sim = make_sim(args, kv)
    log(f"Starting vLLM API server 0 on http://{args.host}:{args.port}", source="api_server.py:1818")
    app = build_app(sim)
    await serve(app, args.host, args.port, "INFO:     Application startup complete.")
    sys.stdout.flush()


__all__ = ["VLLMSim", "build_app", "make_sim", "run_vllm", "SIM", "dumps"]
