"""`o2v clients patch`: mechanical changes as diffs, everything else listed for a person."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from o2v.cli import app
from o2v.inventory.patch import patch_clients, write_patches
from o2v.inventory.python_port import port_ollama_chat_calls
from o2v.inventory.scan import scan_tree
from o2v.inventory.types import Inventory

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample_repo"
VLLM = "http://gpu-box:8000"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The sample client tree as a git repository, as a team's would be."""
    root = tmp_path / "team-app"
    shutil.copytree(SAMPLE, root)
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=root, check=True)
    return root


def inventory_of(*roots: Path) -> Inventory:
    return Inventory(ollama_url="http://gpu-box:11434", integration_points=[p for r in roots for p in scan_tree(r)])


def test_the_sample_tree_patch_applies_and_changes_only_what_is_mechanical(repo: Path, tmp_path: Path) -> None:
    [patch] = patch_clients(inventory_of(repo), base_url=VLLM, served_names={"llama3.1:8b": "llama-3.1-8b"})
    written = write_patches([patch], tmp_path / "out")
    diff_file = tmp_path / "out" / "team-app.patch"
    assert diff_file in written
    subprocess.run(["git", "apply", "--check", str(diff_file)], cwd=repo, check=True)
    subprocess.run(["git", "apply", str(diff_file)], cwd=repo, check=True)

    openai_client = (repo / "app/openai_client.py").read_text()
    assert 'OpenAI(base_url="http://gpu-box:8000/v1", api_key="not-required")' in openai_client
    assert "# Before the move we used: client = OpenAI(base_url=\"http://localhost:11434/v1\"" in (
        repo / "app/openai_client.py"
    ).read_text(), "comments are not code: left alone"
    compose = (repo / "deploy/docker-compose.yml").read_text()
    assert "OPENAI_BASE_URL: http://gpu-box:8000/v1" in compose
    assert "LLM_MODEL: llama-3.1-8b" in compose
    smoke = (repo / "scripts/smoke.sh").read_text()
    assert "curl -s http://gpu-box:8000/v1/chat/completions" in smoke
    assert "curl -s http://127.0.0.1:11434/api/tags" in smoke, "a native call is never rewritten blindly"
    native = (repo / "app/chat_native.py").read_text()
    assert "import ollama" not in native
    assert "from openai import OpenAI" in native
    assert 'reply = _vllm.chat.completions.create(model="llama-3.1-8b"' in native
    assert "return reply.choices[0].message.content" in native
    assert 'json={"model": "llama3.1:8b"' in native, "the raw /api/generate call still talks to Ollama: its tag stays"
    compile(native, "chat_native.py", "exec")

    left = {(m.file, m.kind) for m in patch.manual}
    assert ("app/chat_native.py", "native-endpoint") in left
    assert ("scripts/smoke.sh", "native-endpoint") in left
    assert ("web/src/api.ts", "ollama-sdk") in left
    assert ("notebooks/explore.ipynb", "ollama-sdk") in left
    assert (".env", "ollama-url") in left
    manual = (tmp_path / "out" / "MANUAL.md").read_text()
    assert "| web/src/api.ts | 3 | ollama-sdk |" in manual
    assert f"git -C {repo} apply" in manual


def test_one_patch_per_repository(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other" / "team-app"  # same folder name: the patch files must not overwrite each other
    other.mkdir(parents=True)
    (other / "client.py").write_text('from openai import OpenAI\nc = OpenAI(base_url="http://ollama:11434/v1")\n')
    patches = patch_clients(inventory_of(repo, other), base_url=VLLM, served_names={})
    assert [Path(p.root) for p in patches] == [repo.resolve(), other.resolve()]
    names = sorted(p.name for p in write_patches(patches, tmp_path / "out"))
    assert names == ["MANUAL.md", "team-app-2.patch", "team-app.patch"]


def test_a_required_api_key_is_left_to_a_person_never_written(repo: Path) -> None:
    [patch] = patch_clients(inventory_of(repo), base_url=VLLM, served_names={}, key_required=True)
    assert any(m.file == "app/openai_client.py" and "API key" in m.reason for m in patch.manual)
    assert "api_key=os.environ.get(\"VLLM_API_KEY\"" in patch.diff


def test_a_file_changed_or_gone_since_the_scan_is_reported_not_patched(repo: Path) -> None:
    inv = inventory_of(repo)
    (repo / "app" / "openai_client.py").unlink()
    [patch] = patch_clients(inv, base_url=VLLM, served_names={})
    assert "app/openai_client.py" not in patch.files_changed
    assert any(m.file == "app/openai_client.py" and "not found" in m.reason for m in patch.manual)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('r = ollama.chat(model="m", messages=[], options={"temperature": 0})\nprint(r["message"]["content"])\n',
         "options"),
        ('r = ollama.chat(model="m", messages=[], stream=True)\nfor c in r:\n    print(c)\n', "stream"),
        ('r = ollama.chat(model="m", messages=[])\nprint(r)\n', "used other than"),
        ('a, b = ollama.chat(model="m", messages=[]), 1\n', None),
    ],
)
def test_python_calls_that_are_not_mechanical_are_blocked_with_the_reason(body: str, why: str | None) -> None:
    source = "import ollama\n\n" + body
    ported = port_ollama_chat_calls(source, base_url=VLLM, renames={})
    assert ported.source == source, "nothing changes when nothing can be ported"
    assert ported.changes == []
    if why:
        assert why in " ".join(ported.blockers.values())


def test_a_ported_module_keeps_other_ollama_calls_and_its_import() -> None:
    source = textwrap.dedent(
        """\
        import ollama


        def ask(p):
            reply = ollama.chat(model="m", messages=[{"role": "user", "content": p}])
            return reply["message"]["content"]


        def models():
            return ollama.list()
        """
    )
    ported = port_ollama_chat_calls(source, base_url=VLLM, renames={"m": "served-m"})
    assert "import ollama\nfrom openai import OpenAI\nimport os\n" in ported.source
    assert 'model="served-m"' in ported.source
    assert "return ollama.list()" in ported.source
    assert [line for line, _ in ported.changes] == [5]
    compile(ported.source, "m.py", "exec")


def test_cli_writes_patches_and_refuses_bad_input(repo: Path, tmp_path: Path) -> None:
    inventory_file = tmp_path / "inventory.json"
    inventory_file.write_text(inventory_of(repo).model_dump_json())
    runner = CliRunner()
    done = runner.invoke(app, ["clients", "patch", "--inventory", str(inventory_file), "--out", str(tmp_path / "p"),
                               "--base-url", VLLM])
    assert done.exit_code == 0, done.output
    assert "place(s) left for a person" in done.output
    assert (tmp_path / "p" / "team-app.patch").exists()

    bad = tmp_path / "bad.json"
    bad.write_text('{"models": 3}')
    done = runner.invoke(app, ["clients", "patch", "--inventory", str(bad)])
    assert done.exit_code == 2
    assert "is not an o2v inventory" in done.output
    done = runner.invoke(app, ["clients", "patch", "--inventory", str(tmp_path / "missing.json")])
    assert done.exit_code == 2
    assert "cannot read" in done.output
    done = runner.invoke(app, ["clients", "patch", "--inventory", str(inventory_file), "--base-url", "gpu-box:80"])
    assert done.exit_code == 2
    assert "must be an http(s) URL" in done.output
