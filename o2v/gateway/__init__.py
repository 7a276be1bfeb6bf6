"""The cutover gateway: clients keep Ollama's address, each one is sent to Ollama or vLLM.

    identity   who is calling (token, header, address, User-Agent, else unnamed)
    routing    where it goes: f(client, model), from the table in the store
    upstream + lean_http   the two backends: keep-alive pools, connect / response / idle timeouts
    proxy      pass-through, streamed chunk by chunk
    native_vllm + translate   Ollama's native API served from vLLM
    observe    samples into the store, Prometheus series
    admin      routing changes (token), /health, /metrics on the admin address
    public_server + public_http   the public address's own lean HTTP/1.1 server (llhttp), as lean_http is upstream
    server, run   the handler per request, the admin application, their life cycle
    seed       client definitions from the inventory's access-log clients
"""
