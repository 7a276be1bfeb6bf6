"""``python -m o2v.simulate ollama|vllm --host H --port P [flags]``: run one simulator until SIGTERM/SIGINT.

Flags mirror the real servers where they exist (vLLM's ``--max-num-seqs``, ``--served-model-name``,
``--api-key``; Ollama's ``OLLAMA_*`` environment variables as defaults) so a deployment can swap a real
server for a simulator without rewriting its command line.  A bad flag or catalog exits 2 with one line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from o2v import event_loop
from o2v.errors import ConfigError
from o2v.simulate.vllm_kv import DEFAULT_BLOCK_SIZE, LLAMA_8B_KV_BYTES_PER_TOKEN, LLAMA_8B_MODEL_GIB


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


_float, _int = _positive(float), _positive(int)


def _fraction(text: str) -> float:
    value = _float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return float(value)


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _timing_flags(p: argparse.ArgumentParser, ttft: float, itl: float) -> None:
    g = p.add_argument_group("token timing (milliseconds)")
    g.add_argument("--ttft-ms", type=_float, default=ttft, help=f"fixed prefill time before the first token ({ttft})")
    rate = g.add_mutually_exclusive_group()
    rate.add_argument("--itl-ms", type=_float, default=None, help=f"time between tokens of one stream ({itl})")
    rate.add_argument("--tokens-per-s", type=_float, default=None, help="alternative to --itl-ms")
    g.add_argument("--prompt-token-ms", type=_float, default=0.05, help="prefill cost per prompt token (0.05)")
    g.add_argument(
        "--response-tokens",
        type=_int,
        default=64,
        help="natural answer length in tokens, +-25%% per prompt (64); max_tokens/num_predict cut it",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for the answers' text and fault decisions (0)")
    p.add_argument("--host", default="127.0.0.1")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m o2v.simulate", description="Ollama / vLLM wire-compatible simulators.")
    sub = parser.add_subparsers(dest="kind", required=True, parser_class=_Parser)

    o = sub.add_parser("ollama", help="Ollama (native /api and OpenAI-compatible /v1)")
    _timing_flags(o, ttft=20.0, itl=10.0)
    o.add_argument("--port", type=_int, default=11434)
    o.add_argument(
        "--num-parallel",
        type=_int,
        default=int(_env("OLLAMA_NUM_PARALLEL", "1") or 1),
        help="slots per loaded model ($OLLAMA_NUM_PARALLEL, default 1)",
    )
    o.add_argument(
        "--max-queue",
        type=_int,
        default=int(_env("OLLAMA_MAX_QUEUE", "512") or 512),
        help="pending-queue size before 503 ($OLLAMA_MAX_QUEUE, 512)",
    )
    o.add_argument("--max-loaded-models", type=_int, default=int(_env("OLLAMA_MAX_LOADED_MODELS", "3") or 3))
    o.add_argument(
        "--keep-alive",
        default=_env("OLLAMA_KEEP_ALIVE", "5m"),
        help="idle time before unload: Go duration or seconds; negative = forever ($OLLAMA_KEEP_ALIVE)",
    )
    o.add_argument(
        "--num-ctx",
        type=_int,
        default=int(_env("OLLAMA_CONTEXT_LENGTH", "0") or 0),
        help="default context ($OLLAMA_CONTEXT_LENGTH); 0 = Ollama's default: by VRAM since 0.15.5, else 4096",
    )
    o.add_argument(
        "--vram-gib",
        type=_float,
        default=0.0,
        help="total GPU memory the simulated server reports (0 = CPU only); picks the default context tier",
    )
    o.add_argument(
        "--slot-speedup",
        default="measured",
        help="aggregate decode rate of 1, 2, ... busy slots over one slot's: 'measured' (llama.cpp on an "
        "RTX 3090, see docs/simulators.md), 'ideal' (slots independent) or a comma list such as 1,1.8,2.5",
    )
    o.add_argument("--load-ms", type=_float, default=0.0, help="model load time on first use / after expiry (0)")
    o.add_argument("--catalog", default=None, help="YAML/JSON model catalog (default: llama3.1:8b Q4_K_M)")
    o.add_argument("--model", action="append", default=[], help="add a model by name (repeatable)")
    o.add_argument(
        "--version-string",
        default=None,
        help="what /api/version reports; also picks the behaviour of that release (scheduler, logs, /v1 framing)",
    )

    v = sub.add_parser("vllm", help="vLLM OpenAI-compatible server")
    _timing_flags(v, ttft=20.0, itl=10.0)
    v.add_argument("model_tag", nargs="?", default=None, help="model, as in `vllm serve MODEL`")
    v.add_argument("--port", type=_int, default=8000)
    v.add_argument("--model", default="meta-llama/Meta-Llama-3.1-8B-Instruct")
    v.add_argument("--served-model-name", nargs="+", default=None)
    v.add_argument("--max-model-len", type=_int, default=8192)
    v.add_argument("--max-num-seqs", type=_int, default=256)
    v.add_argument(
        "--api-key", nargs="+", default=None, help="require Bearer auth on /v1, one of these keys (else $VLLM_API_KEY)"
    )
    v.add_argument("--load-s", type=_float, default=0.0, help="start-up time before the port opens (0)")
    v.add_argument(
        "--batch-cost",
        type=_float,
        default=0.02,
        help="decode step time = itl * (1 + batch_cost * (batch-1) ** batch_exponent) (0.02)",
    )
    v.add_argument("--batch-exponent", type=_float, default=0.85, help="see --batch-cost (0.85)")
    kv = v.add_argument_group("KV cache (see docs/simulators.md)")
    kv.add_argument(
        "--kv-cache-tokens",
        type=_int,
        default=262_144,
        help="KV cache capacity in tokens when --gpu-memory-gib is not given (262144)",
    )
    kv.add_argument("--gpu-memory-gib", type=_float, default=None, help="total memory of one simulated GPU, GiB")
    kv.add_argument("--gpu-memory-utilization", type=_fraction, default=0.9, help="as vLLM's flag (0.9)")
    kv.add_argument(
        "--model-memory-gib",
        type=_float,
        default=LLAMA_8B_MODEL_GIB,
        help=f"memory the model holds outside the KV cache: weights, activation peak, non-torch "
        f"({LLAMA_8B_MODEL_GIB}, Llama 3.1 8B)",
    )
    kv.add_argument(
        "--kv-bytes-per-token",
        type=_int,
        default=LLAMA_8B_KV_BYTES_PER_TOKEN,
        help=f"K and V of every layer for one token at 16 bits ({LLAMA_8B_KV_BYTES_PER_TOKEN}, Llama 3.1 8B)",
    )
    kv.add_argument("--num-gpu-blocks-override", type=_int, default=None, help="as vLLM's flag: the block count")
    kv.add_argument("--block-size", type=_int, default=DEFAULT_BLOCK_SIZE, help="tokens per KV block (16)")
    kv.add_argument("--tensor-parallel-size", type=_int, default=1, help="divides model memory and KV heads (1)")
    kv.add_argument("--kv-cache-dtype", default="auto", help="auto, or fp8* to halve the bytes per token")
    kv.add_argument(
        "--max-num-batched-tokens",
        type=_int,
        default=8192,
        help="tokens one engine step may process; longer prompts prefill in chunks (8192)",
    )
    v.add_argument(
        "--legacy-errors", action="store_true", help="flat error bodies and older error wording (before Aug 2025)"
    )
    v.add_argument(
        "--legacy-metrics",
        action="store_true",
        help="also export the old metric names (gpu_cache_usage_perc, time_per_output_token_seconds)",
    )
    v.add_argument(
        "--version-string", default=None, help="what /version reports (0.16.0); below 0.16 the older error wording"
    )
    # Real vLLM flags that change nothing here: accepted so a real command line runs unchanged.
    for flag in (
        "--quantization",
        "--dtype",
        "--download-dir",
        "--swap-space",
        "--pipeline-parallel-size",
        "--tokenizer",
        "--revision",
        "--generation-config",
        "--uvicorn-log-level",
    ):
        v.add_argument(flag, default=None, help=argparse.SUPPRESS)
    for flag in (
        "--enforce-eager",
        "--trust-remote-code",
        "--disable-log-requests",
        "--enable-prefix-caching",
        "--enable-chunked-prefill",
        "--disable-log-stats",
    ):
        v.add_argument(flag, action="store_true", help=argparse.SUPPRESS)
    return parser


async def _serve(app: object, host: str, port: int, ready: str | None = None) -> None:
    from aiohttp import web

    assert isinstance(app, web.Application)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=2048, reuse_address=True)
    await site.start()
    if ready:
        print(ready, file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def _run_ollama(args: argparse.Namespace) -> None:
    from o2v.simulate.catalog import load_catalog
    from o2v.simulate.common import SimState, timing_from_args
    from o2v.simulate.ollama import OLLAMA_VERSION, OllamaConfig, OllamaSim, build_app
    from o2v.simulate.ollama_sched import parse_keep_alive
    from o2v.simulate.ollama_versions import parse_version

    try:
        keep_alive = parse_keep_alive(args.keep_alive)
    except ValueError as exc:
        raise ConfigError([f"--keep-alive: {exc}"]) from exc
    if args.num_parallel < 1 or args.max_queue < 1 or args.max_loaded_models < 1:
        raise ConfigError(["--num-parallel, --max-queue and --max-loaded-models must be >= 1"])
    version = args.version_string or OLLAMA_VERSION
    try:
        parse_version(version)
    except ValueError as exc:
        raise ConfigError([f"--version-string: {exc}"]) from exc
    catalog = load_catalog(args.catalog, args.model)
    timing = timing_from_args(
        args.ttft_ms,
        10.0 if args.itl_ms is None and not args.tokens_per_s else args.itl_ms,
        args.tokens_per_s,
        args.prompt_token_ms,
        args.load_ms,
        args.response_tokens,
    )
    cfg = OllamaConfig(
        host=args.host,
        port=args.port,
        num_parallel=args.num_parallel,
        max_queue=args.max_queue,
        max_loaded_models=args.max_loaded_models,
        keep_alive_s=300.0 if keep_alive is None else keep_alive,
        num_ctx=args.num_ctx,
        vram_bytes=int(args.vram_gib * 1024**3),
        version=version,
        slot_speedup=_slot_speedup(args.slot_speedup),
    )
    sim = OllamaSim(cfg, SimState("ollama", timing, args.seed), catalog)
    app = build_app(sim)
    sim.log_startup()
    event_loop.run(_serve(app, args.host, args.port))


def _slot_speedup(text: str) -> tuple[float, ...]:
    from o2v.simulate.ollama_sched import SLOT_SPEEDUP

    if text == "measured":
        return SLOT_SPEEDUP
    if text == "ideal":
        return ()
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or values[0] != 1.0 or any(b < a for a, b in zip(values, values[1:], strict=False)):
        raise ConfigError([f"--slot-speedup: expected 'measured', 'ideal' or a rising list from 1.0, got {text!r}"])
    return values


def _run_vllm(args: argparse.Namespace) -> None:
    from o2v.simulate.vllm import run_vllm

    event_loop.run(run_vllm(args, _serve))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.kind == "ollama":
            _run_ollama(args)
        else:
            _run_vllm(args)
    except ConfigError as exc:
        print(f"python -m o2v.simulate: error: {'; '.join(exc.problems)}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"python -m o2v.simulate: error: cannot listen on {args.host}:{args.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
