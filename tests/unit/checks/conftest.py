"""Sample factories for the checks tests: windows of requests with known latencies, errors and load levels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from o2v.store import RequestSample, utcnow

MakeSamples = Callable[..., list[RequestSample]]


@pytest.fixture
def make_samples() -> MakeSamples:
    start = utcnow()

    def make(
        backend: str,
        n: int,
        *,
        e2e_ms: float = 1000.0,
        ttft_ms: float | None = 100.0,
        errors: int = 0,
        error_kind: str = "timeout",
        concurrency: int | None = 1,
        tokens: int | None = 50,
        gap_s: float = 0.1,
        run_id: str = "run-1",
        spread: float = 0.0,
    ) -> list[RequestSample]:
        out = []
        for i in range(n):
            failed = i < errors
            e2e = e2e_ms * (1 + spread * i / max(n - 1, 1))
            out.append(
                RequestSample(
                    time=start + timedelta(seconds=i * gap_s),
                    source="probe",
                    backend=backend,  # type: ignore[arg-type]
                    status=0 if failed else 200,
                    e2e_ms=None if failed else e2e,
                    ttft_ms=None if failed else ttft_ms,
                    output_tokens=None if failed else tokens,
                    error_kind=error_kind if failed else None,
                    concurrency=concurrency,
                    run_id=run_id,
                )
            )
        return out

    return make
