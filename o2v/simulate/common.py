"""What both simulators share: token timing, deterministic text, faults, the admin endpoint, stats.

The simulators run inside a slim Docker image, so this package imports only the standard library,
aiohttp, pydantic, pyyaml and ``o2v.errors``.  Everything on the per-chunk hot path is precomputed
(token strings already JSON-escaped, timestamps cached per millisecond) because one process on one
core must stream tens of thousands of chunks per second.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

_WORDS = (
    "the of and to in is that it for as with was on be by this are at from or an have not which but "
    "model server token batch queue request latency memory cache layer team cluster migration request "
    "stream engine slot prompt answer system network kernel tensor vector weight value output input "
    "shared local graph node image build deploy scale rate window window signal budget limit buffer "
    "simple quick quiet steady careful clear direct useful light dense sparse exact rough early later "
    "run runs wait waits load loads serve serves send sends read reads write writes check checks "
    "time times step steps page pages block blocks user users client clients reply replies"
).split()
# Tokens as a model would stream them: a leading space before words, bare punctuation.
VOCAB: tuple[str, ...] = tuple([" " + w for w in dict.fromkeys(_WORDS)] + [".", ",", "\n"])
VOCAB_INDEX = {tok: i for i, tok in enumerate(VOCAB)}
# JSON-escaped once, so the hot path only concatenates bytes.
VOCAB_JSON: tuple[str, ...] = tuple(json.dumps(t)[1:-1] for t in VOCAB)
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """Approximate a BPE tokenizer: one token per word or punctuation mark (at least one for any text)."""
    if not text:
        return 0
    return max(1, len(_TOKEN_RE.findall(text)))


def tokenize(text: str, vocab_size: int) -> list[int]:
    """Stable token ids: known vocabulary words map to their index, others to a hash inside the vocabulary."""
    ids = []
    for piece in _TOKEN_RE.findall(text):
        tok = " " + piece if piece[0].isalnum() else piece
        idx = VOCAB_INDEX.get(tok)
        if idx is None:
            idx = len(VOCAB) + int.from_bytes(hashlib.blake2b(piece.encode(), digest_size=4).digest()) % max(
                1, vocab_size - len(VOCAB)
            )
        ids.append(idx)
    return ids


def detokenize(ids: list[int]) -> str:
    return "".join(VOCAB[i] if 0 <= i < len(VOCAB) else " <unk>" for i in ids)


def stable_seed(*parts: object) -> int:
    """A seed that is the same in every process (``hash()`` of a str is randomised per process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest)


def generate_token_ids(seed: int, natural_tokens: int, limit: int | None) -> tuple[list[int], str]:
    """The answer for one request: deterministic for (seed, prompt); ends naturally or at ``limit``.

    Returns the token indices into VOCAB and the finish reason ("stop" or "length").
    """
    rng = random.Random(seed)
    # The natural length varies around the configured mean so requests are not all identical.
    natural = max(1, int(natural_tokens * (0.75 + 0.5 * rng.random()))) if natural_tokens > 1 else 1
    n, reason = natural, "stop"
    if limit is not None and limit >= 0 and limit < natural:
        n, reason = limit, "length"
    words = len(VOCAB) - 3
    ids = []
    for i in range(n):
        r = rng.random()
        if i and r < 0.06:
            ids.append(len(VOCAB) - 3)  # "."
        elif i and r < 0.1:
            ids.append(len(VOCAB) - 2)  # ","
        else:
            ids.append(int(r * 1_000_003) % words)
    return ids, reason


class Clock:
    """Timestamps cached per millisecond: formatting a datetime per chunk would dominate the hot path."""

    def __init__(self) -> None:
        self._ms = -1
        self._rfc3339 = ""

    def rfc3339_nano(self) -> str:
        """``time.Now().UTC()`` as Go's RFC3339Nano writes it (trailing zeros trimmed, ``Z``)."""
        now = time.time()
        ms = int(now * 1000)
        if ms != self._ms:
            self._ms = ms
            dt = datetime.fromtimestamp(now, UTC)
            frac = f"{dt.microsecond:06d}".rstrip("0")
            self._rfc3339 = dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"
        return self._rfc3339


def go_duration(seconds: float) -> str:
    """Format a duration exactly as Go's ``time.Duration.String()`` (gin prints latencies this way)."""
    ns = int(round(seconds * 1e9))
    if ns == 0:
        return "0s"
    neg, ns = ns < 0, abs(ns)
    if ns < 1_000:
        out = f"{ns}ns"
    elif ns < 1_000_000:
        out = _trim(ns, 1_000) + "µs"
    elif ns < 1_000_000_000:
        out = _trim(ns, 1_000_000) + "ms"
    else:
        hours, rem = divmod(ns, 3_600_000_000_000)
        minutes, rem = divmod(rem, 60_000_000_000)
        out = _trim(rem, 1_000_000_000) + "s"
        if hours:
            out = f"{hours}h{minutes}m{out}"
        elif minutes:
            out = f"{minutes}m{out}"
    return ("-" if neg else "") + out


def _trim(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    digits = len(str(unit)) - 1
    text = f"{frac:0{digits}d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


@dataclass
class Timing:
    """Token timing shared by both simulators (all in milliseconds).

    ttft_ms: fixed time before the first token (prefill overhead), per request on Ollama, per prefill
    step on vLLM; prompt_token_ms: extra time per prompt token; itl_ms: time between tokens of one
    stream (vLLM: the decode-step time at batch size 1).
    """

    ttft_ms: float = 0.0
    itl_ms: float = 0.0
    prompt_token_ms: float = 0.0
    load_ms: float = 0.0
    response_tokens: int = 64


def timing_from_args(
    ttft_ms: float,
    itl_ms: float | None,
    tokens_per_s: float | None,
    prompt_token_ms: float,
    load_ms: float,
    response_tokens: int,
) -> Timing:
    if tokens_per_s:
        itl_ms = 1000.0 / tokens_per_s
    return Timing(
        ttft_ms=ttft_ms,
        itl_ms=itl_ms or 0.0,
        prompt_token_ms=prompt_token_ms,
        load_ms=load_ms,
        response_tokens=response_tokens,
    )


class Faults(BaseModel):
    """Faults switched on a running simulator through ``POST /_sim/faults``.

    error_rate: fraction of generation requests answered with ``error_status`` (the server's own error
    shape) before any token; added_latency_ms: extra wait before the first token; disconnect_after_chunks:
    the connection is cut (no final chunk) after this many streamed chunks; stall_ms: the stream pauses
    this long after its first chunk, the connection held open.
    """

    model_config = {"extra": "forbid"}

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_status: int = Field(default=500, ge=400, le=599)
    added_latency_ms: float = Field(default=0.0, ge=0.0, le=3_600_000)
    disconnect_after_chunks: int | None = Field(default=None, ge=0)
    stall_ms: float = Field(default=0.0, ge=0.0, le=3_600_000)

    def active(self) -> bool:
        return bool(
            self.error_rate or self.added_latency_ms or self.disconnect_after_chunks is not None or self.stall_ms
        )


@dataclass
class Stats:
    """Counters served on ``GET /_sim/stats`` so tests can see what the simulator did."""

    started_at: float = field(default_factory=time.time)
    requests_total: int = 0
    requests_by_status: dict[str, int] = field(default_factory=dict)
    active: int = 0
    waiting: int = 0
    max_active: int = 0
    chunks_sent: int = 0
    faults_injected: int = 0
    tokens_generated: int = 0
    model_loads: int = 0

    def finish(self, status: int) -> None:
        key = str(status)
        self.requests_by_status[key] = self.requests_by_status.get(key, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "uptime_s": round(time.time() - self.started_at, 3),
            "requests_total": self.requests_total,
            "requests_by_status": dict(self.requests_by_status),
            "active": self.active,
            "waiting": self.waiting,
            "max_active": self.max_active,
            "chunks_sent": self.chunks_sent,
            "tokens_generated": self.tokens_generated,
            "faults_injected": self.faults_injected,
            "model_loads": self.model_loads,
        }


class SimState:
    """Per-process state both simulators hang off the aiohttp app."""

    def __init__(self, kind: str, timing: Timing, seed: int) -> None:
        self.kind = kind
        self.timing = timing
        self.seed = seed
        self.faults = Faults()
        self.stats = Stats()
        self.clock = Clock()
        self.rng = random.Random(stable_seed("faults", seed))

    def roll_error(self) -> bool:
        """Decide whether this request gets the injected error (deterministic sequence per seed)."""
        if self.faults.error_rate and self.rng.random() < self.faults.error_rate:
            self.stats.faults_injected += 1
            return True
        return False

    def answer_seed(self, request_seed: object, prompt: str) -> int:
        return stable_seed(self.seed, request_seed, prompt)


def dumps(data: object) -> str:
    """Compact JSON, as Go and FastAPI write it (json.dumps' default adds spaces)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(text=dumps(data), status=status, content_type="application/json")


_json = json_response


def add_admin_routes(app: web.Application, state: SimState) -> None:
    """``/_sim/faults`` (GET shows, POST merges or resets) and ``/_sim/stats``."""

    async def get_faults(request: web.Request) -> web.Response:
        return _json(state.faults.model_dump())

    async def post_faults(request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else {}
        except json.JSONDecodeError as exc:
            return _json({"error": f"body is not JSON: {exc}"}, 400)
        if not isinstance(body, dict):
            return _json({"error": "expected a JSON object of fault settings"}, 400)
        base = {} if body.pop("reset", False) else state.faults.model_dump()
        try:
            state.faults = Faults.model_validate({**base, **body})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return _json({"error": problems}, 400)
        return _json(state.faults.model_dump())

    async def get_stats(request: web.Request) -> web.Response:
        return _json({"kind": state.kind, **state.stats.as_dict(), **extra_stats(request.app)})

    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_post("/_sim/faults", post_faults)
    app.router.add_get("/_sim/stats", get_stats)


def extra_stats(app: web.Application) -> dict[str, Any]:
    fn = app.get(EXTRA_STATS)
    return fn() if fn else {}


EXTRA_STATS: web.AppKey[Any] = web.AppKey("extra_stats", object)
STATE: web.AppKey[SimState] = web.AppKey("sim_state", SimState)


async def sleep_until(deadline: float) -> None:
    """Sleep to an absolute loop time so per-token sleeps do not accumulate drift."""
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)


class ClientGone(Exception):
    """The client closed the connection while we were writing to it."""
