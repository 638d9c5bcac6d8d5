"""Files a command writes where its user asked (`--out`, an export directory): a path that cannot be written is
one line and exit 2, not a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from common.errors import UsageError


class OutputError(UsageError):
    """An output path given on the command line that cannot be created or written."""


@contextlib.contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """Turn an `OSError` raised while writing `path` into an `OutputError` naming the path and the cause."""
    try:
        yield
    except OSError as exc:
        # mkdir(parents=True, exist_ok=True) says "File exists" when a file sits where a folder is needed.
        cause = "Not a directory" if isinstance(exc, FileExistsError) else (exc.strerror or str(exc))
        where = exc.filename if exc.filename not in (None, str(path)) else None
        raise OutputError(f"cannot write {path}: {cause}" + (f" ({where})" if where else "")) from exc


def write_text(path: Path, text: str, *, newline: str | None = None) -> None:
    """Write `text` (UTF-8) to `path`, creating its folder; an `OutputError` if that cannot be done."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline=newline)
