"""The runner against a real loopback HTTP server (fake_server): the real wire client code runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from o2v.errors import ServerError, ServerUnreachable
from o2v.loadgen import Workload, run_loadtest
from o2v.loadgen.runner import arrival_offsets
from o2v.store import Store

from .fake_server import FakeConfig, start


@pytest.fixture
async def fake(port: int) -> AsyncIterator[tuple[FakeConfig, str]]:
    cfg = FakeConfig()
    runner = await start(cfg, port)
    yield cfg, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def workload(url: str, **fields: object) -> Workload:
    base: dict[str, object] = {
        "url": url,
        "model": "m1",
        "concurrency": [4],
        "requests_per_level": 20,
        "warmup_requests": 0,
    }
    return Workload.model_validate(base | fields)


async def test_concurrency_level_measures_ttft_itl_and_tokens(fake: tuple[FakeConfig, str]) -> None:
    cfg, url = fake
    cfg.tokens, cfg.ttft_s, cfg.itl_s = 4, 0.05, 0.01
    result = await run_loadtest(workload(url, concurrency=[1, 4]))
    assert [lv.concurrency for lv in result.levels] == [1, 4]
    for level in result.levels:
        assert level.completed == 20
        assert level.failed == 0
        assert level.output_tokens_total == 80
        assert level.token_counts_from == "usage"
        assert 45 <= (level.ttft_ms.median or 0) <= 120
        assert 8 <= (level.itl_ms.median or 0) <= 40
    assert result.levels[1].request_throughput_rps > 2 * result.levels[0].request_throughput_rps
    assert len(result.samples) == 40
    assert not result.interrupted
    assert {s.concurrency for s in result.samples} == {1, 4}
    assert len(cfg.seen) == 41  # one check request (preflight) + 40 measured


async def test_ollama_native_api(fake: tuple[FakeConfig, str]) -> None:
    cfg, url = fake
    cfg.tokens = 3
    result = await run_loadtest(workload(url, api="ollama", backend="ollama"))
    level = result.levels[0]
    assert level.completed == 20
    assert level.output_tokens_total == 60
    assert cfg.seen[-1]["options"]["num_predict"] == 128
    assert all(s.backend == "ollama" for s in result.samples)


async def test_token_count_falls_back_to_chunks_without_usage(fake: tuple[FakeConfig, str]) -> None:
    cfg, url = fake
    cfg.tokens, cfg.usage = 6, False
    level = (await run_loadtest(workload(url))).levels[0]
    assert level.output_tokens_total == 120
    assert level.token_counts_from == "chunks"


async def test_error_kinds_are_counted_not_fatal(fake: tuple[FakeConfig, str]) -> None:
    cfg, url = fake
    cfg.fail_every = 4
    level = (await run_loadtest(workload(url, preflight=False))).levels[0]
    assert level.errors_by_kind == {"http_500": 5}
    assert level.completed == 15
    assert level.error_rate == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("knobs", "kind"),
    [({"disconnect_after": 2}, "disconnect"), ({"stream_error_after": 1}, "stream_error"), ({"hang_s": 2}, "timeout")],
)
async def test_failures_mid_stream(fake: tuple[FakeConfig, str], knobs: dict, kind: str) -> None:
    cfg, url = fake
    for key, value in knobs.items():
        setattr(cfg, key, value)
    result = await run_loadtest(workload(url, preflight=False, requests_per_level=4, request_timeout_s=0.3))
    assert result.levels[0].errors_by_kind == {kind: 4}
    assert all(s.error_kind == kind and not s.ok for s in result.samples)


async def test_rate_mode_constant_arrivals(fake: tuple[FakeConfig, str]) -> None:
    _, url = fake
    w = workload(url, mode="rate", rate_rps=[50.0], poisson=False, requests_per_level=20)
    level = (await run_loadtest(w)).levels[0]
    assert level.rate_rps == 50.0
    assert level.completed == 20
    assert 0.35 <= level.duration_s <= 0.8  # 20 arrivals 20 ms apart
    assert (level.client_queue_ms.median or 0) < 20


def test_arrival_schedules() -> None:
    poisson = arrival_offsets(10.0, 2000, poisson=True, seed=7, level=0)
    assert poisson == arrival_offsets(10.0, 2000, poisson=True, seed=7, level=0)
    assert poisson != arrival_offsets(10.0, 2000, poisson=True, seed=8, level=0)
    assert poisson != arrival_offsets(10.0, 2000, poisson=True, seed=7, level=1)
    assert poisson[-1] / 2000 == pytest.approx(0.1, rel=0.1)  # mean gap 1/rate
    assert arrival_offsets(4.0, 3, poisson=False, seed=0, level=0) == [0.25, 0.5, 0.75]
    ramped_times = arrival_offsets(10.0, 100, poisson=False, seed=0, level=0, ramp_s=4.0)
    assert ramped_times[0] > 0.1  # slower at the start of the ramp
    assert ramped_times[-1] == pytest.approx(10.0 + 2.0)  # the ramp costs half its length
    assert all(b > a for a, b in zip(ramped_times, ramped_times[1:], strict=False))


async def test_stop_keeps_what_was_measured(fake: tuple[FakeConfig, str]) -> None:
    cfg, url = fake
    cfg.ttft_s = 0.02
    stop = asyncio.Event()
    done_levels = []

    def on_level(level: object) -> None:
        done_levels.append(level)
        stop.set()

    result = await run_loadtest(workload(url, concurrency=[2, 4, 8]), stop=stop, on_level=on_level)
    assert result.interrupted
    assert len(result.levels) == 1
    assert result.levels[0].completed == 20


async def test_stop_mid_level_marks_it_interrupted(fake: tuple[FakeConfig, str]) -> None:
    cfg, url = fake
    cfg.ttft_s = 0.05
    stop = asyncio.Event()

    async def stop_once_the_level_runs() -> None:
        # Stop after a few level requests have reached the server, whatever the machine's speed (the preflight
        # sends one request first; a fixed delay could fire before the level even started on a busy machine).
        while len(cfg.seen) < 4:  # noqa: ASYNC110 - the fake server has no event to wait on
            await asyncio.sleep(0.01)
        stop.set()

    stopper = asyncio.create_task(stop_once_the_level_runs())
    result = await run_loadtest(workload(url, concurrency=[2], requests_per_level=1000), stop=stop)
    await stopper
    assert result.interrupted
    assert result.levels[0].interrupted
    assert 0 < result.levels[0].completed < 1000
    assert len(result.samples) == result.levels[0].requests


async def test_samples_go_to_the_store(fake: tuple[FakeConfig, str], tmp_path: Path) -> None:
    _, url = fake
    store = Store(f"sqlite:///{tmp_path / 'o2v.db'}")
    async with store.writer() as writer:
        result = await run_loadtest(workload(url, concurrency=[1, 2]), writer=writer)
    stored = store.samples(run_id=result.run_id)
    assert len(stored) == 40
    assert {s.source for s in stored} == {"loadtest"}
    assert all(s.ttft_ms is not None and s.output_tokens == 5 for s in stored)


# -- bad input: one clear error before any load ---------------------------------------------------------------
async def test_unreachable(port: int) -> None:
    with pytest.raises(ServerUnreachable, match="nothing answers at"):
        await run_loadtest(workload(f"http://127.0.0.1:{port}"))


async def test_unknown_model_lists_what_is_served(fake: tuple[FakeConfig, str]) -> None:
    cfg, url = fake
    with pytest.raises(ServerError, match=r"model 'nope' is not served .* it serves: m1"):
        await run_loadtest(workload(url, model="nope"))
    assert cfg.seen == []


async def test_html_page(fake: tuple[FakeConfig, str]) -> None:
    cfg, url = fake
    cfg.html = True
    with pytest.raises(ServerError, match="answered an HTML page"):
        await run_loadtest(workload(url))


async def test_wrong_api_type(port: int) -> None:
    app = web.Application()

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "m1"}]})

    app.router.add_get("/v1/models", models)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        with pytest.raises(ServerError, match="use --api openai"):
            await run_loadtest(workload(f"http://127.0.0.1:{port}", api="ollama"))
    finally:
        await runner.cleanup()


async def test_first_request_failing_stops_before_load(fake: tuple[FakeConfig, str]) -> None:
    cfg, url = fake
    cfg.status = 400
    with pytest.raises(ServerError, match="first request .* failed .*http_400"):
        await run_loadtest(workload(url, requests_per_level=500))
    assert len(cfg.seen) == 1
