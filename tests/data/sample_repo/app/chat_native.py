import os

import ollama

OLLAMA = os.environ.get("OLLAMA_HOST", "http://localhost:11434")


def ask(prompt: str) -> str:
    reply = ollama.chat(model="llama3.1:8b", messages=[{"role": "user", "content": prompt}])
    return reply["message"]["content"]


def raw(prompt: str) -> object:
    import requests

    return requests.post(f"{OLLAMA}/api/generate", json={"model": "llama3.1:8b", "prompt": prompt})
