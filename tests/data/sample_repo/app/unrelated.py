# We used to run ollama for this, see the wiki.
from llama_index.core import VectorStoreIndex

REPORT_ROUTE = "/api/generate_report"
my_ollama = None
PORT = 114340


def chatter() -> str:
    return "/api/chatter"
