"""Headless Chromium from the system's packages, and the screenshots the browser tier keeps for the docs."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

from support.prefect_server import ROOT

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# Flags that keep Chromium off the network (a closed CI machine refuses its connections) and working as root in a
# container. Playwright adds a fresh temporary --user-data-dir to every launch.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1280, "height": 800}


def chromium_path() -> str | None:
    for candidate in (os.environ.get("O2V_CHROMIUM", ""), *CHROMIUM_CANDIDATES, shutil.which("chromium") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def screenshot(page: Any, name: str) -> None:
    """With O2V_SCREENSHOTS=docs/screenshots set, keep what the page shows (CI leaves the docs' copies alone)."""
    folder = os.environ.get("O2V_SCREENSHOTS")
    if not folder:
        return
    target = Path(folder) if Path(folder).is_absolute() else ROOT / folder
    target.mkdir(parents=True, exist_ok=True)
    try:
        page.wait_for_load_state("networkidle", timeout=5_000)  # the UI's polling may never fall quiet
    except Exception:  # noqa: BLE001 - a picture of a page still loading is better than none
        pass
    # 256 colours are plenty for a UI in flat colours: about a third of the bytes of a full-colour PNG.
    from PIL import Image

    image = Image.open(io.BytesIO(page.screenshot()))
    image.convert("RGB").quantize(colors=256).save(target / f"{name}.png", optimize=True)
