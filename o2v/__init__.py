"""o2v: move a team's shared LLM serving from Ollama to vLLM without downtime and without guesswork."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("o2v")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
