"""Wire-compatible Ollama and vLLM simulators (``python -m o2v.simulate ollama|vllm``).

Imports only the standard library, aiohttp, pydantic, pyyaml and ``o2v.errors``: the package also runs
alone in a slim Docker image.  ``o2v.simulate.process.SimulatorProcess`` starts one as a subprocess.
"""
