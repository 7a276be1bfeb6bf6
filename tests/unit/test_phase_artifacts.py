"""What a phase's Markdown artifact looks like: headings and tables, never a JSON dump."""

from __future__ import annotations

from pydantic import BaseModel

from o2v.deploy.results import Deployment
from o2v.inventory.types import Inventory
from tasks.common import LevelProgress, _markdown, file_link, table_artifact


class Row(BaseModel):
    name: str
    size_gib: float | None = None


class Result(BaseModel):
    verdict: str
    rows: list[Row]
    notes: list[str]
    nested: dict[str, int]


def test_a_result_without_its_own_markdown_becomes_tables_under_headings() -> None:
    result = Result(verdict="pass", rows=[Row(name="a|b", size_gib=1.5), Row(name="c")], notes=["x"], nested={"n": 1})
    text = _markdown("plan", "succeeded", {"url": "http://v"}, result)
    assert text.startswith("# plan: succeeded\n")
    assert "| verdict | pass |" in text
    assert "## rows\n\n| name | size_gib |\n|---|---|\n| a\\|b | 1.5 |\n| c | - |" in text
    assert "## notes\n\n- x" in text
    assert "## nested\n\n| field | value |\n|---|---|\n| n | 1 |" in text
    assert "```json" not in text


def test_the_deploy_and_inventory_artifacts_are_readable() -> None:
    deploy = Deployment(name="vllm", backend="process", url="http://h:8000", fingerprint="f", health_wait_s=2.0)
    assert "| url | http://h:8000 |" in _markdown("deploy", "succeeded", {}, deploy)
    inventory = _markdown("inventory", "succeeded", {}, Inventory(ollama_url="http://o:11434"))
    assert "## Models" in inventory
    assert "{" not in inventory.split("## Models")[0]


def test_report_files_are_links() -> None:
    assert file_link("/tmp/r/latency.png") == "[latency.png](file:///tmp/r/latency.png)"


def test_outside_a_flow_run_the_table_and_progress_artifacts_are_skipped() -> None:
    table_artifact("comparison", ["level"], [["1"]], "plain library use")
    progress = LevelProgress("validate-progress", 4, "levels")
    progress()
    progress.finish()
    assert (progress.artifact_id, progress.done) == (None, 1)
