"""Which phase failures Prefect retries: only causes that may pass by themselves.

Prefect's task retries are used where a phase only reads and a failure can be transient: ``inventory``
(Ollama's HTTP API; it raises when Ollama is unreachable). Not elsewhere, on purpose:
``diagnose`` already turns an unreachable Ollama into a finding and a retry would send the probe sweep to the
team's Ollama twice; ``verify_gpu`` and ``plan`` turn every problem into a gate's answer, which a retry would
only repeat; ``deploy`` waits for health itself and its failures (port, memory, image) need a person;
``smoke`` and ``validate`` roll vLLM back when they fail, so a retry would test a server that is gone.

A retried attempt is recorded in the ledger like any run of the phase (a 'failed' row, then the next one).
"""

from __future__ import annotations

from typing import Any

from o2v.errors import ConfigError, GateFailed, ServerHTTPError, ServerTimeout, ServerUnreachable, StoreError

TRANSIENT_HTTP_STATUSES = frozenset({408, 429, 502, 503, 504})


def is_transient(exc: BaseException) -> bool:
    """True when the error chain holds a cause that may pass (unreachable, timeout, 503) and no decision."""
    seen: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in seen:
        seen.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(e, GateFailed | ConfigError) for e in seen):
        return False  # a gate or the configuration said no: the same answer again
    return any(
        isinstance(e, ServerUnreachable | ServerTimeout | StoreError)
        or (isinstance(e, ServerHTTPError) and e.status in TRANSIENT_HTTP_STATUSES)
        for e in seen
    )


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry the task only for a transient cause."""
    exc = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient(exc)
