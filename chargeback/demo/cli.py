"""`chargeback demo`"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from common.exitcodes import ExitCode


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("demo-output"), help="Where the lake, the report and the logs go."),
        calls: int = typer.Option(8000, min=10, help="How many API calls to synthesise over the month."),
        month: str = typer.Option("", help="YYYY-MM; default the last full month."),
    ) -> None:
        """The whole pipeline on this machine on a month of synthetic traffic: no Azure account needed."""
        from chargeback.demo.run import StepFailed, last_full_month, run_demo

        try:
            chosen = date.fromisoformat(f"{month}-01") if month else last_full_month()
        except ValueError:
            raise typer.BadParameter(f"{month!r} is not YYYY-MM", param_hint="--month") from None
        try:
            code = run_demo(out, calls=calls, month=chosen)
        except StepFailed as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(ExitCode.FAILURE) from None
        raise typer.Exit(code)
