"""Start and stop commands for Ollama's simulator as a plain background process: the ``command`` Ollama host the
way an operator without Docker or systemd would write it (a pid file, ``kill``), used by ``o2v rehearse``.

The simulator's stdout (gin's access log, with each caller's address) and stderr go to one log file, as
journald interleaves them, so ``ollama.log_source: file`` reads the stragglers from it.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from pydantic import BaseModel

import o2v


class SimulatorCommands(BaseModel):
    start: list[str]
    stop: list[str]
    log_file: Path
    models_dir: Path
    url: str


def simulator_commands(workdir: Path, port: int, args: list[str]) -> SimulatorCommands:
    """``sh -c`` commands that start Ollama's simulator in the background on ``port`` and stop it again."""
    workdir = workdir.resolve()
    run = workdir / "ollama"
    models, log, pid = run / "models", run / "ollama.log", run / "ollama.pid"
    models.mkdir(parents=True, exist_ok=True)
    root = str(Path(o2v.__file__).resolve().parents[1])  # this checkout's o2v, as SimulatorProcess does
    serve = shlex.join([sys.executable, "-m", "o2v.simulate", "ollama", "--host", "127.0.0.1", "--port", str(port),
                        *args])  # fmt: skip
    start = (
        f"PYTHONPATH={shlex.quote(root)} OLLAMA_MODELS={shlex.quote(str(models))} nohup {serve} "
        f"</dev/null >>{shlex.quote(str(log))} 2>&1 & echo $! >{shlex.quote(str(pid))}"
    )
    # Refuses (exit 1) when there is no pid file: nothing o2v started is running.
    quoted = shlex.quote(str(pid))
    stop = f'test -f {quoted} && kill "$(cat {quoted})" && rm -f {quoted}'
    return SimulatorCommands(start=["sh", "-c", start], stop=["sh", "-c", stop], log_file=log, models_dir=models,
                             url=f"http://127.0.0.1:{port}")  # fmt: skip
