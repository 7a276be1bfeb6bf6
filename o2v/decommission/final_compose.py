"""The compose files after the decommission: Ollama's service present but commented out, as the guide does.

The seed guide keeps Ollama's service definition for one to two weeks as the fast way back, commented out
rather than deleted. Each rendered compose file that has an ``ollama`` service (side by side, gateway) gets a
final version: the other services without their dependency on Ollama, the ``ollama-models`` volume still
declared (it holds the models a rollback needs), and Ollama's service as comment lines that uncomment
into the exact service o2v rendered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from o2v.errors import ConfigError

MARK = "# "  # what prefixes each line of the commented-out service (removing it restores the service)


def final_document(data: dict[str, Any], *, service: str = "ollama") -> tuple[dict[str, Any], dict[str, Any]]:
    """(the compose document without ``service``, the removed service); other services drop depends_on on it."""
    services = dict(data.get("services") or {})
    if service not in services:
        raise ConfigError([f"expected a {service!r} service in the compose file, found {sorted(services)}"])
    removed = services.pop(service)
    for name, svc in list(services.items()):
        depends = svc.get("depends_on")
        if isinstance(depends, dict) and service in depends:
            svc = {**svc, "depends_on": {k: v for k, v in depends.items() if k != service}}
        elif isinstance(depends, list) and service in depends:
            svc = {**svc, "depends_on": [d for d in depends if d != service]}
        if not svc.get("depends_on", True):
            svc = {k: v for k, v in svc.items() if k != "depends_on"}
        services[name] = svc
    return {**data, "services": services}, removed


def render_final(text: str, *, header: str, service: str = "ollama") -> str:
    """Final compose text: ``service`` commented out inside ``services:``, everything else live."""
    data = yaml.safe_load(text) or {}
    live, removed = final_document(data, service=service)
    commented = yaml.safe_dump({service: removed}, sort_keys=False, width=1000).splitlines()
    block = [f"  {MARK}{line}" for line in commented]
    body = yaml.safe_dump(live, sort_keys=False, width=1000).splitlines()
    out: list[str] = []
    inserted = False
    for index, line in enumerate(body):
        out.append(line)
        ends_services = index + 1 == len(body) or (body[index + 1] and not body[index + 1].startswith(" "))
        if not inserted and _in_services(body, index) and ends_services:
            out += block
            inserted = True
    return header + "\n".join(out) + "\n"


def _in_services(lines: list[str], index: int) -> bool:
    for line in reversed(lines[: index + 1]):
        if line and not line.startswith(" "):
            return line.startswith("services:")
    return False


def uncomment(text: str) -> str:
    """The inverse, for tests and for a person: the commented service's lines made live again."""
    prefix = f"  {MARK}"
    lines = ["  " + line[len(prefix):] if line.startswith(prefix) else line for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def write_final_compose(compose_dir: Path, out_dir: Path, *, migration_id: str) -> list[Path]:
    """A final version of every compose file in ``compose_dir`` that runs Ollama; the paths written."""
    written = []
    for path in sorted(Path(compose_dir).glob("docker-compose*.yml")):
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        if "ollama" not in (data.get("services") or {}):
            continue
        header = (
            f"# {path.name} after the decommission of Ollama (migration {migration_id!r}), written by o2v.\n"
            "# Ollama's service is kept below as comments for one to two weeks: the fast way back. Its container\n"
            "# is stopped, its image and the ollama-models volume are kept: o2v rollback --to-ollama restarts it\n"
            "# (or uncomment the service and run docker compose up -d).\n"
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / path.name
        target.write_text(render_final(text, header=header), encoding="utf-8")
        written.append(target)
    return written
