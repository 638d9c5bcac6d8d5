"""`chargeback consume`: the long-running consumer (or a backfill with `--until-idle`)."""

from __future__ import annotations

import asyncio

import typer


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

        settings = load_settings()
        code = asyncio.run(run_consumer(settings, until_idle=until_idle))
        raise typer.Exit(int(code))
