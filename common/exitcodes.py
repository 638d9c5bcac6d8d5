"""Exit codes every `chargeback` subcommand uses; the README documents them."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    """Unexpected error (a bug): the log has the traceback."""
    USAGE = 2
    """Bad arguments (typer's own code for usage errors)."""
    CONFIG = 3
    """Missing or invalid configuration (environment variables)."""
    NOT_FOUND = 4
    """An input the command needs does not exist (lake, file, date with no data where data is required)."""
    UNAVAILABLE = 5
    """An external dependency is unreachable or missing (Event Hubs, storage, Mono)."""
    DATA = 6
    """The command ran, but the data failed a check it was asked to make."""
