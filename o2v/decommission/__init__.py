"""Retiring Ollama after the cutover: scheduled, checked on evidence, approved, reversible.

    schedule.py     the one delayed run the cutover schedules (and a rollback cancels)
    precheck.py     bad input: no cutover behind it, clients still on Ollama, no Ollama service (refuse)
    stragglers.py   who still reached Ollama without the gateway, and what the gateway could not honour
    stability.py    vLLM's live samples over the whole window against the validation baseline (GX suite)
    ollama_host.py  where Ollama runs (OllamaHost, ollama.host); its container: stop keeping image/volumes, start
    ollama_services.py Ollama as a systemd unit or behind the operator's start/stop commands
    final_compose.py the compose files after the decommission, Ollama's service commented out
    retire.py       the stop, the final compose, the GPU memory freed
    restore.py      rollback to Ollama after a decommission
    evidence.py     the Markdown a person approves on
    run.py          assess -> (approval) -> retire, as plain functions the flow and the rehearsal share
    scene.py        simulators, gateway and a finished cutover's store, for the rehearsal and tests
    rehearsal.py    the whole path on the simulators (o2v rehearse-decommission)
    rehearse_end.py the end of o2v rehearse: the same path without Docker (command host), straggler variant
    sim_commands.py start/stop commands for Ollama's simulator as a background process (the command host)
"""
