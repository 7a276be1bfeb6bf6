"""Synthetic comparison windows with a known true vLLM/Ollama p95 ratio, for the gate's error-rate benchmark.

Latencies are lognormal (log-sd ``sigma``): scaling a lognormal by r scales every percentile by r, so the true
p95 ratio is exactly ``ratio``. Each level runs closed-loop like the load generator: ``concurrency`` slots each
send the next request when the previous one ends, so throughput follows from latency as it does on a server.
TTFT is drawn the same way at a tenth of the e2e scale with the same ratio. No request fails.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def synthetic_window(
    ratio: float,
    *,
    levels: list[int],
    samples_per_level: int,
    sigma: float = 0.35,
    median_e2e_ms: float = 2000.0,
    output_tokens: int = 128,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Ollama at ``median_e2e_ms`` and vLLM at ``ratio`` times it, every level, in the store's sample columns."""
    import numpy as np
    import pandas as pd

    parts = []
    n = samples_per_level
    for backend, scale in (("ollama", 1.0), ("vllm", ratio)):
        clock = 0.0
        for level in levels:
            e2e = rng.lognormal(math.log(median_e2e_ms * scale), sigma, n)
            ttft = rng.lognormal(math.log(median_e2e_ms * scale / 10), sigma, n)
            # Slot i % level sends request i when its previous request ends: start = running sum per slot.
            slot = np.arange(n) % level
            start = np.empty(n)
            for s in range(min(level, n)):
                mine = slot == s
                ends = np.cumsum(e2e[mine]) / 1000
                start[mine] = clock + ends - e2e[mine] / 1000
            clock = float((start + e2e / 1000).max()) + 1.0
            parts.append(
                pd.DataFrame(
                    {
                        "time": pd.Timestamp(_EPOCH) + pd.to_timedelta(start, unit="s"),
                        "source": "loadtest",
                        "backend": backend,
                        "status": 200,
                        "e2e_ms": e2e,
                        "ttft_ms": ttft,
                        "output_tokens": output_tokens,
                        "error_kind": None,
                        "run_id": f"synthetic-{backend}",
                        "concurrency": level,
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)
