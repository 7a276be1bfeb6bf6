"""Samples files: the comparison's request rows as CSV, so anyone can re-judge the data outside the flow.

Columns (a header row names them, in any order; extra columns are ignored):
  server         ollama | vllm
  concurrency    the load level the request was sent at (whole number >= 1)
  start_s        send time in seconds from the run's start (>= 0)
  ok             true | false (also 1/0, yes/no)
  e2e_s          send to last byte, seconds (required when ok)
  ttft_s         send to first token, seconds (may be empty: non-streamed requests)
  output_tokens  tokens in the answer (may be empty)

Every bad line is reported with its line number and column (ConfigError), not only the first.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from o2v.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["server", "concurrency", "start_s", "ok", "e2e_s", "ttft_s", "output_tokens"]
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # start_s is relative; any fixed origin gives the same figures
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_MAX_PROBLEMS = 20


def read_samples_csv(path: Path) -> pd.DataFrame:
    """Rows in the store's sample columns (as ``checks.frames.samples_frame`` reads them)."""
    import pandas as pd

    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the samples file ({exc.strerror})"], str(path)) from exc
    with handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ConfigError(
                [f"{path} line 1: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"], str(path)
            )
        rows, problems = [], []
        for line, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            parsed, errors = _parse(row)
            problems += [f"{path} line {line}, column {column}: {why}" for column, why in errors]
            if parsed is not None:
                rows.append(parsed)
    if problems:
        more = [f"... and {len(problems) - _MAX_PROBLEMS} more"] if len(problems) > _MAX_PROBLEMS else []
        raise ConfigError(problems[:_MAX_PROBLEMS] + more, str(path))
    if not rows:
        raise ConfigError([f"{path}: no sample rows after the header"], str(path))
    return pd.DataFrame(rows)


def _parse(row: dict[str, str]) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    errors: list[tuple[str, str]] = []

    def number(column: str, *, required: bool, whole: bool = False, least: float = 0.0) -> float | None:
        text = row.get(column, "")
        if text == "":
            if required:
                errors.append((column, "a value is required"))
            return None
        try:
            value = float(text)
        except ValueError:
            errors.append((column, f"expected a number, got {text!r}"))
            return None
        if value != value or value < least or (whole and not value.is_integer()):
            kind = "a whole number" if whole else "a number"
            errors.append((column, f"expected {kind} >= {least:g}, got {text!r}"))
            return None
        return value

    server = row.get("server", "").lower()
    if server not in ("ollama", "vllm"):
        errors.append(("server", f"expected ollama or vllm, got {row.get('server', '')!r}"))
    ok_text = row.get("ok", "").lower()
    ok = ok_text in _TRUE
    if ok_text not in _TRUE | _FALSE:
        errors.append(("ok", f"expected true or false, got {row.get('ok', '')!r}"))
    concurrency = number("concurrency", required=True, whole=True, least=1)
    start = number("start_s", required=True)
    e2e = number("e2e_s", required=ok)
    ttft = number("ttft_s", required=False)
    tokens = number("output_tokens", required=False, whole=True)
    if errors or start is None:
        return None, errors
    return {
        "time": _EPOCH + timedelta(seconds=start),
        "source": "loadtest",
        "backend": server,
        "status": 200 if ok else 0,
        "e2e_ms": e2e * 1000 if e2e is not None else None,
        "ttft_ms": ttft * 1000 if ttft is not None and ok else None,
        "output_tokens": int(tokens) if tokens is not None else None,
        "error_kind": None if ok else "failed",
        "run_id": f"csv-{server}",
        "concurrency": int(concurrency) if concurrency is not None else None,
    }, errors


def write_samples_csv(rows: Iterable[dict[str, Any]] | pd.DataFrame, path: Path) -> Path:
    """Write sample rows (store columns: time, backend, status, e2e_ms, ...) as a samples file."""
    import pandas as pd

    from checks.frames import samples_frame

    frame = samples_frame(rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows)))
    origin = frame["time"].min()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for _, r in frame.sort_values("time", kind="stable").iterrows():
            writer.writerow(
                [
                    r["backend"],
                    "" if r["concurrency"] != r["concurrency"] else int(r["concurrency"]),
                    f"{(r['time'] - origin).total_seconds():.6f}",
                    "true" if r["ok"] else "false",
                    _seconds(r["e2e_ms"]),
                    _seconds(r["ttft_ms"]),
                    "" if r["output_tokens"] != r["output_tokens"] else int(r["output_tokens"]),
                ]
            )
    return path


def _seconds(ms: float | None) -> str:
    return "" if ms is None or ms != ms else f"{ms / 1000:.6f}"
