"""An inconclusive validation pauses the real Prefect flow run; a person re-measures, accepts or rolls back.

The person is a second thread that finds the paused run through the Prefect API (the test harness's), reads
the evidence the form shows, and resumes it with ``resume_flow_run(..., run_input=...)`` as the UI would.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import flow

import o2v
from o2v.config import Settings, load_settings
from o2v.deploy import deploy, status, teardown
from o2v.errors import PhaseError
from o2v.gpu import verify_gpu
from o2v.inventory import take_inventory
from o2v.notify import ConsoleNotifier
from o2v.phases import PhaseRunner
from o2v.plan import make_plan
from o2v.simulate.process import SimulatorProcess, free_port
from o2v.store import Store
from tasks.common import MigrationContext
from tasks.deploy import deploy_secrets
from tasks.validate import ValidationResult, validate_phase

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(300)]
RECORDED_GPU = Path(o2v.__file__).parent / "data" / "rehearsal-gpu.json"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Settings, Any, Any]]:
    """Both simulators up and a plan; 12 requests per level against min_samples 20: always inconclusive."""
    with SimulatorProcess("ollama", args=["--ttft-ms", "5", "--itl-ms", "1", "--load-ms", "20"]) as ollama:
        config = {
            "migration_id": "pause-test",
            "workdir": str(tmp_path / "work"),
            "ollama": {"url": ollama.url, "log_source": "none"},
            "vllm": {
                "backend": "process",
                "port": free_port(),
                "container_name": f"o2v-pause-{tmp_path.name[-8:]}",
                "command": [sys.executable, "-m", "o2v.simulate", "vllm", "--ttft-ms", "5", "--itl-ms", "1"],
                "hf_token": "hf_simulator_needs_no_token",
                "health_timeout_s": 60,
            },
            "gpu": {"recorded_devices": str(RECORDED_GPU)},
            "loadtest": {"concurrency": [1, 2], "requests_per_level": 12, "max_tokens": 8, "warmup_requests": 1},
            "thresholds": {"min_samples": 20},
            "store": {"url": f"sqlite:///{tmp_path / 'o2v.db'}"},
        }
        path = tmp_path / "migration.yaml"
        path.write_text(yaml.safe_dump(config))
        settings = load_settings(path)
        plan = make_plan(settings, take_inventory(settings), gpu_report=verify_gpu(settings))
        deployment = deploy(plan.launch_spec(), "process", secrets=deploy_secrets(settings), workdir=settings.workdir)
        try:
            yield settings, plan, deployment
        finally:
            teardown(settings.vllm.container_name, "process", workdir=settings.workdir)


def run_validate(settings: Settings, plan: Any, deployment: Any) -> ValidationResult:
    store = Store(settings.store.url)
    ctx = MigrationContext(
        settings=settings, store=store, runner=PhaseRunner(store, settings.migration_id, settings.config_hash()),
        notifier=ConsoleNotifier(StringIO(), artifacts=False), reports_dir=settings.workdir / "reports",
    )  # fmt: skip

    @flow(name="validate-pause-test")
    def gate() -> ValidationResult:
        return validate_phase(ctx, plan, deployment)

    return gate()


class Person:
    """Answers each pause in turn with the next of ``answers``; keeps what each form showed."""

    def __init__(self, answers: list[dict[str, str]]) -> None:
        self.answers = answers
        self.descriptions: list[str] = []
        self.errors: list[BaseException] = []
        self.since = datetime.now(UTC)
        context = contextvars.copy_context()  # the harness's API settings live in context variables
        self.thread = threading.Thread(target=context.run, args=(self._run,), daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for answer in self.answers:
                self.descriptions.append(self._answer(answer))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)

    def _answer(self, answer: dict[str, str]) -> str:
        from prefect import get_client
        from prefect.client.schemas.filters import (
            FlowFilter,
            FlowFilterName,
            FlowRunFilter,
            FlowRunFilterStartTime,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType
        from prefect.flow_runs import resume_flow_run
        from prefect.input.run_input import keyset_from_paused_state

        deadline = time.monotonic() + 120
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                # This test's gate only: the session's harness may hold runs other tests left paused.
                paused = client.read_flow_runs(
                    flow_filter=FlowFilter(name=FlowFilterName(any_=["validate-pause-test"])),
                    flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
                        start_time=FlowRunFilterStartTime(after_=self.since),
                    ),
                )
                ready = [r for r in paused if r.state and r.state.state_details.run_input_keyset]
                if ready:
                    run = ready[0]
                    assert run.state is not None
                    keyset = keyset_from_paused_state(run.state)
                    description = client.read_flow_run_input(run.id, keyset["description"])
                    resume_flow_run(run.id, run_input=answer)
                    return str(description)
                time.sleep(0.5)
        raise TimeoutError("no paused flow run appeared within 120 s")


def test_inconclusive_pauses_then_re_measure_then_accept(setup: Any) -> None:
    settings, plan, deployment = setup
    person = Person(
        [
            {"decision": "re-measure", "approver": "bob", "comment": "Ollama was busy"},
            {"decision": "accept", "approver": "alice", "comment": "same figures twice; vLLM is fine"},
        ]
    )
    result = run_validate(settings, plan, deployment)
    person.thread.join(timeout=30)
    assert person.errors == []
    assert result.verdict == "accepted"
    assert result.attempts == 2
    assert result.decided_by == "alice"
    first = person.descriptions[0]
    assert "is inconclusive (measurement 1)" in first
    assert "Nothing was rolled back." in first
    assert "only 12 successful vLLM and 12 successful Ollama requests" in first
    assert "other traffic on Ollama during the" in first
    assert "unknown (ollama.log_source is none" in first
    assert "is inconclusive (measurement 2)" in person.descriptions[1]
    audit = [(e.actor, e.action, e.detail.get("comment")) for e in Store(settings.store.url).audit_log()]
    assert audit == [
        ("bob", "validation-re-measure", "Ollama was busy"),
        ("alice", "validation-accept", "same figures twice; vLLM is fine"),
    ]
    assert status(settings.vllm.container_name, "process", workdir=settings.workdir).state == "running"


def test_inconclusive_then_roll_back_takes_vllm_down_and_fails(setup: Any) -> None:
    settings, plan, deployment = setup
    person = Person([{"decision": "roll-back", "approver": "carol", "comment": "not today"}])
    with pytest.raises(PhaseError, match=r"inconclusive \(roll-back\).* -- what to do: vLLM was rolled back"):
        run_validate(settings, plan, deployment)
    person.thread.join(timeout=30)
    assert person.errors == []
    actions = [(e.actor, e.action) for e in Store(settings.store.url).audit_log()]
    assert actions == [("carol", "validation-roll-back"), ("carol", "rollback")]
    assert status(settings.vllm.container_name, "process", workdir=settings.workdir).state != "running"


def test_outside_a_flow_run_inconclusive_fails_and_leaves_vllm_running(setup: Any) -> None:
    settings, plan, deployment = setup
    store = Store(settings.store.url)
    ctx = MigrationContext(
        settings=settings, store=store, runner=PhaseRunner(store, settings.migration_id, settings.config_hash()),
        notifier=ConsoleNotifier(StringIO(), artifacts=False), reports_dir=settings.workdir / "reports",
    )  # fmt: skip
    with pytest.raises(PhaseError, match=r"inconclusive \(fail\).* -- what to do: vLLM is still running at"):
        validate_phase.fn(ctx, plan, deployment)
    assert status(settings.vllm.container_name, "process", workdir=settings.workdir).state == "running"
    assert store.audit_log() == []


def test_the_accept_policy_passes_an_inconclusive_validation_and_audits_it(setup: Any) -> None:
    settings, plan, deployment = setup
    settings.thresholds.on_inconclusive = "accept"
    store = Store(settings.store.url)
    ctx = MigrationContext(
        settings=settings, store=store, runner=PhaseRunner(store, settings.migration_id, settings.config_hash()),
        notifier=ConsoleNotifier(StringIO(), artifacts=False), reports_dir=settings.workdir / "reports",
    )  # fmt: skip
    result = validate_phase.fn(ctx, plan, deployment)
    assert (result.verdict, result.decided_by) == ("accepted", "policy (thresholds.on_inconclusive=accept)")
    assert result.reasons  # the reasons it was not a pass stay with the result
    assert [(e.actor, e.action) for e in store.audit_log()] == [
        ("o2v-policy (thresholds.on_inconclusive=accept)", "accept-inconclusive")
    ]
