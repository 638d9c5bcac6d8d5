"""Whether a month's roll-up exists for every day that has usage: a report or export of a month never aggregated
would otherwise read as a month that cost nothing."""

from __future__ import annotations

from datetime import date

from aggregator.errors import NoDataError
from aggregator.lakeio import partition_values
from schemas.lake import LakeLocation


def require_rollup(location: LakeLocation, first: date) -> None:
    """Refuse (one line, exit 4) when a day of the month has usage but no `chargeback_daily` partition, or when the
    month has neither usage nor a roll-up."""
    month = f"{first:%Y-%m}"
    used = [d for d in partition_values(location, "usage", "event_date") if d.startswith(month)]
    rolled = {d for d in partition_values(location, "chargeback_daily", "date") if d.startswith(month)}
    missing = [d for d in used if d not in rolled]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise NoDataError(
            f"{month} has usage on {len(missing)} day(s) that were never aggregated ({shown}): run "
            f"`chargeback aggregate --from {missing[0]} --to {missing[-1]}` first"
        )
    if not used and not rolled:
        raise NoDataError(f"{month} has no usage and no roll-up in this lake: nothing to report")
