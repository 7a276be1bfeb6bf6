"""One pass over Ollama's log, in memory bounded by the requests in flight, never by the log's size.

Each access line gives a request's end (gin's timestamp) and its latency, so its start is ``end - latency``.
Counting the requests whose interval covers a request's start gives how many were in flight when it
arrived; grouping latencies by that count yields the same latency-against-concurrency points a probe
measures, from the team's real traffic. A request is finalised once no later line can still overlap its
start (the horizon is the longest latency seen), so only the last few minutes are ever held.
"""

from __future__ import annotations

import bisect
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from o2v.diagnose.histogram import LogHistogram
from o2v.diagnose.models import LevelPoint, LogSummary, PeriodStats
from o2v.servers.logs import (
    AccessRecord,
    AppRecord,
    LoadCounter,
    LogRecord,
    UnparsedLine,
    is_client_abort,
    parse_go_duration,
    parse_go_map,
)

INFERENCE_PATHS = frozenset({"/api/generate", "/api/chat", "/v1/chat/completions", "/v1/completions"})
MAX_LEVEL = 64
_SAMPLE_LINES = 10
_MIN_HORIZON_S = 60.0
_MAX_HORIZON_S = 3600.0


@dataclass(slots=True)
class _Req:
    start: float
    end: float
    latency_s: float
    client: str
    when: datetime
    peak: bool


@dataclass(slots=True)
class _Hot:
    """Counters touched on every line: a slotted dataclass is several times cheaper than pydantic setattr."""

    lines: int = 0
    access: int = 0
    inference: int = 0
    latency_s: float = 0.0
    timeouts: int = 0
    peak_requests: int = 0
    peak_timeouts: int = 0
    off_requests: int = 0
    off_timeouts: int = 0
    max_in_flight: int = 0
    first: datetime | None = None
    last: datetime | None = None


def _epoch(when: datetime) -> float:
    return (when.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()


def _keep_alive_s(env: dict[str, str]) -> float | None:
    raw = env.get("OLLAMA_KEEP_ALIVE")
    if not raw:
        return None
    try:
        return float(int(raw))
    except ValueError:
        try:
            return parse_go_duration(raw)
        except ValueError:
            return None


class LogAnalyzer:
    """Feed records with ``add``; ``summary()`` returns the LogSummary. Working hours decide peak vs off-hours."""

    def __init__(self, *, timeout_s: float, working_hours: tuple[int, int] = (9, 18),
                 working_days: Iterable[int] = (0, 1, 2, 3, 4)) -> None:
        self.timeout_s = timeout_s
        self.working_hours = working_hours
        self.working_days = frozenset(working_days)
        self.s = LogSummary()
        self._env: dict[str, str] = {}
        self._pending: deque[_Req] = deque()
        self._window: deque[_Req] = deque()
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._horizon = _MIN_HORIZON_S
        self._levels: dict[int, tuple[LogHistogram, list[float]]] = {}
        self._in_flight = LogHistogram()
        self._peak_hist, self._off_hist = LogHistogram(), LogHistogram()
        self._clients: set[str] = set()
        self._hours: tuple[set[tuple[int, int, int, int]], set[tuple[int, int, int, int]]] = (set(), set())
        self._last_inference_end: float | None = None
        self._abort_msgs = 0
        self._status_499 = 0
        self._hot = _Hot()
        self._status: dict[int, int] = {}
        self._loads = LoadCounter()

    # -- feeding --------------------------------------------------------------------------------------------
    def add(self, record: LogRecord) -> None:
        s = self.s
        self._hot.lines += 1
        if isinstance(record, AccessRecord):
            self._hot.access += 1
            self._access(record)
        elif isinstance(record, AppRecord):
            s.app_records += 1
            self._app(record)
        elif isinstance(record, UnparsedLine):
            if record.known_noise:
                s.noise_lines += 1
            else:
                s.unparsed_lines += 1
                if len(s.unparsed_sample) < _SAMPLE_LINES:
                    s.unparsed_sample.append(f"line {record.line_no}: {record.text[:200]}")

    def add_all(self, records: Iterable[LogRecord]) -> LogAnalyzer:
        for record in records:
            self.add(record)
        return self

    def _app(self, rec: AppRecord) -> None:
        if rec.msg == "server config" and "env" in rec.attrs:
            self._env = parse_go_map(rec.attrs["env"])
        if is_client_abort(rec):
            self._abort_msgs += 1
        load = self._loads.feed(rec)  # v0.30+ writes two started-in lines per load: counted once
        if load is not None:
            self.s.model_loads += 1
            self.s.model_load_s_total += load
            keep_alive = _keep_alive_s(self._env) or 300.0
            started = _epoch(rec.time) - load
            if self._last_inference_end is not None and started - self._last_inference_end >= keep_alive:
                self.s.reloads_after_idle += 1

    def _access(self, rec: AccessRecord) -> None:
        hot = self._hot
        self._status[rec.status] = self._status.get(rec.status, 0) + 1
        if rec.status == 499:
            self._status_499 += 1
        if rec.method != "POST" or rec.path.split("?", 1)[0] not in INFERENCE_PATHS:
            return
        if rec.status == 503 or (400 <= rec.status < 500 and rec.status != 499):
            return  # rejected at once (queue full, bad request): no latency to learn from
        hot.inference += 1
        end = _epoch(rec.time)
        hour = rec.time.hour
        peak = rec.time.weekday() in self.working_days and self.working_hours[0] <= hour < self.working_hours[1]
        req = _Req(start=end - rec.latency_s, end=end, latency_s=rec.latency_s, client=rec.client_ip, when=rec.time,
                   peak=peak)
        if hot.first is None or rec.time < hot.first:
            hot.first = rec.time
        if hot.last is None or rec.time > hot.last:
            hot.last = rec.time
        self._clients.add(rec.client_ip)
        self._last_inference_end = end if self._last_inference_end is None else max(self._last_inference_end, end)
        hot.latency_s += rec.latency_s
        timed_out = rec.latency_s >= self.timeout_s
        hot.timeouts += timed_out
        if peak:
            hot.peak_requests += 1
            hot.peak_timeouts += timed_out
            self._peak_hist.add(rec.latency_s * 1000)
        else:
            hot.off_requests += 1
            hot.off_timeouts += timed_out
            self._off_hist.add(rec.latency_s * 1000)
        self._hours[0 if peak else 1].add((rec.time.year, rec.time.month, rec.time.day, rec.time.hour))
        self._horizon = min(max(self._horizon, rec.latency_s + 1.0), _MAX_HORIZON_S)
        self._window.append(req)
        bisect.insort(self._starts, req.start)
        bisect.insort(self._ends, req.end)
        self._pending.append(req)
        self._finalise(end)

    # -- in-flight reconstruction ---------------------------------------------------------------------------
    def _finalise(self, now: float | None) -> None:
        while self._pending and (now is None or now - self._pending[0].start > self._horizon):
            req = self._pending.popleft()
            in_flight = bisect.bisect_right(self._starts, req.start) - bisect.bisect_right(self._ends, req.start)
            in_flight = max(in_flight, 1)
            self._record(req, in_flight)
            oldest = self._pending[0].start if self._pending else None
            while self._window and (oldest is None or self._window[0].end < oldest - 1.0):
                gone = self._window.popleft()
                del self._starts[bisect.bisect_left(self._starts, gone.start)]
                del self._ends[bisect.bisect_left(self._ends, gone.end)]

    def _record(self, req: _Req, in_flight: int) -> None:
        s = self.s
        if in_flight > self._hot.max_in_flight:
            self._hot.max_in_flight = in_flight
        self._in_flight.add(in_flight)
        level = min(in_flight, MAX_LEVEL)
        # acc: latency sum, count, timeouts, peak latency sum, peak count
        hist, acc = self._levels.setdefault(level, (LogHistogram(), [0.0, 0.0, 0.0, 0.0, 0.0]))
        hist.add(req.latency_s * 1000)
        acc[0] += req.latency_s
        acc[1] += 1
        acc[2] += req.latency_s >= self.timeout_s
        if req.peak:
            acc[3] += req.latency_s
            acc[4] += 1
        if in_flight >= 2 and s.max_clients_in_flight < in_flight and in_flight >= self._hot.max_in_flight:
            recent = list(self._window)[-400:]
            clients = {r.client for r in recent if r.start <= req.start < r.end}
            s.max_clients_in_flight = max(s.max_clients_in_flight, len(clients))
        elif in_flight == 1:
            s.max_clients_in_flight = max(s.max_clients_in_flight, 1)

    # -- result ---------------------------------------------------------------------------------------------
    def summary(self) -> LogSummary:
        self._finalise(None)
        s = self.s.model_copy(deep=True)
        hot = self._hot
        s.lines, s.access_records, s.inference_requests = hot.lines, hot.access, hot.inference
        s.latency_s_total, s.timeouts, s.max_in_flight = hot.latency_s, hot.timeouts, hot.max_in_flight
        s.first_time, s.last_time = hot.first, hot.last
        s.status_counts = {str(k): v for k, v in self._status.items()}
        s.server_config = dict(self._env)
        parallel = self._env.get("OLLAMA_NUM_PARALLEL", "")
        s.configured_num_parallel = int(parallel) if re.fullmatch(r"\d+", parallel) else None
        s.keep_alive_s = _keep_alive_s(self._env)
        s.aborts = max(self._abort_msgs, self._status_499)
        s.distinct_clients = len(self._clients)
        s.peak = PeriodStats(requests=hot.peak_requests, timeouts=hot.peak_timeouts,
                             p95_e2e_ms=self._peak_hist.percentile(95), hours_observed=len(self._hours[0]))
        s.off_hours = PeriodStats(requests=hot.off_requests, timeouts=hot.off_timeouts,
                                  p95_e2e_ms=self._off_hist.percentile(95), hours_observed=len(self._hours[1]))
        p95_in_flight = self._in_flight.percentile(95)
        s.p95_in_flight = int(round(p95_in_flight)) if p95_in_flight is not None else None
        s.levels = [
            LevelPoint(concurrency=level, requests=int(acc[1]), completed=int(acc[1]),
                       mean_e2e_ms=round(acc[0] / acc[1] * 1000, 3), p95_e2e_ms=hist.percentile(95),
                       timeout_rate=acc[2] / acc[1], source="log")
            for level, (hist, acc) in sorted(self._levels.items())
        ]
        alone = self._levels.get(1)
        if alone is not None:
            s.isolated_p50_ms = alone[0].percentile(50)
            service_s = (s.isolated_p50_ms or 0.0) / 1000
            queued = [(acc, level) for level, (_, acc) in self._levels.items() if level > 1]
            s.queue_s_total = round(sum(max(0.0, a[0] - a[1] * service_s) for a, _ in queued), 3)
            s.peak.queue_s = round(sum(max(0.0, a[3] - a[4] * service_s) for a, _ in queued), 3)
            s.off_hours.queue_s = round(max(0.0, s.queue_s_total - s.peak.queue_s), 3)
        recognised = s.access_records + s.app_records
        s.format_recognised = recognised > 0 and recognised >= 0.05 * (recognised + s.unparsed_lines)
        return s


def analyse_log(records: Iterable[LogRecord], *, timeout_s: float, working_hours: tuple[int, int] = (9, 18),
                working_days: Iterable[int] = (0, 1, 2, 3, 4)) -> LogSummary:
    """Summarise a stream of records (a generator is read once, lazily)."""
    analyzer = LogAnalyzer(timeout_s=timeout_s, working_hours=working_hours, working_days=working_days)
    return analyzer.add_all(records).summary()


def log_window(summary: LogSummary) -> timedelta | None:
    if summary.first_time is None or summary.last_time is None:
        return None
    return summary.last_time - summary.first_time
