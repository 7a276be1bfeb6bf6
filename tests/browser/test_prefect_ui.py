"""The Prefect UI as the team uses it, in headless Chromium: deployments, the Custom run form, a rehearsal's
artifacts, and an approval answered in the resume form.

One real `prefect server start` (with its UI) for the module; prefect.yaml's deployments applied with
`prefect deploy --all`, and a process worker running what the form starts. With O2V_SCREENSHOTS=docs/screenshots
the test keeps what the browser showed, for the docs.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from support.browser import VIEWPORT, screenshot
from support.prefect_server import ROOT, PrefectServer, api_at

from flows.migrate import MigrateParameters
from o2v.approvals.models import Answer, Question
from o2v.approvals.pause import ask, current_flow_run_id
from o2v.phases import PHASES
from o2v.rehearse import REHEARSAL_CONCURRENCY

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

MIGRATION_ID = "ui-rehearsal"
TALL = {"width": 1280, "height": 1000}


def prefect_yaml_deployments() -> list[dict[str, Any]]:
    """Whatever prefect.yaml deploys: the list grows with it (cutover, decommission, ...)."""
    return list(yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"])


def deployment_id(server: PrefectServer, name: str) -> str:
    found = httpx.post(f"{server.api_url}/deployments/filter", json={"deployments": {"name": {"any_": [name]}}})
    found.raise_for_status()
    [deployment] = found.json()
    return str(deployment["id"])


def flow_runs(server: PrefectServer, deployment: str) -> list[dict[str, Any]]:
    body = {"deployments": {"id": {"any_": [deployment]}}}
    found = httpx.post(f"{server.api_url}/flow_runs/filter", json=body)
    found.raise_for_status()
    return list(found.json())


def new_run(server: PrefectServer, deployment: str, timeout_s: float = 60) -> str:
    """The run the form just created (the UI goes back to the deployment page and says so in a toast)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = flow_runs(server, deployment)
        if runs:
            return str(runs[0]["id"])
        time.sleep(0.5)
    raise AssertionError(f"no flow run of deployment {deployment} appeared within {timeout_s} s")


def wait_for_state(server: PrefectServer, run_id: str, done: set[str], timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = httpx.get(f"{server.api_url}/flow_runs/{run_id}").json()
        if run.get("state_type") in done:
            return run
        time.sleep(1)
    raise AssertionError(f"flow run {run_id} is still {run.get('state_type')} after {timeout_s} s")


def schema_property(page: Any, label: str, within: Any = None) -> Any:
    """One field of a Prefect schema form, found by its label as a person reads it."""
    labelled = page.locator(".schema-form-property__label", has_text=label)
    return (within or page).locator(".schema-form-property").filter(has=labelled).last


def title(field: str) -> str:
    return field.replace("_", " ").title()


# -- deployments -----------------------------------------------------------------------------------------


def test_every_deployment_is_listed_and_the_baseline_monitor_shows_its_schedule(
    page: Any, ui_server: PrefectServer
) -> None:
    from playwright.sync_api import expect

    expected = prefect_yaml_deployments()
    assert {"migrate", "baseline-monitor", "rollback"} <= {d["name"] for d in expected}
    page.goto("/deployments")
    expect(page.get_by_text(f"{len(expected)} Deployments")).to_be_visible()
    table = page.locator("table")
    for deployment in expected:
        expect(table.get_by_role("link", name=deployment["name"], exact=True).first).to_be_visible()
    screenshot(page, "deployments")

    page.goto(f"/deployments/deployment/{deployment_id(ui_server, 'baseline-monitor')}")
    # prefect.yaml: "*/15 8-18 * * 1-5", shown in words
    expect(page.get_by_text("Every 15 minutes, between 08:00 AM and 06:59 PM, Monday through Friday")).to_be_visible()


# -- the Custom run form -----------------------------------------------------------------------------------


def test_the_custom_run_form_shows_every_parameter_and_refuses_an_invalid_one(
    page: Any, ui_server: PrefectServer
) -> None:
    from playwright.sync_api import expect

    migrate = deployment_id(ui_server, "migrate")
    page.goto(f"/deployments/deployment/{migrate}/run")
    for name, field in MigrateParameters.model_fields.items():
        prop = schema_property(page, title(name))
        expect(prop).to_be_visible()
        assert field.description
        expect(prop.locator(".schema-form-property__description")).to_have_text(field.description)
    screenshot(page, "custom-run-form")

    from_phase = schema_property(page, "From Phase")
    from_phase.locator(".schema-form-property-menu button").click()
    page.get_by_text("Use JSON input").click()
    from_phase.locator("textarea").fill('"everything"')
    page.get_by_role("button", name="Submit").click()
    expect(from_phase).to_contain_text("'everything' is not valid")
    from_phase.scroll_into_view_if_needed()
    screenshot(page, "custom-run-refused")
    assert page.url.endswith("/run"), "an invalid value must keep the form open"
    assert flow_runs(ui_server, migrate) == [], "no run may start from an invalid form"


@pytest.fixture(scope="module")
def ui_rehearsal(browser: Any, ui_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The rehearsal, started as a person would: the Custom run form, with the rehearsal's migration.yaml."""
    from playwright.sync_api import expect

    from o2v.deploy import teardown
    from o2v.rehearse import OLLAMA_SIM_ARGS, rehearsal_config
    from o2v.simulate.process import SimulatorProcess, free_port

    workdir = tmp_path_factory.mktemp("ui-rehearsal")
    with SimulatorProcess("ollama", args=OLLAMA_SIM_ARGS) as ollama:
        config = rehearsal_config(workdir, ollama.url, free_port(), "from-the-config")
        # The test is about what the UI shows, not the gate: timing on a loaded 2-core runner must not fail it.
        config["thresholds"] = {"max_single_stream_p95_ratio": 10.0}
        config_path = workdir / "migration.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        context = browser.new_context(viewport=VIEWPORT, base_url=ui_server.api_url.removesuffix("/api"))
        page = context.new_page()
        try:
            migrate = deployment_id(ui_server, "migrate")
            page.goto(f"/deployments/deployment/{migrate}/run")
            for label, value in (("Config Path", str(config_path)), ("Migration Id", MIGRATION_ID)):
                prop = schema_property(page, label)
                prop.get_by_role("button", name="str", exact=True).click()
                prop.locator("textarea").fill(value)
                expect(prop.locator("textarea")).to_have_value(value)
            page.get_by_role("button", name="Submit").click()
            # A submitted form leaves /run for the deployment's page; one that stays shows why (slow on a busy runner).
            expect(page).not_to_have_url(re.compile(r"/run$"), timeout=90_000)
            run_id = new_run(ui_server, migrate)
            run = wait_for_state(ui_server, run_id, {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}, 420)
            assert run["state_type"] == "COMPLETED", run["state"]
            yield run_id
        finally:
            context.close()
            teardown(config["vllm"]["container_name"], "process", keep_logs_dir=workdir / "logs", workdir=workdir)


def test_a_run_from_the_form_shows_its_phases_under_its_migration_id(page: Any, ui_rehearsal: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"/runs/flow-run/{ui_rehearsal}")
    expect(page.get_by_text(f"migrate-{MIGRATION_ID}").first).to_be_visible()
    expect(page.get_by_text("Completed").first).to_be_visible()
    expect(page.get_by_text(f"migration {MIGRATION_ID}, config hash").first).to_be_visible()  # the Logs tab
    screenshot(page, "flow-run")
    page.get_by_text("Task Runs", exact=True).click()
    expect(page.get_by_text(f"{len(PHASES)} Task runs").first).to_be_visible()
    for phase in PHASES:
        expect(page.get_by_text(f"{phase}-{MIGRATION_ID}").first).to_be_visible()


# -- artifacts ---------------------------------------------------------------------------------------------


def artifacts(server: PrefectServer, run_id: str) -> dict[str, dict[str, Any]]:
    found = httpx.post(f"{server.api_url}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    found.raise_for_status()
    return {a["key"]: a for a in found.json() if a.get("key")}


def test_the_rehearsal_artifacts_render_as_headings_tables_and_links(
    page: Any, ui_server: PrefectServer, ui_rehearsal: str
) -> None:
    from playwright.sync_api import expect

    made = artifacts(ui_server, ui_rehearsal)
    phase_keys = [phase.replace("_", "-") for phase in PHASES]
    assert set(phase_keys) | {"comparison", "validate-progress"} <= set(made), sorted(made)

    for key in phase_keys:
        page.goto(f"/artifacts/artifact/{made[key]['id']}")
        body = page.locator("article.markdown-renderer", has=page.locator("h1"))  # not the description above it
        expect(body.locator("h1").first).to_contain_text(f"{key.replace('-', '_')}: succeeded")
        expect(body.locator("table").first).to_be_visible()
        shown = body.inner_text()
        assert "```" not in shown, f"{key} shows a code block"
        assert '": {' not in shown, f"{key} shows raw JSON"
        if key == "inventory":
            expect(body.locator("h2", has_text="Models")).to_be_visible()
            screenshot(page, "artifact-inventory")
        if key == "validate":
            for name in ("latency.png", "throughput.png", "index.html"):
                link = body.get_by_role("link", name=name)
                expect(link).to_have_attribute("href", re.compile("^file:///.*/" + re.escape(name) + "$"))
            body.get_by_role("link", name="index.html").scroll_into_view_if_needed()
            screenshot(page, "artifact-validate")

    page.goto(f"/artifacts/artifact/{made['comparison']['id']}")
    table = page.locator("table").first
    for column in ("concurrency", "E2E p95 Ollama", "E2E p95 vLLM"):
        expect(table.locator("th", has_text=column).first).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(len(REHEARSAL_CONCURRENCY))  # one row per compared level
    screenshot(page, "artifact-comparison")

    progress = httpx.get(f"{ui_server.api_url}/artifacts/{made['validate-progress']['id']}").json()
    assert (progress["type"], progress["data"]) == ("progress", 100.0)


# -- an approval answered in the resume form ----------------------------------------------------------------


class Console:
    """Asks nobody: the person answers in the Prefect UI."""

    def ask(self, question: Question) -> dict[str, str] | None:
        return None

    def answered(self, posted: dict[str, str] | None, question: Question, answer: Answer) -> None:
        return None


EVIDENCE = "### Traffic so far\n\n| client | p95 TTFT ms | errors |\n|---|---|---|\n| ci-bot | 41 | 0 |"


def ask_in_a_thread(server: PrefectServer, outcome: dict[str, Any]) -> threading.Thread:
    from prefect import flow

    @flow(name="approval-check", flow_run_name="cutover-ui-check-stage-1")
    def waiting() -> Answer:
        question = Question(flow_run_id=current_flow_run_id(), key="stage-1", migration_id="ui-check",
                            title="Move ci-bot to vLLM", evidence_markdown=EVIDENCE)
        outcome["run"] = question.flow_run_id
        return ask(question, asker=Console(), audit=None, timeout_s=240, poll_interval_s=0.5)

    def target() -> None:
        with api_at(server.api_url):
            outcome["answer"] = waiting()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_a_paused_run_shows_the_evidence_and_the_resume_form_approves_it(
    page: Any, ui_server: PrefectServer
) -> None:
    from playwright.sync_api import expect

    outcome: dict[str, Any] = {}
    thread = ask_in_a_thread(ui_server, outcome)
    deadline = time.monotonic() + 120
    while "run" not in outcome and time.monotonic() < deadline:
        time.sleep(0.2)
    wait_for_state(ui_server, outcome["run"], {"PAUSED"}, 120)

    # Prefect's resume dialog gives the evidence what the form leaves over: in a 1280x800 window that is one line
    # of a scroll box, so a person approving would use a taller window (this one), where all of it shows.
    page.set_viewport_size(TALL)
    page.goto(f"/runs/flow-run/{outcome['run']}")
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    evidence = dialog.locator("article.markdown-renderer").first
    expect(evidence.locator("h2", has_text="Move ci-bot to vLLM")).to_be_visible()
    expect(evidence.locator("h3", has_text="Traffic so far")).to_be_visible()
    expect(evidence.locator("table td", has_text="ci-bot")).to_be_visible()
    shown, needed = evidence.evaluate("e => [e.clientHeight, e.scrollHeight]")
    assert shown >= needed, f"the evidence is clipped to {shown} of {needed} px"
    screenshot(page, "approval-resume-form")

    decision = schema_property(page, "Decision", within=dialog)
    decision.locator(".p-select-button__control").focus()
    page.keyboard.press("ArrowDown")  # opens the choices, as a keyboard user would
    expect(page.get_by_role("option")).to_have_text(["approve", "reject"])
    page.get_by_role("option", name="approve", exact=True).click()
    expect(decision).to_contain_text("approve")
    approver = schema_property(page, "Approver", within=dialog).locator("textarea")
    approver.fill("ui-tester")
    expect(approver).to_have_value("ui-tester")
    dialog.get_by_role("button", name="Submit").click()
    # A submitted form closes the dialog and resumes the run; one that stays open shows why (a busy runner).
    expect(dialog).to_be_hidden(timeout=60_000)

    thread.join(120)
    state = httpx.get(f"{ui_server.api_url}/flow_runs/{outcome['run']}").json().get("state_type")
    assert "answer" in outcome, f"the run was not resumed: it is {state}"
    answer = outcome["answer"]
    assert (answer.decision, answer.via, answer.approver) == ("approve", "prefect-ui", "ui-tester")
    assert wait_for_state(ui_server, outcome["run"], {"COMPLETED"}, 60)["state_type"] == "COMPLETED"


# -- the newer UI (/v2), where the server's root now sends a browser -------------------------------------


def test_the_v2_ui_lists_the_deployments_and_shows_the_custom_run_form(page: Any, ui_server: PrefectServer) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    page.wait_for_url("**/v2/**")
    page.goto("/v2/deployments")
    for deployment in prefect_yaml_deployments():
        expect(page.get_by_text(deployment["name"], exact=True).first).to_be_visible()
    page.goto(f"/v2/deployments/deployment/{deployment_id(ui_server, 'baseline-monitor')}")
    expect(page.get_by_text("Every 15 minutes, between 08:00 AM and 06:59 PM, Monday through Friday")).to_be_visible()

    page.goto(f"/v2/deployments/deployment/{deployment_id(ui_server, 'migrate')}")
    page.get_by_role("button", name="Run").first.click()
    page.get_by_role("menuitem", name="Custom run").click()
    for name, field in MigrateParameters.model_fields.items():
        expect(page.get_by_text(f"{title(name)} (Optional)", exact=True)).to_be_visible()
        expect(page.get_by_text(str(field.description), exact=True)).to_be_visible()
