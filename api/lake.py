"""The lake as the API sees it: one DuckDB database per process, a cursor per request, refreshed when it changes.

DuckDB's registered objects belong to one connection and its connections are not thread-safe, so each request gets
its own cursor with the lake's views attached as TEMP views (`aggregator.views.attach_views`), after file access is
switched off and the configuration locked for the whole database. The views' sources (pyarrow datasets) are
discovered once per snapshot, and a snapshot is retaken at most every `CHARGEBACK_API_REFRESH_SECONDS`, so new
consumer files and a nightly `chargeback aggregate` show without a restart. The roll-up files' listing gives the
ETag (it changes only when a roll-up does), and the last rolled-up day says how complete the data is.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pyarrow.fs as pafs

from aggregator.lakeio import derived_files
from aggregator.rollup import connect
from aggregator.runs import RUNS_TABLE
from aggregator.settings import AggregatorSettings
from aggregator.tables import DERIVED_TABLES
from aggregator.views import attach_views, lake_sources, lock_down
from schemas.finops import FINOPS_TABLES
from schemas.lake import LakeLocation

WATCHED = (*DERIVED_TABLES, *FINOPS_TABLES, RUNS_TABLE)
"""Tables whose files make a new snapshot (and a new ETag) when `chargeback nightly` rewrites them."""


@dataclass(frozen=True)
class Completeness:
    last_day: date | None
    """The last day `chargeback aggregate` rolled up (None: nothing rolled up yet)."""
    late_data_days: int
    """Days before `last_day` that the next runs still re-aggregate (records can arrive late)."""

    @property
    def provisional_from(self) -> date | None:
        return None if self.last_day is None else self.last_day - timedelta(days=self.late_data_days)

    def as_json(self) -> dict[str, object]:
        return {
            "last_day_rolled_up": self.last_day.isoformat() if self.last_day else None,
            "provisional_from": self.provisional_from.isoformat() if self.provisional_from else None,
            "late_data_days": self.late_data_days,
        }


@dataclass(frozen=True)
class Snapshot:
    sources: dict[str, object]
    etag: str
    completeness: Completeness
    taken: float


class LakeReader:
    def __init__(
        self,
        location: LakeLocation,
        settings: AggregatorSettings,
        *,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._location = location
        self._settings = settings
        self._refresh = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._database = connect()
        lock_down(self._database)
        self._snapshot: Snapshot | None = None
        self._fingerprint: str | None = None
        self._checked = 0.0

    def snapshot(self) -> Snapshot:
        """The current snapshot, re-listing the roll-up files if the last check is older than the refresh period."""
        with self._lock:
            now = self._clock()
            if self._snapshot is None or now - self._checked >= self._refresh:
                # The stream tables grow all day: their files are listed again at every check, while the
                # ETag (and with it every 304) changes only when the roll-up files do.
                fingerprint = self._listing()
                self._checked = now
                self._snapshot = self._take(fingerprint, now)
                self._fingerprint = fingerprint
            return self._snapshot

    def _listing(self) -> str:
        digest = hashlib.sha256()
        for table in sorted(WATCHED):
            files = derived_files(self._location, table)
            for info in self._location.filesystem.get_file_info(files) if files else []:
                mtime = info.mtime_ns if info.type == pafs.FileType.File else None
                digest.update(f"{info.path}\0{info.size}\0{mtime}\n".encode())
        return digest.hexdigest()

    def _take(self, fingerprint: str, now: float) -> Snapshot:
        sources = lake_sources(self._location, self._settings)
        cursor = self._database.cursor()
        try:
            attach_views(cursor, sources, temporary=True)
            row = cursor.execute("SELECT max(date) FROM chargeback_daily").fetchone()
        finally:
            cursor.close()
        completeness = Completeness(row[0] if row else None, self._settings.late_data_days)
        return Snapshot(sources, f'"{fingerprint[:32]}"', completeness, now)

    @contextmanager
    def cursor(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, Snapshot]]:
        """A cursor of its own with every view attached, and the snapshot it reads."""
        snapshot = self.snapshot()
        cursor = self._database.cursor()
        try:
            attach_views(cursor, snapshot.sources, temporary=True)
            yield cursor, snapshot
        finally:
            cursor.close()

    def answers(self) -> bool:
        """Whether the lake can be listed right now (for the health endpoint)."""
        try:
            self._listing()
        except OSError:
            return False
        return True
