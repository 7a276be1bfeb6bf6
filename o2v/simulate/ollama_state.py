"""What one Ollama simulator process holds, shared by its route modules.

The imports run one way: ``ollama`` (the app) -> ``ollama_openai`` -> ``ollama_api`` -> ``ollama_gen`` ->
``ollama_state`` -> ``ollama_sched`` -> ``ollama_logs`` -> ``ollama_versions``; nothing below imports
anything above it (``tests/unit/simulate/test_ollama_imports.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from o2v.simulate.catalog import Catalog, CatalogModel
from o2v.simulate.common import SimState, go_duration
from o2v.simulate.ollama_logs import OllamaLogs
from o2v.simulate.ollama_sched import SLOT_SPEEDUP, Scheduler
from o2v.simulate.ollama_versions import CURRENT_VERSION, Behaviour, vram_default_context
from o2v.simulate.openai_fmt import OpenAIStyle

OLLAMA_VERSION = CURRENT_VERSION
_FOREVER = "2562047h47m16.854775807s"  # Go's largest duration, as Ollama prints a negative keep-alive


@dataclass
class OllamaConfig:
    host: str = "127.0.0.1"
    port: int = 11434
    num_parallel: int = 1
    max_queue: int = 512
    max_loaded_models: int = 3
    keep_alive_s: float = 300.0
    num_ctx: int = 0  # OLLAMA_CONTEXT_LENGTH; 0 = Ollama's default (VRAM tier since 0.15.5, else 4096)
    vram_bytes: int = 0  # total GPU memory; 0 = CPU only
    version: str = OLLAMA_VERSION
    slot_speedup: tuple[float, ...] = SLOT_SPEEDUP
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def behaviour(self) -> Behaviour:
        return Behaviour.of(self.version)

    def default_ctx(self) -> int:
        """The context of a request that sets no num_ctx (before the cap at the model's trained length)."""
        if self.num_ctx:
            return self.num_ctx
        return vram_default_context(self.vram_bytes) if self.behaviour.vram_default_context else 4096

    def env(self) -> dict[str, str]:
        default_env_ctx = "0" if self.behaviour.vram_default_context else "4096"
        env = {
            "CUDA_VISIBLE_DEVICES": "",
            "GPU_DEVICE_ORDINAL": "",
            "HIP_VISIBLE_DEVICES": "",
            "HSA_OVERRIDE_GFX_VERSION": "",
            "HTTPS_PROXY": "",
            "HTTP_PROXY": "",
            "NO_PROXY": "",
            "OLLAMA_CONTEXT_LENGTH": str(self.num_ctx) if self.num_ctx else default_env_ctx,
            "OLLAMA_DEBUG": "INFO",
            "OLLAMA_FLASH_ATTENTION": "false",
            "OLLAMA_GPU_OVERHEAD": "0",
            "OLLAMA_HOST": f"http://{self.host}:{self.port}",
            "OLLAMA_KEEP_ALIVE": go_duration(self.keep_alive_s) if self.keep_alive_s >= 0 else _FOREVER,
            "OLLAMA_KV_CACHE_TYPE": "",
            "OLLAMA_LLM_LIBRARY": "",
            "OLLAMA_LOAD_TIMEOUT": "5m0s",
            "OLLAMA_MAX_LOADED_MODELS": str(self.max_loaded_models),
            "OLLAMA_MAX_QUEUE": str(self.max_queue),
            "OLLAMA_MODELS": "/root/.ollama/models",
            "OLLAMA_MULTIUSER_CACHE": "false",
            "OLLAMA_NEW_ENGINE": "false",
            "OLLAMA_NOHISTORY": "false",
            "OLLAMA_NOPRUNE": "false",
            "OLLAMA_NUM_PARALLEL": str(self.num_parallel),
            "OLLAMA_ORIGINS": "[http://localhost https://localhost http://127.0.0.1 https://127.0.0.1 http://0.0.0.0]",
            "OLLAMA_SCHED_SPREAD": "false",
            "ROCR_VISIBLE_DEVICES": "",
        }
        env.update(self.extra_env)
        return env


class OllamaSim:
    """Everything one Ollama simulator process holds."""

    def __init__(self, cfg: OllamaConfig, state: SimState, catalog: Catalog, logs: OllamaLogs | None = None) -> None:
        self.cfg = cfg
        self.behaviour = cfg.behaviour
        self.state = state
        self.catalog = catalog
        self.logs = logs or OllamaLogs()
        self.logs.llama_server = self.behaviour.llama_server_logs
        self.style = OpenAIStyle("ollama")
        self.sched = Scheduler(
            num_parallel=cfg.num_parallel,
            max_queue=cfg.max_queue,
            max_loaded=cfg.max_loaded_models,
            default_ctx=cfg.default_ctx(),
            load_s=state.timing.load_ms / 1000.0,
            default_keep_alive_s=cfg.keep_alive_s,
            logs=self.logs,
            stats=state.stats,
            loaded_skips_queue=self.behaviour.loaded_skips_queue,
            speedup=cfg.slot_speedup,
        )

    def find(self, name: str) -> CatalogModel | None:
        return self.catalog.find(name)

    def log_startup(self) -> None:
        """What ``ollama serve`` prints before it accepts requests (server config, GPUs, default context)."""
        cfg = self.cfg
        self.logs.startup(
            cfg.env(),
            f"{cfg.host}:{cfg.port}",
            cfg.version,
            vram_bytes=cfg.vram_bytes,
            # The tier is logged even when OLLAMA_CONTEXT_LENGTH overrides it, as routes.go does.
            default_ctx=vram_default_context(cfg.vram_bytes) if self.behaviour.vram_default_context else None,
        )


SIM: web.AppKey[OllamaSim] = web.AppKey("ollama_sim", OllamaSim)
