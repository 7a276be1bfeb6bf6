"""Ollama's two log streams, byte for byte: gin's access log on stdout and slog text on stderr.

The log parser and the diagnosis read real Ollama logs; they are tested against these lines, so the
formats follow gin's ``LoggerWithFormatter`` default and Go's ``slog.TextHandler`` exactly.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import TextIO

from o2v.simulate.common import go_duration

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

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

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

    def startup(self, env: dict[str, str], listen: str, version: str) -> None:
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
        self.app(
            "INFO",
            "types.go:130",
            "inference compute",
            id="0",
            library="cpu",
            variant="",
            compute="",
            driver="0.0",
            name="",
            total="62.7 GiB",
            available="58.1 GiB",
        )
