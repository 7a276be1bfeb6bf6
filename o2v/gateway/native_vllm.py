"""Ollama's native API served from vLLM: the request translated, vLLM's answer (or stream) translated back.

The translation itself (options, tools, images, the final ``done`` line) lives in
:mod:`o2v.gateway.translate` as pure functions; this module does the I/O around it: it sends the
translated call, reads vLLM's SSE stream event by event as it arrives and writes each NDJSON line at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from o2v.gateway import translate as tr
from o2v.gateway.observe import Exchange
from o2v.gateway.proxy import tokens_in, write_quietly
from o2v.gateway.public_http import Reply, Request, Stream
from o2v.gateway.replies import BACKEND_HEADER, error_response, stream_error_chunk
from o2v.gateway.upstream import UpstreamError

if TYPE_CHECKING:
    from o2v.gateway.server import Gateway

GENERATION = {"/api/chat": "chat", "/api/generate": "generate"}
EMBEDDING = {"/api/embed": False, "/api/embeddings": True}  # path -> legacy
# Native paths a client routed to vLLM gets from the gateway; every other native path stays on Ollama.
NATIVE_ON_VLLM = frozenset({"/", "/api/version", "/api/tags", "/api/show", "/api/ps", *GENERATION, *EMBEDDING})
_JSON = {"Content-Type": "application/json"}
_ON_VLLM = ((BACKEND_HEADER, "vllm"),)
_NDJSON_ON_VLLM = (("Content-Type", "application/x-ndjson"), *_ON_VLLM)


def _json(data: Any, status: int = 200) -> Reply:
    return Reply(orjson.dumps(data), status=status, headers=_ON_VLLM)


async def serve_native(gw: Gateway, request: Request, ex: Exchange, parsed: dict[str, Any] | None) -> Reply | Stream:
    path = request.path
    ex.status = 200
    aliases = gw.models.aliases
    try:
        if path == "/":
            return Reply(b"Ollama is running", content_type="text/plain; charset=utf-8", headers=_ON_VLLM)
        if path == "/api/version":
            return _json(tr.native_version(gw.ollama_version))
        if path == "/api/tags":
            return _json(tr.native_tags(gw.vllm_cards, gw.inventory_models, aliases=aliases))
        if path == "/api/ps":
            return _json(tr.native_ps(gw.vllm_cards, gw.inventory_models, aliases=aliases))
        if path == "/api/show":
            name = str((parsed or {}).get("model") or (parsed or {}).get("name") or "")
            served = gw.models.to_vllm(name)
            card = next((c for c in gw.vllm_cards if c.get("id") == served), None)
            inventory = next((m for m in gw.inventory_models if m.get("name") == name), None)
            return _json(tr.native_show(name, card, inventory))
        return await _generate_or_embed(gw, request, ex, parsed or {})
    except tr.TranslationError as exc:
        ex.status, ex.error_kind = exc.status, "translation"
        return error_response("native", exc.status, str(exc), "vllm")


def _translate(path: str, body: dict[str, Any], served: str) -> tr.NativeCall:
    if path == "/api/chat":
        return tr.translate_chat(body, served)
    if path == "/api/generate":
        return tr.translate_generate(body, served)
    return tr.translate_embed(body, served, legacy=EMBEDDING[path])


async def _generate_or_embed(gw: Gateway, request: Request, ex: Exchange, body: dict[str, Any]) -> Reply | Stream:
    path = request.path
    call = _translate(path, body, gw.models.to_vllm(ex.model))
    gw.observer.note_ignored(ex.caller, list(call.ignored_options))
    if call.reply is not None:  # a load / unload request: vLLM's model is always loaded
        return _json(call.reply)
    kind = GENERATION.get(path)
    stream = tr.NativeStream(kind, ex.model) if kind is not None and call.stream else None  # type: ignore[arg-type]
    started_ns = time.perf_counter_ns()
    vllm = gw.upstreams["vllm"]
    try:
        async with vllm.request("POST", call.path, headers=_JSON, body=orjson.dumps(call.body)) as up:
            ex.status = up.status
            if up.status != 200:
                ex.error_kind = f"http_{up.status}"
                return error_response("native", up.status, _vllm_message(await vllm.read_all(up), up.status), "vllm")
            if stream is not None:
                ex.streamed = True
                return await _stream(gw, request, ex, up, stream)
            answer = orjson.loads(await vllm.read_all(up))
            elapsed_ns = time.perf_counter_ns() - started_ns
            if kind is not None:
                reply = tr.native_reply(kind, answer, ex.model, elapsed_ns)  # type: ignore[arg-type]
                ex.output_tokens = reply.get("eval_count")
            else:
                reply = tr.native_embed_reply(answer, ex.model, legacy=EMBEDDING[path], elapsed_ns=elapsed_ns)
            return _json(reply)
    except UpstreamError as exc:
        ex.status, ex.error_kind = exc.status, exc.kind
        return error_response("native", exc.status, str(exc), "vllm")
    except orjson.JSONDecodeError:
        ex.status, ex.error_kind = 502, "bad_json"
        return error_response("native", 502, "vLLM sent a reply that is not JSON", "vllm")


async def _stream(gw: Gateway, request: Request, ex: Exchange, up: Any, stream: tr.NativeStream) -> Stream:
    """vLLM's SSE events, as they arrive, written as Ollama NDJSON lines; the done line built at the end."""
    vllm = gw.upstreams["vllm"]
    response = Stream(request, headers=_NDJSON_ON_VLLM)
    pending = b""
    held: list[bytes] = []  # lines from vLLM's last piece: they go out with the done line, in one write
    try:
        while True:
            chunk = up.read_nowait()
            if not chunk and not up.complete:
                response.send_head()  # nothing to go with it yet: the head goes now (once), so the client sees it
                chunk = await vllm.read_chunk(up)
            if not chunk:
                break
            ex.mark_first_byte()
            pending += chunk
            *events, pending = pending.split(b"\n\n")
            lines = _translate_events(stream, events)
            if stream.failed:  # vLLM sent an error event: it goes out as Ollama's error line
                ex.error_kind = "stream_error"
                await response.write(b"".join(lines))
                response.force_close()
                return response
            if up.complete:
                held = lines
                break
            if lines:
                await response.write(b"".join(lines))
        final = stream.finish()
        ex.output_tokens = tokens_in(final)
        held.append(final)
        await response.write_eof(b"".join(held))
    except UpstreamError as exc:
        ex.error_kind = exc.kind
        await write_quietly(response, stream_error_chunk("native", str(exc), sse=False))
        response.force_close()
    except orjson.JSONDecodeError:
        ex.error_kind = "bad_json"
        await write_quietly(response, stream_error_chunk("native", "vLLM sent an event that is not JSON", sse=False))
        response.force_close()
    except ConnectionError:
        ex.status, ex.error_kind = 499, "client_gone"
    return response


def _translate_events(stream: tr.NativeStream, events: list[bytes]) -> list[bytes]:
    lines: list[bytes] = []
    for event in events:
        for line in event.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data and data != b"[DONE]":
                lines.extend(stream.feed(orjson.loads(data)))
                if stream.failed:
                    return lines
    return lines


def _vllm_message(body: bytes, status: int) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"vLLM answered HTTP {status}: {body[:200].decode(errors='replace')}"
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)
