"""`chargeback`: one command, one subcommand group per stage.

Each stage owns a `cli` module exposing `register(app)`; a stage whose module is absent is simply not listed,
so `--help` shows only what works.
"""

from __future__ import annotations

import importlib

import typer

from common.logs import configure_logging
from common.shell import OneErrorLine, check_log_level

STAGE_CLIS = (
    "schemas.cli",
    "localhub.cli",
    "producer_policy.cli",
    "consumer.cli",
    "aggregator.cli",
    "api.cli",
    "finops.cli",
    "chargeback.demo.cli",
)


app = typer.Typer(
    cls=OneErrorLine,
    name="chargeback",
    help="Chargeback for Azure OpenAI behind API Management: policy, consumer, lake and roll-ups.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    log_level: str = typer.Option(
        "INFO",
        "--log-level",
        envvar="CHARGEBACK_LOG_LEVEL",
        help="debug, info, warning, error or critical; debug also logs every failure as JSON.",
    ),
) -> None:
    configure_logging(check_log_level(log_level))


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
