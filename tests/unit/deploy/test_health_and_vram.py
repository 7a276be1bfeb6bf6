"""Waiting for health against a real local HTTP server, and the VRAM reading from an NVML-shaped object."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from o2v.deploy.health import wait_for_health
from o2v.deploy.vram import GIB, read_vram
from o2v.errors import DeployError


class Flaky:
    """Answers 503 until ``ready_at`` (monotonic), then 200, like vLLM finishing its model load."""

    ready_at = 0.0


@pytest.fixture
def server() -> Iterator[tuple[str, type[Flaky]]]:
    state = type("State", (Flaky,), {})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/health" and time.monotonic() >= state.ready_at
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


def wait(url: str, timeout_s: float, died: object = None, logs: list[str] | None = None) -> float:
    return wait_for_health(
        name="vllm",
        url=url,
        path="/health",
        timeout_s=timeout_s,
        died=died or (lambda: None),  # type: ignore[arg-type]
        log_tail=lambda: logs or [],
        hint="look at the logs",
        interval_s=0.05,
    )


def test_waits_until_the_server_turns_healthy(server: tuple[str, type[Flaky]]) -> None:
    url, state = server
    state.ready_at = time.monotonic() + 0.4
    waited = wait(url, timeout_s=5)
    assert 0.3 <= waited < 3


def test_timeout_names_the_last_answer_and_shows_log_lines(server: tuple[str, type[Flaky]]) -> None:
    url, state = server
    state.ready_at = time.monotonic() + 60
    with pytest.raises(DeployError) as caught:
        wait(url, timeout_s=0.3, logs=["loading weights", "CUDA out of memory"])
    text = str(caught.value)
    assert "within 0.3 s" in text
    assert "HTTP 503" in text
    assert "CUDA out of memory" in text
    assert "What to do: look at the logs" in text


def test_a_dead_server_fails_at_once_instead_of_waiting(server: tuple[str, type[Flaky]]) -> None:
    url, state = server
    state.ready_at = time.monotonic() + 60
    started = time.monotonic()
    with pytest.raises(DeployError, match="exited with code 1"):
        wait(url, timeout_s=30, died=lambda: "the process exited with code 1")
    assert time.monotonic() - started < 5


def test_nothing_listening_is_reported_as_a_connection_error(port: int) -> None:
    with pytest.raises(DeployError, match="ConnectError"):
        wait(f"http://127.0.0.1:{port}", timeout_s=0.2)


def fake_nvml(used_gib: list[float], total_gib: float, *, fail_init: bool = False) -> SimpleNamespace:
    def init() -> None:
        if fail_init:
            raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    return SimpleNamespace(
        nvmlInit=init,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetHandleByIndex=lambda index: index,
        nvmlDeviceGetHandleByUUID=lambda uuid: 0,
        nvmlDeviceGetMemoryInfo=lambda handle: SimpleNamespace(
            used=int(used_gib[handle] * GIB), total=int(total_gib * GIB)
        ),
    )


def test_vram_sums_the_spec_devices() -> None:
    reading = read_vram(["0", "1"], nvml=fake_nvml([30.0, 10.0], 40.0))
    assert reading is not None
    assert (reading.used_gib, reading.total_gib) == (40.0, 80.0)
    assert reading.warnings() == []


def test_nearly_full_gpu_gives_a_warning() -> None:
    reading = read_vram(["0"], nvml=fake_nvml([39.5], 40.0))
    assert reading is not None
    assert "gpu_memory_utilization" in reading.warnings()[0]


def test_no_driver_means_no_figure() -> None:
    assert read_vram(["0"], nvml=fake_nvml([1.0], 40.0, fail_init=True)) is None
    assert read_vram([], nvml=fake_nvml([1.0], 40.0)) is None
