"""One look at the server before any load: is it up, does it speak the expected API, does it serve the model?

Without this, a typo in the URL or ``--api`` turns into a thousand identical failed requests and a report
full of zeros. Each problem becomes one ServerError that says what was expected, what was found, what to do.
"""

from __future__ import annotations

import httpx

from o2v.errors import ServerError, ServerHTTPError, ServerUnreachable
from o2v.loadgen.protocol import _loads, error_text
from o2v.loadgen.workload import Workload

_OTHER_API = {"openai": "ollama", "ollama": "openai"}


def models_path(api: str) -> str:
    return "/api/tags" if api == "ollama" else "/v1/models"


async def preflight(workload: Workload, headers: dict[str, str]) -> list[str]:
    """Return the models the server lists; raise ServerError (one clear line) when a run cannot make sense."""
    url = workload.url + models_path(workload.api)
    total_s = workload.connect_timeout_s + 10
    timeout = httpx.Timeout(total_s, connect=workload.connect_timeout_s)
    try:
        async with httpx.AsyncClient(timeout=timeout, headers=headers, trust_env=False) as client:
            resp = await client.get(url)
            status, body = resp.status_code, resp.content
            content_type = resp.headers.get("Content-Type", "")
    except httpx.TimeoutException as exc:
        raise ServerUnreachable(
            f"no answer from {url} within {total_s:.0f} s; expected a {_describe(workload.api)} server "
            "-- check the URL, firewall and that the server is not stuck",
            url=workload.url,
        ) from exc
    except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise ServerUnreachable(
            f"nothing answers at {workload.url} ({exc.__class__.__name__}: {exc}); expected a running "
            f"{_describe(workload.api)} server -- check the URL and port, and that the server is up",
            url=workload.url,
        ) from exc
    except httpx.HTTPError as exc:
        raise ServerUnreachable(f"cannot talk to {url}: {exc.__class__.__name__}: {exc}", url=workload.url) from exc
    head = body[:512].lstrip().lower()
    if "text/html" in content_type or head.startswith((b"<!doctype html", b"<html")):
        raise ServerError(
            f"{url} answered an HTML page (HTTP {status}), not the {_describe(workload.api)} API; "
            "the URL probably "
            "points at a web UI, proxy or login page -- use the model server's own address",
            url=workload.url,
        )
    if status in (401, 403):
        raise ServerHTTPError(
            status,
            f"{error_text(body)} -- the server wants an API key: pass --api-key (or vllm.api_key)",
            url=url,
        )
    if status == 404:
        raise ServerError(
            f"{workload.url} does not serve the {_describe(workload.api)} API "
            f"(GET {models_path(workload.api)} -> 404)"
            f"; if it is {_server_of(_OTHER_API[workload.api])}, use --api {_OTHER_API[workload.api]}",
            url=workload.url,
        )
    if status != 200:
        raise ServerHTTPError(status, error_text(body), url=url)
    models = _model_names(workload.api, body)
    if models is None:
        raise ServerError(
            f"GET {url} answered something that is not a {_describe(workload.api)} model list "
            f"({body[:80]!r}); if it is {_server_of(_OTHER_API[workload.api])}, "
            f"use --api {_OTHER_API[workload.api]}",
            url=workload.url,
        )
    if not model_matches(workload.model, models):
        listed = ", ".join(models[:10]) + (" ..." if len(models) > 10 else "") if models else "nothing"
        raise ServerError(
            f"model {workload.model!r} is not served at {workload.url}; it serves: {listed} "
            "-- pass one of them "
            "as the model (or pull/serve the model first)",
            url=workload.url,
        )
    return models


def model_matches(model: str, served: list[str]) -> bool:
    """Exact match, or Ollama's implicit ':latest' tag on either side."""
    names = set(served) | {s.removesuffix(":latest") for s in served}
    return model in names or model.removesuffix(":latest") in names


def _model_names(api: str, body: bytes) -> list[str] | None:
    try:
        data = _loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if api == "ollama":
        items = data.get("models")
        if not isinstance(items, list):
            return None
        return [str(m.get("name") or m.get("model")) for m in items if isinstance(m, dict)]
    items = data.get("data")
    if not isinstance(items, list):
        return None
    return [str(m.get("id")) for m in items if isinstance(m, dict)]


def _describe(api: str) -> str:
    return "Ollama native (/api/*)" if api == "ollama" else "OpenAI-compatible (/v1/*)"


def _server_of(api: str) -> str:
    return "Ollama (native API)" if api == "ollama" else "vLLM or another OpenAI-compatible server"
