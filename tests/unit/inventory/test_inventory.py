from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest

from o2v.config import Settings
from o2v.errors import ServerUnreachable
from o2v.inventory import take_inventory, write_reports
from o2v.servers.logs import parse_lines

SAMPLE = Path(__file__).parents[2] / "data" / "sample_repo"

TAGS = {
    "models": [
        {
            "name": "llama3.1:8b",
            "model": "llama3.1:8b",
            "size": 4920753328,
            "digest": "a" * 64,
            "details": {"format": "gguf", "family": "llama", "parameter_size": "8.0B", "quantization_level": "Q4_K_M"},
        },
        {
            "name": "nomic-embed-text:latest",
            "model": "nomic-embed-text:latest",
            "size": 274302450,
            "digest": "b" * 64,
            "details": {
                "format": "gguf",
                "family": "nomic-bert",
                "parameter_size": "137M",
                "quantization_level": "F16",
            },
        },
    ]
}
SHOW = {
    "llama3.1:8b": {
        "parameters": 'num_ctx 8192\nstop "<|eot_id|>"',
        "capabilities": ["completion", "tools"],
        "details": {},
        "model_info": {
            "general.architecture": "llama",
            "general.parameter_count": 8030261248,
            "llama.context_length": 131072,
            "llama.block_count": 32,
            "llama.embedding_length": 4096,
            "llama.attention.head_count": 32,
            "llama.attention.head_count_kv": 8,
            "llama.vocab_size": 128256,
        },
    },
}
PS = {
    "models": [
        {
            "name": "llama3.1:8b",
            "model": "llama3.1:8b",
            "size": 6900000000,
            "digest": "a" * 64,
            "details": {},
            "expires_at": "2026-01-01T00:05:00Z",
            "size_vram": 6900000000,
            "context_length": 8192,
        }
    ]
}
LOG = [
    'time=2026-01-15T10:00:00.000Z level=INFO source=routes.go:1259 msg="server config" '
    'env="map[OLLAMA_CONTEXT_LENGTH:4096 OLLAMA_KEEP_ALIVE:5m0s OLLAMA_NUM_PARALLEL:2]"',
    '[GIN] 2026/01/15 - 10:23:45 | 200 |  2.345678901s |      172.17.0.5 | POST     "/api/chat"',
    '[GIN] 2026/01/15 - 10:24:45 | 200 |  1.2s |      172.17.0.5 | POST     "/v1/chat/completions"',
    '[GIN] 2026/01/15 - 10:25:45 | 500 |  41.5µs |      10.0.0.9 | POST     "/api/generate"',
    '[GIN] 2026/01/15 - 10:26:45 | 200 |  41.5µs |      172.17.0.5 | GET      "/api/tags"',
]


def fake_ollama(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/api/version":
        return httpx.Response(200, json={"version": "0.12.3"})
    if path == "/api/tags":
        return httpx.Response(200, json=TAGS)
    if path == "/api/ps":
        return httpx.Response(200, json=PS)
    if path == "/api/show":
        name = json.loads(request.content)["model"]
        if name not in SHOW:
            return httpx.Response(404, json={"error": f"model '{name}' not found"})
        return httpx.Response(200, json=SHOW[name])
    return httpx.Response(404, json={"error": "not found"})


def settings() -> Settings:
    return Settings(ollama={"log_source": "none"})  # type: ignore[arg-type]


def test_inventory_of_models_settings_points_and_clients(tmp_path: Path) -> None:
    inv = take_inventory(
        settings(), scan_paths=[SAMPLE], log_records=parse_lines(LOG), transport=httpx.MockTransport(fake_ollama)
    )
    assert inv.ollama_version == "0.12.3"
    llama = inv.models[0]
    assert (llama.architecture, llama.context_length, llama.head_count_kv, llama.num_ctx) == ("llama", 131072, 8, 8192)
    assert llama.quantization_level == "Q4_K_M"
    assert inv.models[1].show_error
    assert "not found" in inv.models[1].show_error
    assert inv.loaded[0].size_vram_bytes == 6900000000
    assert inv.settings.values["OLLAMA_NUM_PARALLEL"] == "2"
    assert inv.settings.sources["OLLAMA_NUM_PARALLEL"] == "server config log line"
    assert len(inv.integration_points) == 15
    first = inv.clients[0]
    assert (first.client_ip, first.requests, first.api) == ("172.17.0.5", 3, "native+openai")
    assert inv.clients[1].errors == 1

    paths = write_reports(inv, tmp_path)
    names = {p.name for p in paths}
    assert {"inventory.md", "models.csv", "integration_points.csv", "clients.csv"} <= names
    rows = list(csv.DictReader((tmp_path / "integration_points.csv").open()))
    assert len(rows) == 15
    assert rows[0]["file"] == ".env"
    markdown = (tmp_path / "inventory.md").read_text()
    assert "| app/openai_client.py | 4 | openai | openai-sdk |" in markdown
    assert "| notebooks/explore.ipynb | cell 1, line 3 | native |" in markdown


def test_missing_scan_path_is_reported(tmp_path: Path) -> None:
    inv = take_inventory(
        settings(), scan_paths=[tmp_path / "nope"], log_records=[], transport=httpx.MockTransport(fake_ollama)
    )
    assert any("does not exist" in p for p in inv.problems)


def test_unreachable_ollama_raises() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ServerUnreachable):
        take_inventory(settings(), transport=httpx.MockTransport(refuse))
