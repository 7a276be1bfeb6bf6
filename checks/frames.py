"""Sample DataFrames the suites validate: one row per request, and one row per compared load level.

Rates become 0/1 columns (``is_error``, ``is_timeout``) so that "error rate <= 1 %" is simply
"mean of is_error <= 0.01", a plain GX expectation whose observed value is the rate itself. Latencies are kept
for successful requests only (``ok_e2e_ms``): a refused connection has no latency, and counting it as 0 ms
would flatter p95.

Definitions (docs/checks.md has the long form):
  timeout     error_kind contains "timeout", or HTTP 408 / 504
  queue share per request: max(0, ttft - ttft_floor) / e2e, where ttft_floor is the median TTFT of successful
              requests at the lowest concurrency in the window (the time the server needs with nobody ahead)
  throughput  output tokens per second over the level's wall time (requests per second when no token counts),
              wall time summed over the runs that make up the level
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from o2v.store import RequestSample

if TYPE_CHECKING:
    import pandas as pd

    from checks.intervals import Interval, IntervalSpec

SAMPLE_COLUMNS = [
    "time",
    "source",
    "backend",
    "client",
    "model",
    "status",
    "ttft_ms",
    "e2e_ms",
    "output_tokens",
    "error_kind",
    "run_id",
    "concurrency",
]
TIMEOUT_STATUSES = (408, 504)


def samples_frame(samples: Sequence[RequestSample] | pd.DataFrame) -> pd.DataFrame:
    """Request rows with the derived columns every suite reads; accepts samples or an existing frame."""
    import numpy as np
    import pandas as pd

    if isinstance(samples, pd.DataFrame):
        frame = samples.copy()
        for column in SAMPLE_COLUMNS:
            if column not in frame.columns:
                frame[column] = None
    else:
        frame = pd.DataFrame([s.model_dump() for s in samples], columns=SAMPLE_COLUMNS)
    frame = frame.reset_index(drop=True)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["status"] = pd.to_numeric(frame["status"], errors="coerce").fillna(0).astype(int)
    for column in ("ttft_ms", "e2e_ms", "output_tokens", "concurrency"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    kinds = frame["error_kind"].astype("string").fillna("")
    ok = (kinds == "") & (frame["status"] >= 200) & (frame["status"] < 400)
    timeout = kinds.str.contains("timeout", case=False) | frame["status"].isin(TIMEOUT_STATUSES)
    frame["ok"] = ok.astype(int)
    frame["is_error"] = (~ok).astype(int)
    frame["is_timeout"] = (timeout & ~ok).astype(int)
    frame["ok_e2e_ms"] = frame["e2e_ms"].where(ok, np.nan)
    frame["ok_ttft_ms"] = frame["ttft_ms"].where(ok, np.nan)
    frame["queue_share"] = _queue_share(frame)
    return frame


def _queue_share(frame: pd.DataFrame) -> pd.Series:
    import numpy as np

    ok = frame[frame["ok"] == 1]
    ttft = ok["ok_ttft_ms"].dropna()
    if ttft.empty:
        return frame["ok_ttft_ms"] * np.nan
    levels = ok.loc[ttft.index, "concurrency"].dropna()
    if not levels.empty:
        floor = float(ttft[levels.index][levels == levels.min()].median())
    else:
        floor = float(ttft.quantile(0.05))
    queued = (frame["ok_ttft_ms"] - floor).clip(lower=0)
    e2e = frame["ok_e2e_ms"].where(frame["ok_e2e_ms"] > 0)
    return (queued / e2e).clip(upper=1.0)


def for_backend(frame: pd.DataFrame, backend: str) -> pd.DataFrame:
    return frame[frame["backend"] == backend].reset_index(drop=True)


def level_stats(frame: pd.DataFrame) -> dict[float, dict[str, float]]:
    """Per concurrency level (NaN -> level -1.0, 'all'): count, p95 e2e, throughput and its unit."""
    out: dict[float, dict[str, float]] = {}
    levels = frame["concurrency"].fillna(-1.0)
    for level, group in frame.groupby(levels):
        out[float(level)] = _stats(group)
    return out


def _stats(group: pd.DataFrame) -> dict[str, float]:
    import pandas as pd

    ok = group[group["ok"] == 1]
    wall_s = 0.0
    for _run, run in group.groupby(group["run_id"].fillna("")):
        ends = run["time"] + pd.to_timedelta(run["e2e_ms"].fillna(0.0), unit="ms")
        wall_s += max((ends.max() - run["time"].min()).total_seconds(), 1e-3)
    tokens = ok["output_tokens"].dropna()
    has_tokens = not ok.empty and len(tokens) == len(ok)
    amount = float(tokens.sum()) if has_tokens else float(len(ok))
    e2e = ok["ok_e2e_ms"].dropna()
    return {
        "count": float(len(group)),
        "ok": float(len(ok)),
        "p95_e2e_ms": float(e2e.quantile(0.95)) if not e2e.empty else float("nan"),
        "throughput": amount / wall_s,
        "tokens": 1.0 if has_tokens else 0.0,
    }


COMPARISON_COLUMNS = [
    "concurrency",
    "candidate_ok",
    "baseline_ok",
    "candidate_p95_e2e_ms",
    "baseline_p95_e2e_ms",
    "p95_ratio",
    "p95_ratio_low",
    "p95_ratio_high",
    "ttft_ratio",
    "ttft_ratio_low",
    "ttft_ratio_high",
    "candidate_throughput",
    "baseline_throughput",
    "throughput_ratio",
    "throughput_unit",
    "busy_throughput_ratio",
    "busy_throughput_ratio_low",
    "busy_throughput_ratio_high",
]


def comparison_frame(
    candidate: pd.DataFrame,
    baseline: pd.DataFrame,
    *,
    min_samples: int,
    spec: IntervalSpec | None = None,
    stats: tuple[dict[float, dict[str, float]], dict[float, dict[str, float]]] | None = None,
) -> pd.DataFrame:
    """One row per load level both sides ran with ``min_samples`` successful requests each.

    p95 ratios come with a bootstrap interval (``spec``; without one the bounds equal the point). The
    throughput unit must match on both sides; when either side lacks token counts, both use requests/s.
    """
    import pandas as pd

    cand, base = stats or (level_stats(candidate), level_stats(baseline))
    rows: list[dict[str, Any]] = []
    for level in sorted(set(cand) & set(base)):
        c, b = cand[level], base[level]
        if c["ok"] < min_samples or b["ok"] < min_samples:
            continue
        if not (c["tokens"] and b["tokens"]):
            c = {**c, "throughput": c["throughput"] if not c["tokens"] else _rps(candidate, level)}
            b = {**b, "throughput": b["throughput"] if not b["tokens"] else _rps(baseline, level)}
            unit = "requests/s"
        else:
            unit = "output tokens/s"
        e2e = _ratio(candidate, baseline, level, "ok_e2e_ms", spec)
        ttft = _ratio(candidate, baseline, level, "ok_ttft_ms", spec)
        busy = _busy(candidate, baseline, level, spec, tokens=bool(c["tokens"] and b["tokens"]))
        rows.append(
            {
                "concurrency": level,
                "candidate_ok": c["ok"],
                "baseline_ok": b["ok"],
                "candidate_p95_e2e_ms": c["p95_e2e_ms"],
                "baseline_p95_e2e_ms": b["p95_e2e_ms"],
                "p95_ratio": e2e.point,
                "p95_ratio_low": e2e.low,
                "p95_ratio_high": e2e.high,
                "ttft_ratio": ttft.point,
                "ttft_ratio_low": ttft.low,
                "ttft_ratio_high": ttft.high,
                "candidate_throughput": c["throughput"],
                "baseline_throughput": b["throughput"],
                "throughput_ratio": c["throughput"] / b["throughput"] if b["throughput"] > 0 else float("inf"),
                "throughput_unit": unit,
                "busy_throughput_ratio": busy.point,
                "busy_throughput_ratio_low": busy.low,
                "busy_throughput_ratio_high": busy.high,
            }
        )
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def short_levels(
    stats: tuple[dict[float, dict[str, float]], dict[float, dict[str, float]]], *, min_samples: int
) -> dict[float, tuple[int, int]]:
    """Levels both sides ran but with fewer than ``min_samples`` successful requests: level -> (cand ok, base ok)."""
    cand, base = stats
    return {
        level: (int(cand[level]["ok"]), int(base[level]["ok"]))
        for level in sorted(set(cand) & set(base))
        if min(cand[level]["ok"], base[level]["ok"]) < min_samples
    }


def error_difference_frame(
    candidate: pd.DataFrame, baseline: pd.DataFrame, levels: Sequence[float], spec: IntervalSpec | None
) -> pd.DataFrame:
    """One row: error rates over the given levels (pooled) and vLLM minus Ollama, with its interval.

    Pooled because errors are rare: a level's 200 requests cannot tell 0 % from 1 %, several levels together can.
    """
    import numpy as np
    import pandas as pd

    from checks.intervals import Interval, difference_of_rates

    picked = [
        side.loc[side["concurrency"].fillna(-1.0).isin(list(levels)), "is_error"].to_numpy(float)
        for side in (candidate, baseline)
    ]
    if spec is None:
        point = float(np.mean(picked[0]) - np.mean(picked[1])) if all(len(p) for p in picked) else float("nan")
        diff = Interval(point, point, point)
    else:
        diff = difference_of_rates(picked[0], picked[1], spec, "errors")
    return pd.DataFrame(
        [
            {
                "candidate_requests": len(picked[0]),
                "baseline_requests": len(picked[1]),
                "candidate_error_rate": float(np.mean(picked[0])) if len(picked[0]) else float("nan"),
                "baseline_error_rate": float(np.mean(picked[1])) if len(picked[1]) else float("nan"),
                "error_rate_diff": diff.point,
                "error_rate_diff_low": diff.low,
                "error_rate_diff_high": diff.high,
            }
        ]
    )


def _busy(
    candidate: pd.DataFrame, baseline: pd.DataFrame, level: float, spec: IntervalSpec | None, *, tokens: bool
) -> Interval:
    from checks.intervals import Interval, ratio_of_busy_throughput

    sides = []
    for side in (candidate, baseline):
        ok = side[(side["concurrency"].fillna(-1.0) == level) & (side["ok"] == 1)].dropna(subset=["ok_e2e_ms"])
        amount = ok["output_tokens"].fillna(0.0) if tokens else ok["ok_e2e_ms"] * 0 + 1.0
        sides.append((amount.to_numpy(float), ok["ok_e2e_ms"].to_numpy(float) / 1000))
    if spec is None:
        if any(len(t) == 0 or e.sum() <= 0 for t, e in sides):
            return Interval(float("nan"), float("nan"), float("nan"))
        point = (sides[0][0].sum() / sides[0][1].sum()) / (sides[1][0].sum() / sides[1][1].sum())
        return Interval(float(point), float(point), float(point))
    return ratio_of_busy_throughput(sides[0], sides[1], spec, level)


def _ratio(
    candidate: pd.DataFrame, baseline: pd.DataFrame, level: float, column: str, spec: IntervalSpec | None
) -> Interval:
    from checks.intervals import Interval, p95, ratio_of_p95

    pick = [
        side.loc[side["concurrency"].fillna(-1.0) == level, column].dropna().to_numpy(float)
        for side in (candidate, baseline)
    ]
    if spec is None:
        point = p95(pick[0]) / p95(pick[1]) if len(pick[0]) and len(pick[1]) and p95(pick[1]) > 0 else float("nan")
        return Interval(point, point, point)
    return ratio_of_p95(pick[0], pick[1], spec, column, level)


def _rps(frame: pd.DataFrame, level: float) -> float:
    group = frame[frame["concurrency"].fillna(-1.0) == level]
    stats = _stats(group.assign(output_tokens=float("nan")))
    return stats["throughput"]
