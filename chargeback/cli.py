"""`chargeback`: one command, one subcommand group per stage.

Each stage owns a `cli` module exposing `register(app)`; a stage whose module is absent is simply not listed,
so `--help` shows only what works.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from common.errors import ChargebackError
from common.logs import configure_logging
from common.redact import redact

STAGE_CLIS = (
    "schemas.cli",
    "localhub.cli",
    "producer_policy.cli",
    "consumer.cli",
    "aggregator.cli",
    "finops.cli",
    "chargeback.demo.cli",
)


class _Shell(TyperGroup):
    """The one place where an expected failure becomes one line on stderr and its documented exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ChargebackError as exc:
            print(f"error: {redact(str(exc))}", file=sys.stderr)
            raise typer.Exit(int(exc.exit_code)) from None


app = typer.Typer(
    cls=_Shell,
    name="chargeback",
    help="Chargeback for Azure OpenAI behind API Management: policy, consumer, lake and roll-ups.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    log_level: str = typer.Option("INFO", "--log-level", envvar="CHARGEBACK_LOG_LEVEL", help="Log level."),
) -> None:
    configure_logging(log_level)


def _mount_stages() -> None:
    for module_name in STAGE_CLIS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.register(app)


_mount_stages()
