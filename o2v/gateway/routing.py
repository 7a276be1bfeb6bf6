"""Where a request goes: f(client, model), from a routing table each replica follows in the store.

A model vLLM does not serve always goes to Ollama. A named client follows its route (no row = Ollama). An
unnamed client goes to vLLM when the sticky hash of its key falls under the percentage: the hash never
changes, so raising the share only ever adds clients, and one client never flaps between servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from o2v.gateway.identity import Caller
from o2v.store_routing import RoutingTable
from o2v.store_schema import Backend

log = logging.getLogger("o2v.gateway")
BUCKETS = 10_000


@functools.lru_cache(maxsize=65_536)  # unnamed callers come back: hash each address once, not per request
def bucket(key: str) -> int:
    """The client's fixed place in [0, 10000): the same on every replica and across restarts."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % BUCKETS


def choose_backend(caller: Caller, table: RoutingTable, *, vllm_serves_model: bool) -> Backend:
    if not vllm_serves_model:
        return "ollama"
    if caller.named:
        return table.routes.get(caller.name, "ollama")
    return "vllm" if bucket(caller.key) < table.percent * (BUCKETS / 100) else "ollama"


class ModelMap:
    """Ollama tag -> vLLM served name (config ``models``), and which names vLLM serves right now."""

    def __init__(self, served_names: Mapping[str, str]) -> None:
        self._to_vllm = dict(served_names)
        # vLLM served name -> Ollama tag, for joining vLLM's cards with the inventory.
        self.aliases = {served: tag for tag, served in self._to_vllm.items() if served != tag}
        self.served: frozenset[str] = frozenset()
        self.known = False  # False until vLLM's /v1/models answered once

    def update(self, served: Iterable[str]) -> None:
        self.served = frozenset(served)
        self.known = True

    def to_vllm(self, model: str) -> str:
        """The name vLLM knows the model by (a tag without ':' also matches its ':latest')."""
        if model in self._to_vllm:
            return self._to_vllm[model]
        if ":" not in model and f"{model}:latest" in self._to_vllm:
            return self._to_vllm[f"{model}:latest"]
        return model

    def vllm_serves(self, model: str | None) -> bool:
        if model is None:
            return True  # requests without a model (tags, version) follow the client's route
        return self.to_vllm(model) in self.served


class RouteFollower:
    """Keeps this replica's copy of the stored routing table fresh: a version read every ``interval_s``.

    The store is read in a worker thread so a slow database never stalls requests; when it cannot be read
    the last table stays in force (and ``stale_since`` says since when), so a database hiccup moves nobody.
    """

    def __init__(
        self, read_version: Callable[[], int], read_table: Callable[[], RoutingTable], *, interval_s: float = 0.5
    ) -> None:
        self._read_version = read_version
        self._read_table = read_table
        self.interval_s = interval_s
        self.table = RoutingTable()
        self.stale_since: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the table once (failing loudly if the store is unreachable at start), then follow it."""
        self.table = await asyncio.to_thread(self._read_table)
        self._task = asyncio.create_task(self._follow(), name="o2v-gateway-routes")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> bool:
        """Reload when the stored version moved; True when the table changed."""
        version = await asyncio.to_thread(self._read_version)
        if version == self.table.version:
            return False
        self.table = await asyncio.to_thread(self._read_table)
        log.info("routing table version %s: percent %s, routes %s", self.table.version, self.table.percent,
                 self.table.routes)  # fmt: skip
        return True

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.refresh()
                self.stale_since = None
            except Exception as exc:  # the store is down: keep routing by the last table
                if self.stale_since is None:
                    self.stale_since = time.time()
                    log.warning("routing table not refreshed, keeping version %s: %s", self.table.version, exc)
