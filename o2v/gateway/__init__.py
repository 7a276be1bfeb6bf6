"""The cutover gateway: one address for clients, each request sent to Ollama or vLLM."""
