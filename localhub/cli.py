"""`chargeback devhub` (and `python -m localhub`): run the local Event Hubs server in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import typer

from common.logs import get_logger
from common.shell import OneErrorLineCommand
from localhub.config import DEFAULT_PARTITIONS, HubSpec, parse_hub_spec
from localhub.server import LocalHub

log = get_logger(__name__)


def devhub(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(5672, "--port", min=0, max=65535, help="TCP port (0: any free port)."),
    hub: list[str] = typer.Option(
        [], "--hub", help=f"NAME[:PARTITIONS], repeatable (default: usage:{DEFAULT_PARTITIONS})."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Keep events in this directory so they survive a restart (default: memory)."
    ),
) -> None:
    """Run a local Event Hubs server (AMQP, no TLS, no authentication) until interrupted.

    Prints one connection string per hub (`...;UseDevelopmentEmulator=true`) on stdout.
    """
    specs: list[HubSpec] = [parse_hub_spec(h) for h in hub] or [HubSpec("usage")]
    server = LocalHub(hubs=specs, host=host, port=port, data_dir=data_dir)
    asyncio.run(_serve(server))


async def _serve(server: LocalHub) -> None:
    await server.start()
    for name in server.hub_names:
        typer.echo(server.connection_string(name))
    typer.echo(f"# localhub ready on {server.host}:{server.port}; Ctrl-C to stop", err=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def register(app: typer.Typer) -> None:
    app.command("devhub")(devhub)


def standalone() -> typer.Typer:
    """The same command as a one-command app (`python -m localhub`), with the same one error path."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(cls=OneErrorLineCommand)(devhub)
    return app
