"""Deploying vLLM beside Ollama: Docker containers or local processes, from one LaunchSpec."""
