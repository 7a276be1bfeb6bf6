"""The cutover under test: simulators, a gateway subprocess, steady client traffic, and someone who answers.

Traffic runs in its own thread and event loop, as separate programs would; each client is an ``X-O2V-Client``
header (or none: unnamed), alternating Ollama's native API and the OpenAI API, streamed. A request counts as OK
only when its stream ended with the API's end marker and carried no error: counted by the client, not the gateway.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from support.engines import free_port
from support.prefect_server import api_at

from o2v.cutover.position import CutoverPosition, load_position
from o2v.cutover.streams import chat_once
from o2v.store import Store

MODEL = "llama3.1:8b"
VLLM_KEY = "vllm-secret-key"


@dataclass
class Tally:
    sent: int = 0
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    backends: Counter[str] = field(default_factory=Counter)
    last_backend: dict[str, str] = field(default_factory=dict)


async def _one(session: aiohttp.ClientSession, url: str, client: str | None, native: bool, tally: Tally) -> None:
    tally.sent += 1
    headers = {"X-O2V-Client": client} if client else None
    exchange = await chat_once(session, url, model=MODEL, native=native, max_tokens=None if native else 24,
                               headers=headers)
    name = client or "unnamed"
    if exchange.error:
        tally.failures.append(f"{name} {exchange.path}: {exchange.error}")
        return
    tally.ok += 1
    tally.backends[exchange.backend] += 1
    tally.last_backend[name] = exchange.backend


class Traffic:
    """Concurrent clients sending back to back until stopped, in their own process (as the team's programs are):
    the flow's GX work in the test process must not slow the clients down, nor the clients the flow."""

    def __init__(self, url: str, clients: list[str | None]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.done = ctx.Value("i", 0)
        self.stop = ctx.Event()
        self.results: Any = ctx.Queue()
        self.process = ctx.Process(target=_traffic_main, args=(url, clients, self.done, self.stop, self.results))
        self.tally = Tally()

    def __enter__(self) -> Traffic:
        self.process.start()
        return self

    def wait_for(self, requests: int, timeout_s: float = 60) -> None:
        target = self.done.value + requests
        deadline = time.monotonic() + timeout_s
        while self.done.value < target and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.done.value >= target, f"the clients finished only {self.done.value} requests"

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        raw = self.results.get(timeout=90)
        self.process.join(30)
        self.tally = Tally(raw["sent"], raw["ok"], raw["failures"], Counter(raw["backends"]), raw["last_backend"])


def _traffic_main(url: str, clients: list[str | None], done: Any, stop: Any, results: Any) -> None:
    tally = Tally()

    async def drive() -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

            async def worker(client: str | None, index: int) -> None:
                native = index % 2 == 0
                while not stop.is_set():
                    await _one(session, url, client, native, tally)
                    done.value += 1  # one writer per process (this loop): no lock needed for a progress count
                    native = not native

            await asyncio.gather(*(worker(c, i) for i, c in enumerate(clients)))

    asyncio.run(drive())
    results.put({"sent": tally.sent, "ok": tally.ok, "failures": tally.failures, "backends": dict(tally.backends),
                 "last_backend": tally.last_backend})  # fmt: skip


def write_config(path: Path, *, ollama: str, vllm: str, store_url: str, **sections: Any) -> Path:
    config: dict[str, Any] = {
        "migration_id": "cutover-test",
        "workdir": str(path.parent / "work"),
        "ollama": {"url": ollama, "log_source": "none"},
        "slack": {"approval_timeout_s": 60},  # a question the test forgot to answer fails the run in a minute
        "vllm": {"api_key": VLLM_KEY},
        "store": {"url": store_url},
        # TTFT is a few ms here, of the order of a loaded 2-core machine's scheduling jitter and of the gateway's
        # own work: the test tolerates 5x, and the degraded vLLM of the rollback test is far slower than that.
        "thresholds": {"min_samples": 20, "bootstrap_resamples": 200, "max_vllm_to_ollama_p95_ratio": 5.0},
        "gateway": {"ollama_url": ollama, "vllm_url": vllm, "admin_listen": f"127.0.0.1:{free_port()}",
                    "refresh_s": 0.2},
        "cutover": {
            "stages": [{"clients": ["team-a"], "watch_window_s": 4}, {"percent": 100, "watch_window_s": 3}],
            "analysis_interval_s": 1, "inconclusive_limit": 20,
        },
    }  # fmt: skip
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    path.write_text(yaml.safe_dump(config))
    return path


class Answerer:
    """Answers each cutover question (found through the position the flow stores) as ``script`` says.

    ``script`` maps a pause key to a callable(run_id) that answers, or to None (leave it unanswered). A pause
    for a person in the middle of a stage (``stage-<n>-pause-<k>``, the data could not decide) not in the script
    gets "keep watching", as a person would answer a noisy interval on a loaded test machine.
    """

    def __init__(
        self,
        store: Store,
        migration_id: str,
        script: dict[str, Callable[[str], None] | None],
        api_url: str | None = None,
    ) -> None:
        self.store, self.migration_id, self.script, self.api_url = store, migration_id, script, api_url
        self.answered: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._in_settings, daemon=True)

    def _in_settings(self) -> None:
        """Against a Prefect server of the test's own (``api_url``), else the session's harness."""
        if self.api_url is None:
            self._run()
            return
        with api_at(self.api_url):
            self._run()

    def _run(self) -> None:
        from prefect import get_client

        done: set[tuple[str, str]] = set()
        with get_client(sync_client=True) as client:
            while not self.stop.is_set():
                position = load_position(self.store, self.migration_id)
                run = position.flow_run_id
                if run:
                    state = client.read_flow_run(run).state  # type: ignore[arg-type]
                    key = state.state_details.pause_key if state is not None and state.is_paused() else None
                    if key and (run, key) not in done:
                        done.add((run, key))
                        answer = self.script.get(key, resume("continue") if "-pause-" in key else None)
                        if answer is not None:
                            answer(run)
                            self.answered.append(key)
                time.sleep(0.2)

    def __enter__(self) -> Answerer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def resume(decision: str, approver: str = "dana") -> Callable[[str], None]:
    def answer(run: str) -> None:
        from prefect.flow_runs import resume_flow_run

        resume_flow_run(run, run_input={"decision": decision, "approver": approver, "comment": f"test {decision}"})

    return answer


def position(store: Store, migration_id: str = "cutover-test") -> CutoverPosition:
    return load_position(store, migration_id)


def inject(sim_url: str, **faults: object) -> None:
    import httpx

    httpx.post(f"{sim_url}/_sim/faults", json=faults, timeout=5).raise_for_status()
