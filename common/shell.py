"""The one error path: an expected failure (a `ChargebackError`) becomes one redacted line and its exit code.

Every command group (the `chargeback` shell, `python -m localhub`) uses :class:`OneErrorLine` as its click group
class, so a stage command simply raises; it never picks an exit code or prints the error itself. Anything that is
not a `ChargebackError` is a bug and keeps its traceback. The full story (the exception and its cause, masked)
stays available as a JSON log line at `--log-level debug`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from common.errors import ChargebackError, UsageError
from common.logs import get_logger
from common.redact import redact

log = get_logger("common.shell")

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def error_line(exc: BaseException) -> str:
    """`error: <message>` on one line (whitespace runs, newlines included, collapse to one space), secrets masked."""
    return "error: " + redact(" ".join(str(exc).split()) or type(exc).__name__)


def check_log_level(value: str) -> str:
    """`value` as a `logging` level name, or a `UsageError` naming the choices."""
    level = value.strip().lower()
    if level not in LOG_LEVELS:
        raise UsageError(f"--log-level / CHARGEBACK_LOG_LEVEL {value[:40]!r}: choose one of {', '.join(LOG_LEVELS)}")
    return level.upper()


class _OneErrorLineMixin:
    """The one place where an expected failure becomes one line on stderr and its documented exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except ChargebackError as exc:
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                log.debug("command_failed", error=type(exc).__name__, exit_code=int(exc.exit_code), exc_info=exc)
            print(error_line(exc), file=sys.stderr, flush=True)
            raise typer.Exit(int(exc.exit_code)) from None


class OneErrorLine(_OneErrorLineMixin, TyperGroup):
    """Group class of a command with subcommands (`typer.Typer(cls=OneErrorLine)`)."""


class OneErrorLineCommand(_OneErrorLineMixin, TyperCommand):
    """Command class of a one-command app (`app.command(cls=OneErrorLineCommand)`)."""
