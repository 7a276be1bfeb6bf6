"""``o2v clients patch``: diffs that finish the move in the clients' own code (optional: the gateway keeps them
working unchanged)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from o2v.cli.app import ConfigOption, app, console, fail, settings_or_exit

clients_app = typer.Typer(help="Change the clients' code to call vLLM directly.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")


@clients_app.command("patch")
def patch(
    inventory: Annotated[Path, typer.Option("--inventory", help="inventory.json written by `o2v inventory --json`.")],
    config: ConfigOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where the patches go (default: workdir/patches).")] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Where clients should point (default: vLLM's URL from the config)."),
    ] = None,
) -> None:
    """Write one unified diff per scanned repository, and MANUAL.md with what a person must change."""
    from o2v.inventory.patch import patch_clients, write_patches
    from o2v.inventory.types import Inventory

    settings = settings_or_exit(config)
    try:
        inv = Inventory.model_validate_json(inventory.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {inventory}: {exc.strerror or exc}", code=2)
    except ValidationError as exc:
        fail(f"{inventory} is not an o2v inventory (`o2v inventory --json FILE` writes one): "
             f"{exc.errors()[0]['msg']} at {'.'.join(map(str, exc.errors()[0]['loc']))}", code=2)
    if not inv.integration_points:
        fail(f"{inventory} lists no integration points: run `o2v inventory --scan DIR --json FILE` first", code=2)
    target = (base_url or settings.vllm.url).rstrip("/")
    if not target.startswith(("http://", "https://")):
        fail(f"--base-url must be an http(s) URL such as http://gpu-box:8000, got {target!r}", code=2)
    served = {tag: mapping.served_name or tag for tag, mapping in settings.models.items()}
    patches = patch_clients(inv, base_url=target, served_names=served, key_required=settings.vllm.api_key is not None)
    written = write_patches(patches, out or settings.workdir / "patches")
    for repo in patches:
        console.print(
            f"{repo.root}: {len(repo.files_changed)} file(s) changed, {len(repo.manual)} place(s) left for a person",
            highlight=False, markup=False,
        )
    for path in written:
        console.print(f"  wrote {path}", highlight=False, markup=False)
