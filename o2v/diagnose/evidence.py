"""The seed guide's "signs you've outgrown Ollama", each scored from measurements, and the verdict.

Three of the six signs are social (people coordinating, a load balancer being proposed, non-developers
asking for access); no log shows them, so they stay ``unknown`` unless the user states them. The others are
read from the fit, the log and the probe. The verdict first rules out the two causes the guide warns about
that vLLM would not fix: a server that is slow with one request alone, and models reloaded after keep-alive
expiry.
"""

from __future__ import annotations

from o2v.diagnose.models import Finding, LogSummary, ParallelismFit, PeriodStats, Problem, Sign, Verdict

HUMAN_SIGNS = {
    "informal_coordination": "Team members coordinate LLM usage informally (\"don't run it while I'm using it\")",
    "multiple_instances": "Someone proposed several Ollama instances behind a load balancer",
    "non_developer_users": "Non-developers (product, design) ask for model access",
}
SIGN_TITLES = {
    "peak_timeouts": "Request timeouts spike in working hours and vanish off-hours",
    "slow_under_load": "Prompts that return in under 5 s alone take 30 s or more under normal load",
    **HUMAN_SIGNS,
    "concurrent_streaming": "Several clients need responses streamed at the same time",
}


def _rate(p: PeriodStats | None) -> float | None:
    return p.timeout_rate if p is not None else None


def score_signs(
    *,
    fit: ParallelismFit | None,
    peak: PeriodStats | None,
    off_hours: PeriodStats | None,
    loaded_p95_ms: float | None,
    timeout_s: float,
    slow_alone_s: float,
    log: LogSummary | None,
    observed: dict[str, bool] | None = None,
) -> list[Sign]:
    observed = observed or {}
    signs: list[Sign] = []

    peak_rate, off_rate = _rate(peak), _rate(off_hours)
    if peak_rate is None or peak is None or peak.requests == 0:
        signs.append(Sign(id="peak_timeouts", title=SIGN_TITLES["peak_timeouts"], status="unknown", score=0,
                          evidence=["no timed traffic from working hours (needs a log or baseline samples)"]))
    elif off_rate is None or off_hours is None or off_hours.requests == 0:
        status = "unknown" if peak_rate > 0 else "absent"
        signs.append(Sign(id="peak_timeouts", title=SIGN_TITLES["peak_timeouts"], status=status,
                          score=0.5 if peak_rate > 0 else 0.0,
                          evidence=[f"{peak.timeouts}/{peak.requests} working-hour requests reached {timeout_s:g} s",
                                    "no off-hours traffic to compare with"]))
    else:
        spike = peak_rate > 0 and peak_rate >= 2 * off_rate
        signs.append(Sign(
            id="peak_timeouts", title=SIGN_TITLES["peak_timeouts"], status="present" if spike else "absent",
            score=round(peak_rate / (peak_rate + off_rate), 3) if peak_rate + off_rate > 0 else 0.0,
            evidence=[f"working hours: {peak.timeouts}/{peak.requests} requests reached {timeout_s:g} s "
                      f"({peak_rate:.1%})",
                      f"off-hours: {off_hours.timeouts}/{off_hours.requests} ({off_rate:.1%})"],
        ))

    if fit is None or loaded_p95_ms is None:
        signs.append(Sign(id="slow_under_load", title=SIGN_TITLES["slow_under_load"], status="unknown", score=0,
                          evidence=["no latency measured both alone and under load"]))
    else:
        fast_alone = fit.service_ms < slow_alone_s * 1000
        slow_loaded = loaded_p95_ms >= timeout_s * 1000
        score = min(1.0, loaded_p95_ms / (timeout_s * 1000)) if fast_alone else 0.0
        signs.append(Sign(
            id="slow_under_load", title=SIGN_TITLES["slow_under_load"],
            status="present" if fast_alone and slow_loaded else "absent", score=round(score, 3),
            evidence=[f"alone: {fit.service_ms / 1000:.2f} s (limit {slow_alone_s:g} s)",
                      f"p95 under the team's load: {loaded_p95_ms / 1000:.1f} s (timeout {timeout_s:g} s)"],
        ))

    for sign_id, title in HUMAN_SIGNS.items():
        evidence: list[str] = []
        if sign_id == "non_developer_users" and log is not None and log.distinct_clients:
            evidence.append(f"{log.distinct_clients} distinct client addresses in the log (a hint, not proof)")
        if sign_id in observed:
            evidence.append("stated by the user")
            status = "present" if observed[sign_id] else "absent"
            signs.append(Sign(id=sign_id, title=title, status=status, score=1.0 if observed[sign_id] else 0.0,
                              evidence=evidence))
        else:
            evidence.append("not visible in telemetry: state it with --sign " + sign_id)
            signs.append(Sign(id=sign_id, title=title, status="unknown", score=0, evidence=evidence))

    if log is None or log.inference_requests == 0:
        status, score, ev = "unknown", 0.0, ["needs a log to see overlapping requests from different clients"]
    else:
        many = log.max_clients_in_flight
        status = "present" if many >= 2 else "absent"
        score = min(1.0, max(0, many - 1) / 2)
        ev = [f"up to {many} different clients had requests in flight at once",
              f"up to {log.max_in_flight} requests in flight (p95 {log.p95_in_flight})"]
    if "concurrent_streaming" in observed:
        status, score = ("present", 1.0) if observed["concurrent_streaming"] else ("absent", 0.0)
        ev.append("stated by the user")
    signs.append(Sign(id="concurrent_streaming", title=SIGN_TITLES["concurrent_streaming"], status=status,
                      score=round(score, 3), evidence=ev))
    return signs


def not_concurrency_findings(
    *, service_ms: float | None, slow_alone_s: float, log: LogSummary | None, max_reloads_per_day: float
) -> list[Finding]:
    findings: list[Finding] = []
    if service_ms is not None and log is not None and log.model_loads and log.inference_requests:
        # Requests that paid for a model load look slow alone; take the average load out first.
        service_ms = max(0.0, service_ms - log.model_load_s_total / log.inference_requests * 1000)
    if service_ms is not None and service_ms >= slow_alone_s * 1000:
        findings.append(Finding(
            kind="slow_at_concurrency_1",
            evidence=f"a request alone already takes {service_ms / 1000:.1f} s (limit {slow_alone_s:g} s)",
            fix="the hardware or the model size is the limit: use a smaller or more quantised model, a GPU with "
                "more memory bandwidth, or check that all layers are offloaded to the GPU; vLLM would not fix this",
        ))
    if log is not None and log.reloads_after_idle > 0:
        days = max((log.window_h or 0.0) / 24, 1 / 24)
        per_day = log.reloads_after_idle / days
        if per_day > max_reloads_per_day and log.reloads_after_idle >= 2:
            keep = f"{log.keep_alive_s:g} s" if log.keep_alive_s is not None else "the default 5 min"
            findings.append(Finding(
                kind="keep_alive_reloads",
                evidence=f"{log.reloads_after_idle} model loads followed an idle gap longer than "
                         f"OLLAMA_KEEP_ALIVE ({keep}): {per_day:.1f} per day, {log.model_load_s_total:.0f} s "
                         "spent loading",
                fix="raise OLLAMA_KEEP_ALIVE (e.g. 1h, or -1 to keep models loaded) or send keep_alive with "
                    "requests; this is configuration, not concurrency",
            ))
    # Reloads first: they also make requests look slow alone, so they are the cause to fix first.
    return sorted(findings, key=lambda f: f.kind != "keep_alive_reloads")


def decide(
    *,
    fit: ParallelismFit | None,
    queue_share: float | None,
    outgrown_queue_share: float,
    timeout_crossing: int | None,
    reference_concurrency: float,
    signs: list[Sign],
    findings: list[Finding],
    timeout_rate: float | None,
    max_timeout_rate: float,
    have_data: bool,
    queue_share_range: tuple[float, float] | None = None,
) -> tuple[Verdict, Problem, list[str]]:
    """Verdict, the problem's kind and every reason, in the order a reader should see them."""
    present = [s for s in signs if s.status == "present"]
    reasons: list[str] = []
    if not have_data:
        return "inconclusive", "unknown", [
            "no evidence: the probe did not complete and no log or baseline samples were available; "
            "run with --url to probe Ollama or --log to read its log"
        ]
    queue_bound = queue_share is not None and queue_share >= outgrown_queue_share
    crosses = timeout_crossing is not None and timeout_crossing <= reference_concurrency
    timeouts = timeout_rate is not None and timeout_rate > max_timeout_rate
    concurrency = queue_bound or crosses or len(present) >= 3 or (timeouts and queue_share is not None
                                                                    and queue_share > 0.25)
    # A share read off the fit is only as sure as the fit: when the threshold lies inside the share's range over
    # the 95% interval on k, the queueing evidence alone cannot decide.
    undecided = queue_share_range is not None and queue_share_range[0] < outgrown_queue_share <= queue_share_range[1]
    if fit is not None:
        reasons.append(f"effective parallelism {fit.describe()} "
                       f"(one request alone: {fit.service_ms / 1000:.2f} s, fit R^2 {fit.r_squared:.2f})")
    if queue_share is not None:
        spread = "" if queue_share_range is None else \
            f", {queue_share_range[0]:.0%}-{queue_share_range[1]:.0%} across the interval on k"
        reasons.append(f"{queue_share:.0%} of latency is queueing at concurrency {reference_concurrency:g}{spread} "
                       f"(outgrown above {outgrown_queue_share:.0%})")
    if timeout_crossing is not None:
        reasons.append(f"p95 latency reaches the client timeout from concurrency {timeout_crossing}")
    if timeout_rate is not None:
        reasons.append(f"{timeout_rate:.1%} of requests reached the client timeout")
    reasons.append(f"{len(present)} of {len(signs)} outgrown signs present"
                   + (": " + ", ".join(s.id for s in present) if present else ""))
    if findings:
        problem: Problem = "hardware_or_model_size" if findings[0].kind == "slow_at_concurrency_1" \
            else "keep_alive_reloads"
        lead = [f"not a concurrency problem: {f.evidence}; {f.fix}" for f in findings]
        if concurrency:
            lead.append("queueing is present too: fix the above first, then diagnose again")
        return "stay", problem, lead + reasons
    others = crosses or len(present) >= 3 or timeouts
    if undecided and not others:
        return "inconclusive", "unknown", [
            "the fit cannot tell whether queueing passes the threshold: its 95% interval on the slot count spans "
            "both sides -- probe more levels (above the knee) or more requests per level"
        ] + reasons
    if concurrency:
        return "migrate", "concurrency", ["requests queue for Ollama's slots: vLLM's continuous batching "
                                          "serves them together"] + reasons
    if fit is None and queue_share is None:
        return "inconclusive", "unknown", ["too little data to fit latency against concurrency"] + reasons
    return "stay", "none", ["Ollama keeps up with this load: queueing is below the outgrown threshold"] + reasons
