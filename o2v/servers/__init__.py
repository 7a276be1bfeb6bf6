"""Clients for the servers being migrated (Ollama, OpenAI-compatible) and Ollama's log parser."""
