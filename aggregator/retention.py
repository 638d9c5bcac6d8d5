"""`chargeback retention apply`: delete request/response bodies and dead letters past their retention.

`payloads` partitions whose event date is more than `CHARGEBACK_PAYLOAD_RETENTION_DAYS` before today (UTC), and
`dead_letters` partitions (by enqueued date) more than `CHARGEBACK_DEAD_LETTER_RETENTION_DAYS` before today, are
deleted whole. Usage and the roll-ups are never touched. On Azure the storage account's lifecycle rules (infra/)
do the same; this command is the mechanism for local lakes and a belt to those braces.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from aggregator.lakeio import delete_dir, partition_values
from schemas.lake import LakeLocation


@dataclass(frozen=True)
class Expired:
    table: str
    day: date
    path: str


def expired_partitions(location: LakeLocation, today: date, payload_days: int, dead_letter_days: int) -> list[Expired]:
    found: list[Expired] = []
    for table, days in (("payloads", payload_days), ("dead_letters", dead_letter_days)):
        cutoff = today - timedelta(days=days)
        for value in partition_values(location, table, "event_date"):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                continue  # not ours to judge: leave unknown directories alone
            if day < cutoff:
                found.append(Expired(table, day, location.path(table, f"event_date={value}")))
    return found


def apply_retention(location: LakeLocation, expired: list[Expired]) -> None:
    for item in expired:
        delete_dir(location, item.path)
