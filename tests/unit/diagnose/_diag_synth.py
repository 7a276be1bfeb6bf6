"""Synthetic traffic for a k-slot FIFO server: gin log lines and closed-loop probe samples."""

from __future__ import annotations

import heapq
from datetime import UTC, datetime, timedelta

from o2v.store import RequestSample


def fifo(arrivals: list[float], service_s: float, slots: int) -> list[tuple[float, float]]:
    """(arrival, end) for each request of a FIFO queue in front of ``slots`` identical servers."""
    free = [0.0] * slots
    out = []
    for t in sorted(arrivals):
        slot_free = heapq.heappop(free)
        end = max(t, slot_free) + service_s
        heapq.heappush(free, end)
        out.append((t, end))
    return out


def gin_lines(requests: list[tuple[float, float]], t0: datetime, *, client: str = "10.0.0.{i}", status: int = 200,
              path: str = "/api/chat") -> list[str]:
    """Access lines in end-time order, as gin writes them when each request finishes."""
    lines = []
    for i, (start, end) in sorted(enumerate(requests), key=lambda item: item[1][1]):
        stamp = (t0 + timedelta(seconds=end)).strftime("%Y/%m/%d - %H:%M:%S")
        latency = f"{end - start:.6f}s"
        ip = client.format(i=i % 200)
        lines.append(f'[GIN] {stamp} | {status:3d} | {latency:>13} | {ip:>15} | POST    "{path}"')
    return lines


def closed_loop_samples(levels: list[int], service_s: float, slots: int, *, per_level: int | None = None,
                        t0: datetime | None = None, run_id: str = "run1") -> list[RequestSample]:
    """What a closed-loop probe records: c requests always in flight against a k-slot server."""
    t0 = t0 or datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
    samples: list[RequestSample] = []
    offset = 0.0
    for c in levels:
        n = per_level or max(8, 2 * c)
        workers = [offset] * c  # when each client is ready to send
        free = [offset] * slots
        sent = 0
        last = offset
        while sent < n:
            i = min(range(c), key=lambda w: workers[w])
            send = workers[i]
            slot_free = heapq.heappop(free)
            end = max(send, slot_free) + service_s
            heapq.heappush(free, end)
            workers[i] = end
            samples.append(RequestSample(
                time=t0 + timedelta(seconds=send), source="probe", backend="ollama", status=200,
                e2e_ms=(end - send) * 1000, run_id=run_id, concurrency=c,
            ))
            sent += 1
            last = max(last, end)
        offset = last + 1.0
    return samples
