"""Who is billed: the time-versioned attribution map (`CHARGEBACK_TEAMS_CONFIG`), keyed on APIM identity.

The caller's own headers never decide who pays. APIM authenticates the subscription key, so the usage record's
`subscription_id` and `product_id` are facts about the caller; this map turns them into a team, a cost centre and an
owner. CSV columns (header required, order free, `#` lines are comments):

| column | meaning |
|---|---|
| `subscription_id` | APIM subscription id (`context.Subscription.Id`); empty = any subscription of the product |
| `product_id` | APIM product id (`context.Product.Id`); empty = any product of the subscription |
| `team` | the team billed |
| `cost_center`, `owner` | carried into every roll-up row of the team (optional) |
| `shared_teams` | `;`-separated teams callers of a *shared* subscription may name in the team tag; empty = not shared |
| `effective_from`, `effective_to` | UTC days `[from, to)`; empty = open |

At least one of `subscription_id` / `product_id` is given. The row in force on the usage's day that names both the
subscription and the product wins over one naming the subscription only, which wins over one naming the product
only. Two rows with the same subscription and product may not overlap in time.

How each roll-up row's team is decided (`attribution`):

- `mapped`: the map row's team (its subscription is not shared, or the caller named no team);
- `header`: the subscription is shared and the team tag names one of its `shared_teams`: that team;
- `header_rejected`: the subscription is shared and the team tag names a team outside its list: billed to the map
  row's team, and flagged;
- `unmapped`: no map row in force: no team (NULL), listed in the `unmapped` table and the report.

A team chosen by the header takes the cost centre and owner of that team's own map row in force (if it has one).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

from aggregator.dates import optional_day
from aggregator.errors import ConfigFileError
from common.storage import read_config_file

TEAM_PATTERN = r"[A-Za-z0-9][A-Za-z0-9 ._:/()-]{0,63}"
"""What a team name (in the map, or named by a header) may look like: the same rule as a tag dimension's value."""
_TEAM = re.compile(TEAM_PATTERN)
REQUIRED = ("team",)
COLUMNS = (
    "subscription_id",
    "product_id",
    "team",
    "cost_center",
    "owner",
    "shared_teams",
    "effective_from",
    "effective_to",
)

ATTRIBUTION_SCHEMA = pa.schema(
    [
        pa.field("subscription_id", pa.string()),
        pa.field("product_id", pa.string()),
        pa.field("map_team", pa.string()),
        pa.field("map_cost_center", pa.string()),
        pa.field("map_owner", pa.string()),
        pa.field("shared_teams", pa.list_(pa.string())),
    ]
)
"""One row per (subscription, product) seen on a day that the map resolves; pairs it does not are absent."""

DIRECTORY_SCHEMA = pa.schema(
    [pa.field("team", pa.string()), pa.field("cost_center", pa.string()), pa.field("owner", pa.string())]
)


class TeamsConfigError(ConfigFileError):
    """The attribution map (`CHARGEBACK_TEAMS_CONFIG`) is malformed."""


@dataclass(frozen=True)
class TeamMapping:
    subscription_id: str | None
    product_id: str | None
    team: str
    cost_center: str | None
    owner: str | None
    shared_teams: tuple[str, ...]
    effective_from: date | None
    effective_to: date | None
    line: int

    def in_force(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day < self.effective_to
        )

    def matches(self, subscription_id: str | None, product_id: str | None) -> bool:
        return (self.subscription_id is None or self.subscription_id == subscription_id) and (
            self.product_id is None or self.product_id == product_id
        )

    @property
    def specificity(self) -> int:
        return (2 if self.subscription_id is not None else 0) + (1 if self.product_id is not None else 0)


@dataclass(frozen=True)
class TeamsMap:
    rows: tuple[TeamMapping, ...] = ()

    def lookup(self, day: date, subscription_id: str | None, product_id: str | None) -> TeamMapping | None:
        """The most specific row in force on `day` for this subscription and product, or None (unmapped)."""
        best: TeamMapping | None = None
        for row in self.rows:
            if (
                row.in_force(day)
                and row.matches(subscription_id, product_id)
                and (best is None or row.specificity > best.specificity)
            ):
                best = row
        return best

    def directory(self, day: date) -> dict[str, TeamMapping]:
        """Each team's own row in force on `day` (the most specific one, then the first in the file)."""
        result: dict[str, TeamMapping] = {}
        for row in sorted(self.rows, key=lambda r: (-r.specificity, r.line)):
            if row.in_force(day):
                result.setdefault(row.team, row)
        return result


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _day(raw: str | None, where: str) -> date | None:
    return optional_day(raw, where, TeamsConfigError)


def _team(raw: str, where: str) -> str:
    if not _TEAM.fullmatch(raw):
        raise TeamsConfigError(
            f"{where}: team {raw[:80]!r} must be 1-64 characters: letters, digits, space and . _ : / ( ) -"
        )
    return raw


def parse_teams(text: str, origin: str) -> TeamsMap:
    lines = [line for line in text.splitlines(keepends=True) if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("".join(lines)))
    fields = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in fields]
    if missing or not ({"subscription_id", "product_id"} & set(fields)):
        raise TeamsConfigError(
            f"{origin}: needs the columns team and subscription_id and/or product_id "
            f"(optional: cost_center, owner, shared_teams, effective_from, effective_to)"
        )
    rows: list[TeamMapping] = []
    for number, raw in enumerate(reader, start=2):
        where = f"{origin}, line {number}"
        subscription, product = _text(raw.get("subscription_id")), _text(raw.get("product_id"))
        if subscription is None and product is None:
            raise TeamsConfigError(f"{where}: give a subscription_id, a product_id or both")
        team = _team(_text(raw.get("team")) or "", where)
        listed = (raw.get("shared_teams") or "").split(";")
        shared = tuple(sorted({_team(t.strip(), where) for t in listed if t.strip()}))
        start, end = _day(raw.get("effective_from"), where), _day(raw.get("effective_to"), where)
        if start and end and not start < end:
            raise TeamsConfigError(f"{where}: effective_to {end} must be after effective_from {start}")
        rows.append(
            TeamMapping(
                subscription,
                product,
                team,
                _text(raw.get("cost_center")),
                _text(raw.get("owner")),
                shared,
                start,
                end,
                number,
            )
        )
    _reject_overlaps(rows, origin)
    return TeamsMap(tuple(rows))


def _reject_overlaps(rows: list[TeamMapping], origin: str) -> None:
    by_key: dict[tuple[str | None, str | None], list[TeamMapping]] = {}
    for row in rows:
        by_key.setdefault((row.subscription_id, row.product_id), []).append(row)
    for (subscription, product), group in by_key.items():
        group.sort(key=lambda r: r.effective_from or date.min)
        for earlier, later in itertools.pairwise(group):
            if (later.effective_from or date.min) < (earlier.effective_to or date.max):
                raise TeamsConfigError(
                    f"{origin}: lines {earlier.line} and {later.line} both map subscription {subscription or '*'} / "
                    f"product {product or '*'} on {later.effective_from or 'every day'}"
                )


def load_teams(source: str | Path | None, *, connection_string: str | None = None) -> TeamsMap:
    """The map at `source` (a local path or a Blob URL, read by common.storage); no source = an empty map (every
    call is `unmapped`, never billed to a header's team)."""
    if source is None or str(source) == "":
        return TeamsMap()
    config = read_config_file(
        source, connection_string=connection_string, what="teams config (CHARGEBACK_TEAMS_CONFIG)"
    )
    return parse_teams(config.text(), config.location)


def attribution_table(teams: TeamsMap, day: date, pairs: list[tuple[str | None, str | None]]) -> pa.Table:
    """The map row in force on `day` for each (subscription, product) pair the day's usage carries."""
    rows = []
    for subscription, product in pairs:
        row = teams.lookup(day, subscription, product)
        if row is not None:
            rows.append(
                {
                    "subscription_id": subscription,
                    "product_id": product,
                    "map_team": row.team,
                    "map_cost_center": row.cost_center,
                    "map_owner": row.owner,
                    "shared_teams": list(row.shared_teams),
                }
            )
    return pa.Table.from_pylist(rows, schema=ATTRIBUTION_SCHEMA)


def directory_table(teams: TeamsMap, day: date) -> pa.Table:
    rows = [{"team": t, "cost_center": r.cost_center, "owner": r.owner} for t, r in teams.directory(day).items()]
    return pa.Table.from_pylist(rows, schema=DIRECTORY_SCHEMA)
