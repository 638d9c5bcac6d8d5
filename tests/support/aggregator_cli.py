"""The aggregator's commands mounted on a fresh Typer app, run in-process with a given environment."""

from __future__ import annotations

import typer
from typer.testing import CliRunner, Result

from aggregator.cli import register
from common.shell import OneErrorLine


def build_app() -> typer.Typer:
    app = typer.Typer(cls=OneErrorLine, pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """chargeback (test mount)"""

    register(app)
    return app


APP = build_app()


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    clean = {k: "" for k in ("CHARGEBACK_LAKE_URL", "CHARGEBACK_PTU_CONFIG", "CHARGEBACK_STORAGE_CONNECTION_STRING")}
    return CliRunner().invoke(APP, args, env=clean | (env or {}), catch_exceptions=False)
