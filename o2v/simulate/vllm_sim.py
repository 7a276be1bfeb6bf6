"""The vLLM simulator's shared state: its configuration, the object the routes read, vLLM's log format.

Both the completion routes (``vllm.py``) and the informational routes (``vllm_routes.py``) import from
here, and this module imports neither, so every import between them points one way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from o2v.simulate.common import SimState
from o2v.simulate.openai_fmt import OpenAIStyle
from o2v.simulate.vllm_engine import Engine
from o2v.simulate.vllm_metrics import Metrics
from o2v.simulate.vllm_validate import current_wording

VLLM_VERSION = "0.16.0"


@dataclass
class VLLMConfig:
    model: str
    served: list[str]
    max_model_len: int
    max_num_seqs: int
    api_keys: list[str]
    version: str = VLLM_VERSION
    legacy_errors: bool = False


def log(msg: str, source: str = "api_server.py:1895", level: str = "INFO") -> None:
    """vLLM's logger format: ``LEVEL MM-DD HH:MM:SS [file:line] message`` on stdout."""
    print(f"{level} {time.strftime('%m-%d %H:%M:%S')} [{source}] {msg}", flush=True)


class VLLMSim:
    def __init__(self, cfg: VLLMConfig, state: SimState, engine: Engine, metrics: Metrics) -> None:
        self.cfg = cfg
        self.state = state
        self.engine = engine
        self.metrics = metrics
        self.style = OpenAIStyle("vllm", legacy_errors=cfg.legacy_errors)
        self.current = current_wording(cfg.version, cfg.legacy_errors)  # which error texts this version writes


SIM: web.AppKey[VLLMSim] = web.AppKey("vllm_sim", VLLMSim)
