"""The Markdown a person reads before approving the decommission (the resume form, the Slack message)."""

from __future__ import annotations

from datetime import datetime

from checks.verdict import Verdict
from o2v.decommission.models import Blockers, KeptResources


def evidence_markdown(
    *, since: datetime, until: datetime, verdict: Verdict, blockers: Blockers, kept: KeptResources, rollback: str
) -> str:
    days = (until - since).total_seconds() / 86400
    lines = [
        f"**Window:** {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC ({days:.2f} days since the last "
        "cutover stage)",
        f"**Stability** (GX suite `decommission`, vLLM against the validation baseline): **{verdict.status}**",
    ]
    for name, value in sorted(verdict.figures.items()):
        lines.append(f"- {name}: {value:.4g}")
    if verdict.data_docs_url:
        lines.append(f"- Data Docs: {verdict.data_docs_url}")
    found = "; ".join(s.sentence() for s in blockers.stragglers)
    lines.append(f"**Stragglers:** {found or 'none: every request since the cutover came through the gateway'}")
    lines.append("**Routes:** every client on vLLM; **native options vLLM cannot honour:** none in use")
    lines += [
        f"**On approval:** {kept.stopped()}; kept: {kept.kept_list()}; the final compose files comment Ollama out.",
        f"**Way back:** `{rollback}` restarts it and routes every client back through the gateway.",
    ]
    return "\n\n".join(lines)
