"""`chargeback consume`: the long-running consumer (or a backfill with `--until-idle`)."""

from __future__ import annotations

import asyncio

import typer

from common.errors import ChargebackError
from common.exitcodes import ExitCode
from common.logs import get_logger
from common.redact import redact
from consumer.errors import ConsumerError
from schemas.errors import LakeLocationError

log = get_logger("consumer.cli")


def register(app: typer.Typer) -> None:
    @app.command("consume")
    def consume(
        until_idle: float | None = typer.Option(
            None,
            "--until-idle",
            min=0.1,
            metavar="SECONDS",
            help="Exit 0 once caught up and idle for SECONDS (backfills, tests, demos); exit 5 if Event Hubs cannot "
            "be read at start-up. Default: run until SIGTERM.",
        ),
    ) -> None:
        """Read chunk envelopes from Event Hubs, write validated Parquet to the lake, checkpoint at the watermark.

        Configured by CHARGEBACK_* environment variables (README, "Configuration").
        """
        from consumer.app import run_consumer
        from consumer.settings import load_settings

        try:
            settings = load_settings()
        except ConsumerError as exc:
            log.error("invalid_configuration", error=redact(str(exc)))
            typer.echo(redact(str(exc)), err=True)
            raise typer.Exit(ExitCode.CONFIG) from None
        try:
            code = asyncio.run(run_consumer(settings, until_idle=until_idle))
        except (LakeLocationError, ConsumerError) as exc:
            if isinstance(exc, ChargebackError):  # carries its own exit code: the shell prints the one line
                raise
            log.error("invalid_configuration", error=redact(str(exc)))
            typer.echo(redact(str(exc)), err=True)
            raise typer.Exit(ExitCode.CONFIG) from None
        raise typer.Exit(int(code))
