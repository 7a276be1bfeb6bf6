"""Thin Prefect tasks over o2v.decommission: the assessment, the retirement, the rollback to Ollama."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from o2v.approvals.models import Answer
from o2v.config import Settings
from o2v.decommission.models import DecommissionResult, RestoreResult
from o2v.decommission.restore import restore_ollama
from o2v.decommission.run import assess, retire
from o2v.gpu.verify import source_from_settings
from o2v.store import Store


@task(name="decommission-assess", tags=["decommission"], cache_policy=NO_CACHE)
def assess_task(settings: Settings, store: Store) -> DecommissionResult:
    """Refusals, stability over the window, stragglers and routes: read-only."""
    return assess(settings, store)


@task(name="decommission-retire", tags=["decommission"], cache_policy=NO_CACHE)
def retire_task(settings: Settings, store: Store, ready: DecommissionResult, answer: Answer) -> DecommissionResult:
    """Stop Ollama keeping its container, image and volume; final compose; GPU memory freed."""
    return retire(settings, store, ready, answer, gpu=source_from_settings(settings))


@task(name="rollback-to-ollama", tags=["rollback"], cache_policy=NO_CACHE)
def restore_task(settings: Settings, store: Store, *, reason: str, actor: str) -> RestoreResult:
    """Ollama from its kept container, healthy, then every client routed back to it."""
    return restore_ollama(settings, store, reason=reason, actor=actor)
