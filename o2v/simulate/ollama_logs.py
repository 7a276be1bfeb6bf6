"""Ollama's two log streams, byte for byte: gin's access log on stdout and slog text on stderr.

The log parser and the diagnosis read real Ollama logs; they are tested against these lines, so the
formats follow gin's ``LoggerWithFormatter`` default and Go's ``slog.TextHandler`` exactly.  Model loads
are written in the form of the simulated version: ``llama-server`` lines since 0.30 (``llm/llama_server.go``,
whose started-in line comes twice per load), ``llama runner`` lines before.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from o2v.simulate.common import go_duration
from o2v.simulate.ollama_versions import human_bytes

if TYPE_CHECKING:
    from o2v.simulate.catalog import CatalogModel

GIN_ROUTES = [
    ("POST", "/api/pull", "PullHandler"),
    ("POST", "/api/generate", "GenerateHandler"),
    ("POST", "/api/chat", "ChatHandler"),
    ("POST", "/api/embed", "EmbedHandler"),
    ("POST", "/api/create", "CreateHandler"),
    ("POST", "/api/copy", "CopyHandler"),
    ("DELETE", "/api/delete", "DeleteHandler"),
    ("POST", "/api/show", "ShowHandler"),
    ("GET", "/", "func1"),
    ("GET", "/api/tags", "ListHandler"),
    ("GET", "/api/version", "func2"),
    ("GET", "/api/ps", "PsHandler"),
    ("POST", "/v1/chat/completions", "ChatHandler"),
    ("POST", "/v1/completions", "GenerateHandler"),
    ("POST", "/v1/embeddings", "EmbedHandler"),
    ("GET", "/v1/models", "ListHandler"),
    ("GET", "/v1/models/:model", "ShowHandler"),
]


def _quote(value: str) -> str:
    """slog's TextHandler quotes a value when it is empty or has spaces, quotes, '=' or control chars."""
    if value == "" or any(c in value for c in ' "=\\') or any(ord(c) < 0x20 for c in value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return value


class OllamaLogs:
    """Writes the access and application logs; streams are injectable for tests."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, *, llama_server: bool = True) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.llama_server = llama_server  # the log form of Ollama 0.30 and later

    def access(self, status: int, latency_s: float, client_ip: str, method: str, path: str) -> None:
        stamp = time.strftime("%Y/%m/%d - %H:%M:%S")
        latency = go_duration(latency_s)
        line = f'[GIN] {stamp} | {status:3d} | {latency:>13} | {client_ip:>15} | {method:<7}  "{path}"'
        self.out.write(line + "\n")
        self.out.flush()

    def app(self, level: str, source: str, msg: str, **attrs: object) -> None:
        now = datetime.now().astimezone()
        offset = now.strftime("%z")
        tz = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}" + tz
        parts = [f"time={stamp}", f"level={level}", f"source={source}", f"msg={_quote(msg)}"]
        parts += [f"{k}={_quote(str(v))}" for k, v in attrs.items()]
        self.err.write(" ".join(parts) + "\n")
        self.err.flush()

    def load_started(self, model: CatalogModel, num_ctx: int, num_parallel: int, *, loaded: int) -> None:
        blob = f"/root/.ollama/models/blobs/sha256-{model.hex_digest}"
        if self.llama_server:
            cmd = (
                f"/usr/lib/ollama/llama-server --model {blob} --port 40000 --host 127.0.0.1 --no-webui --offline "
                f"-c {num_ctx * num_parallel} -np {num_parallel}"
            )
            self.app("INFO", "llama_server.go:433", "starting llama-server", cmd=cmd)
            self.app("INFO", "llama_server.go:1048", "loading model via llama-server", model=blob)
            self.app("INFO", "llama_server.go:1295", "waiting for llama-server to start responding")
            return
        cmd = (
            f"/usr/bin/ollama runner --model {blob} --ctx-size {num_ctx * num_parallel} --batch-size 512 "
            f"--threads 8 --parallel {num_parallel} --port 40000"
        )
        self.app("INFO", "server.go:405", "starting llama server", cmd=cmd)
        self.app("INFO", "sched.go:450", "loaded runners", count=loaded)

    def load_finished(self, seconds: float, *, loaded: int) -> None:
        if self.llama_server:
            # The scheduler waits for the runner a second time (sched.go) a few ms later: a second line.
            self.app("INFO", "llama_server.go:1362", f"llama-server started in {seconds:.2f} seconds")
            self.app("INFO", "sched.go:728", "loaded runners", count=loaded)
            self.app("INFO", "llama_server.go:1362", f"llama-server started in {seconds + 0.004:.2f} seconds")
            return
        self.app("INFO", "server.go:630", f"llama runner started in {seconds:.2f} seconds")

    def startup(
        self, env: dict[str, str], listen: str, version: str, *, vram_bytes: int = 0, default_ctx: int | None = None
    ) -> None:
        """What ``ollama serve`` prints before it accepts requests, including the ``server config`` line."""
        self.app(
            "INFO",
            "routes.go:1259",
            "server config",
            env="map[" + " ".join(f"{k}:{v}" for k, v in sorted(env.items())) + "]",
        )
        self.app("INFO", "images.go:479", "total blobs: 5")
        self.app("INFO", "images.go:486", "total unused blobs removed: 0")
        self.out.write(
            "[GIN-debug] [WARNING] Creating an Engine instance with the Logger and Recovery "
            "middleware already attached.\n\n"
        )
        self.out.write(
            '[GIN-debug] [WARNING] Running in "debug" mode. Switch to "release" mode in production.\n'
            " - using env:\texport GIN_MODE=release\n - using code:\tgin.SetMode(gin.ReleaseMode)\n\n"
        )
        for method, path, handler in GIN_ROUTES:
            self.out.write(
                f"[GIN-debug] {method:<6} {path:<25} --> github.com/ollama/ollama/server.(*Server)."
                f"{handler}-fm (5 handlers)\n"
            )
        self.out.flush()
        self.app("INFO", "routes.go:1310", f"Listening on {listen} (version {version})")
        self.app("INFO", "gpu.go:217", "looking for compatible GPUs")
        if vram_bytes:
            gpu = {"id": "GPU-00000000-0000-0000-0000-000000000000", "library": "CUDA", "variant": "v12",
                   "compute": "8.9", "driver": "12.8", "name": "NVIDIA GPU"}  # fmt: skip
            free = int(vram_bytes * 0.97)
        else:
            gpu = {"id": "0", "library": "cpu", "variant": "", "compute": "", "driver": "0.0", "name": ""}
            vram_bytes, free = int(62.7 * 1024**3), int(58.1 * 1024**3)
        self.app("INFO", "types.go:130", "inference compute", **gpu, total=human_bytes(vram_bytes),
                 available=human_bytes(free))  # fmt: skip
        if default_ctx is not None:
            total = vram_bytes if gpu["library"] != "cpu" else 0
            self.app("INFO", "routes.go:2058", "vram-based default context", total_vram=human_bytes(total),
                     default_num_ctx=default_ctx)  # fmt: skip
