"""`chargeback schemas ...`"""

from __future__ import annotations

from pathlib import Path

import typer

from schemas.export import export_json_schemas


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The shared contracts.", no_args_is_help=True)

    @group.command("export")
    def export(
        directory: Path = typer.Argument(..., help="Where to write one JSON Schema per record type."),
    ) -> None:
        """Write JSON Schema for the usage, payload and dead-letter records."""
        for path in export_json_schemas(directory):
            typer.echo(str(path))

    app.add_typer(group, name="schemas")
