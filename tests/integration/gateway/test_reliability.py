"""Under 200 concurrent streams: routing flips and a rollback lose no request and break no stream, and a
gateway restarted under load comes back routing by the stored table."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.engines import free_port

from o2v.gateway.process import GatewayProcess
from o2v.gateway.run import running_gateway
from o2v.gateway.server import Gateway
from o2v.simulate.process import SimulatorProcess
from o2v.store import Store
from o2v.store_routing import RoutingTable

from .conftest import MODEL, VLLM_KEY, make_config
from .traffic import Tally, drive

STREAMS = 200
# Slower tokens than the other tests so that many streams are in flight at every routing change.
PACED = ["--ttft-ms", "5", "--itl-ms", "5", "--prompt-token-ms", "0", "--response-tokens", "8"]


@pytest.fixture(scope="module")
def paced_sims() -> Iterator[tuple[SimulatorProcess, SimulatorProcess]]:
    with (
        SimulatorProcess("ollama", args=[*PACED, "--num-parallel", "512", "--model", MODEL]) as ollama,
        SimulatorProcess("vllm", args=[*PACED, "--served-model-name", MODEL, "--api-key", VLLM_KEY]) as vllm,
    ):
        yield ollama, vllm


async def _until(tally: Tally, more: int) -> None:
    target = tally.ok + len(tally.failures) + more
    while tally.ok + len(tally.failures) < target:  # noqa: ASYNC110 - the traffic task counts, nothing signals
        await asyncio.sleep(0.05)


async def _in_force(gateway: Gateway, change: RoutingTable) -> None:
    """Wait for the gateway to follow a routing change (it polls the store every refresh_s)."""
    while gateway.follower.table.version < change.version:  # noqa: ASYNC110 - the follower polls, nothing signals
        await asyncio.sleep(0.05)


async def test_route_flips_and_rollback_under_200_streams_lose_nothing(
    paced_sims: tuple[SimulatorProcess, SimulatorProcess], store: Store
) -> None:
    ollama, vllm = paced_sims
    config = make_config(ollama.url, vllm.url, refresh_s=0.5)
    clients = [f"team-{i % 20}" for i in range(STREAMS)]
    tally, stop = Tally(), asyncio.Event()
    async with running_gateway(config, store) as gw:
        url = f"http://127.0.0.1:{config.listen_port}"
        traffic = asyncio.create_task(drive(url, clients, stop, tally))
        await _until(tally, 400)
        for flip in range(3):  # a stage, another stage, then everything back
            await _in_force(gw, store.set_route("team-1", "vllm", actor="test"))
            await _until(tally, 300)
            await _in_force(gw, store.set_routes({f"team-{i}": "vllm" for i in range(10)}, actor="test"))
            await _until(tally, 300)
            await _in_force(gw, store.reset_routes(actor="test", reason=f"rollback {flip}"))
            await _until(tally, 300)
        stop.set()
        await traffic
        in_force = gw.follower.table
    assert tally.failures == []
    assert tally.ok == tally.sent
    assert tally.ok >= 2500
    assert tally.backends["vllm"] > 0
    assert tally.backends["ollama"] > 0
    assert in_force.routes == {f"team-{i}": "ollama" for i in range(10)}
    # After the last rollback nobody is on vLLM any more: the last requests of every client went to Ollama.
    assert {history[-1] for history in tally.by_client.values()} == {"ollama"}


def _config_file(tmp_path: Path, ollama: str, vllm: str, store_url: str) -> Path:
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump({
        "vllm": {"api_key": VLLM_KEY},
        "store": {"url": store_url},
        "gateway": {"ollama_url": ollama, "vllm_url": vllm, "admin_listen": f"127.0.0.1:{free_port()}",
                    "refresh_s": 0.5},
    }))  # fmt: skip
    return path


async def test_a_gateway_restarted_under_load_comes_back_routing_by_the_stored_table(
    paced_sims: tuple[SimulatorProcess, SimulatorProcess], tmp_path: Path
) -> None:
    ollama, vllm = paced_sims
    store_url = f"sqlite:///{tmp_path / 'o2v.db'}"
    config = _config_file(tmp_path, ollama.url, vllm.url, store_url)
    listen = f"127.0.0.1:{free_port()}"
    first = GatewayProcess(config, listen=listen, args=["--route", "team-1=vllm", "--route", "team-2=vllm"]).start()
    tally, stop = Tally(), asyncio.Event()
    traffic = asyncio.create_task(drive(f"http://{listen}", [f"team-{i % 5}" for i in range(STREAMS)], stop, tally))
    try:
        await _until(tally, 300)
        with Store(store_url) as store:
            store.set_route("team-3", "vllm", actor="test")  # written while the gateway runs
        await _until(tally, 300)
        down_from = time.monotonic()
        await asyncio.to_thread(first.stop)  # SIGTERM: streams in flight finish, new connections are refused
        second = await asyncio.to_thread(GatewayProcess(config, listen=listen).start)  # no --route this time
        back_at = time.monotonic()
        try:
            before = tally.ok
            await _until(tally, 600)
            stop.set()
            await traffic
        finally:
            second.stop()
    finally:
        stop.set()
        first.stop()
    broken = [f for f in tally.failures if "broken stream" in f or "HTTP" in f]
    assert broken == [], broken[:5]  # a stream that had started always finished, even across the restart
    # Only while no gateway listened did requests fail, and only at the connection (nothing was half-served).
    assert all(down_from <= at <= back_at + 0.5 for at in tally.failed_at)
    assert tally.ok - before >= 600
    latest = {c: h[-1] for c, h in tally.by_client.items()}
    assert latest == {"team-0": "ollama", "team-1": "vllm", "team-2": "vllm", "team-3": "vllm", "team-4": "ollama"}
