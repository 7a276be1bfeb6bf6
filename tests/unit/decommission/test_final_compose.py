"""The final compose files: Ollama's service commented out (present, uncommentable), the rest live."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from o2v.config import Settings
from o2v.decommission.final_compose import final_document, render_final, uncomment, write_final_compose
from o2v.errors import ConfigError
from o2v.gpu import DockerRuntimes, RecordedNVML, verify_gpu
from o2v.inventory import Inventory, OllamaModel
from o2v.plan import make_plan, render_compose

GPUS = Path(__file__).parents[2] / "data" / "gpus"


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    s = Settings()
    report = verify_gpu(s, nvml=RecordedNVML(GPUS / "a100-80gb.json"),
                        docker=DockerRuntimes(engine_reachable=True, runtimes=["nvidia"]))  # fmt: skip
    inv = Inventory(ollama_url="http://127.0.0.1:11434", ollama_version="0.12.3",
                    models=[OllamaModel(name="llama3.1:8b", architecture="llama")])  # fmt: skip
    out = tmp_path / "reports" / "m1" / "compose"
    render_compose(make_plan(s, inv, report), out)
    return out


def test_final_files_comment_ollama_out_and_uncomment_back(rendered: Path, tmp_path: Path) -> None:
    written = write_final_compose(rendered, tmp_path / "final", migration_id="m1")
    assert [p.name for p in written] == ["docker-compose.gateway.yml", "docker-compose.side-by-side.yml"]
    for path in written:
        original = yaml.safe_load((rendered / path.name).read_text())
        text = path.read_text()
        final = yaml.safe_load(text)
        assert "ollama" not in final["services"]
        assert "  # ollama:" in text  # present, commented out, inside services:
        assert "ollama-models" in final["volumes"]  # the models' volume stays declared
        for service in final["services"].values():
            assert "ollama" not in (service.get("depends_on") or {})
        restored = yaml.safe_load(uncomment(text))
        assert restored["services"]["ollama"] == original["services"]["ollama"]


def test_the_gateway_keeps_its_dependency_on_vllm(rendered: Path, tmp_path: Path) -> None:
    (path, _) = write_final_compose(rendered, tmp_path / "final", migration_id="m1")
    gateway = yaml.safe_load(path.read_text())["services"]["gateway"]
    assert gateway["depends_on"] == {"vllm": {"condition": "service_started"}}


def test_a_file_without_ollama_gets_no_final_version(rendered: Path, tmp_path: Path) -> None:
    written = write_final_compose(rendered, tmp_path / "final", migration_id="m1")
    assert "docker-compose.vllm.yml" not in [p.name for p in written]


def test_a_list_of_dependencies_loses_ollama_and_an_empty_one_goes() -> None:
    services = {"ollama": {"image": "o"}, "a": {"depends_on": ["ollama"]}, "b": {"depends_on": ["ollama", "a"]}}
    data = {"services": services}
    live, removed = final_document(data)
    assert removed == {"image": "o"}
    assert live["services"] == {"a": {}, "b": {"depends_on": ["a"]}}


def test_no_ollama_service_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="expected a 'ollama' service"):
        render_final("services:\n  vllm:\n    image: v\n", header="")
