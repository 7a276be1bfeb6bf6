"""``o2v slack``: the Slack side of approvals."""

from __future__ import annotations

import asyncio
import logging

import typer

from o2v.cli.app import ConfigOption, app, console, fail, settings_or_exit
from o2v.errors import ConfigError

slack_app = typer.Typer(help="Slack approvals (Socket Mode).", no_args_is_help=True)
app.add_typer(slack_app, name="slack")


@slack_app.command("listen")
def listen_command(config: ConfigOption = None) -> None:
    """Receive Approve/Reject clicks over Socket Mode and resume the paused runs (Ctrl-C stops)."""
    from o2v.approvals.socket_mode import listen
    from o2v.store import Store

    settings = settings_or_exit(config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console.print(f"listening for approvals of {settings.slack.channel} (approvers: "
                  f"{', '.join(settings.slack.approvers) or 'none: every click is refused'})", highlight=False)
    try:
        asyncio.run(listen(settings, audit=Store.from_settings(settings)))
    except ConfigError as exc:
        fail("; ".join(exc.problems), code=2)
    except KeyboardInterrupt:
        console.print("stopped")


def start_in_background(settings: object) -> bool:
    """For ``o2v serve``: the listener in a daemon thread when Socket Mode is configured; False otherwise."""
    import threading

    from o2v.approvals.socket_mode import listen
    from o2v.config import Settings
    from o2v.store import Store

    assert isinstance(settings, Settings)
    if settings.slack.app_token is None or settings.slack.bot_token is None:
        return False
    thread = threading.Thread(
        target=asyncio.run, args=(listen(settings, audit=Store.from_settings(settings)),), daemon=True,
        name="o2v-slack-listener",
    )
    thread.start()
    return True
