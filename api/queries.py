"""The API's SQL: parameterised only, identifiers from fixed lists, every read limited to the caller's teams.

Values never enter the SQL text: they are bound as parameters (`$name`). Group-by columns and filters come from
the fixed `DIMENSIONS` list, so a request can only choose among known column names.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from api.auth import Principal

DIMENSIONS = (
    "date",
    "team",
    "subscription_id",
    "product_id",
    "deployment",
    "model",
    "deployment_type",
    "region",
)
"""What a summary can be grouped and filtered by (columns of `chargeback_daily`)."""

TOKENS = ("requests", "successful", "failed", "prompt_tokens", "cached_tokens", "completion_tokens", "total_tokens")
MONEY = ("token_cost", "ptu_cost", "total_cost")


@dataclass
class Where:
    """A conjunction of conditions with its bound parameters."""

    clauses: list[str] = field(default_factory=list)
    params: dict[str, object] = field(default_factory=dict)

    def add(self, clause: str, **params: object) -> None:
        self.clauses.append(clause)
        self.params.update(params)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"


UNPRICED_TOKENS = (
    "coalesce(sum(prompt_tokens + completion_tokens) FILTER (WHERE pricing_status = 'unpriced'), 0)::BIGINT"
)


def _sums() -> str:
    """Counts stay integers (DuckDB widens a sum of BIGINT to HUGEINT); money stays DECIMAL."""
    return ", ".join([*(f"sum({c})::BIGINT AS {c}" for c in TOKENS), *(f"sum({c}) AS {c}" for c in MONEY)])


def team_scope(where: Where, principal: Principal, column: str = "team") -> None:
    """Rows of the caller's teams only (a team-scoped caller never sees rows without a team)."""
    if not principal.all_teams:
        where.add(f"{column} IN (SELECT unnest($scope_teams))", scope_teams=sorted(principal.teams))


def summary_sql(group_by: list[str], where: Where) -> str:
    keys = [*group_by, "currency"]
    sums = _sums()
    return (
        f"SELECT {', '.join(keys)}, {sums}, "
        f"{UNPRICED_TOKENS} AS unpriced_tokens "
        f"FROM chargeback_daily WHERE {where.sql()} GROUP BY ALL "
        f"ORDER BY total_cost DESC NULLS LAST, {', '.join(f'{k} NULLS FIRST' for k in keys)}"
    )


def report_sql(where: Where) -> str:
    sums = _sums()
    return (
        f"SELECT team, currency, {sums}, "
        f"{UNPRICED_TOKENS} AS unpriced_tokens "
        f"FROM chargeback_monthly WHERE {where.sql()} GROUP BY ALL "
        "ORDER BY total_cost DESC NULLS LAST, team NULLS FIRST, currency NULLS FIRST"
    )


def records_sql(where: Where, limit: int) -> str:
    return (
        f"SELECT * EXCLUDE (tags_json) FROM usage WHERE {where.sql()} ORDER BY event_time, record_id LIMIT {int(limit)}"
    )


def encode_cursor(event_time: datetime, record_id: str) -> str:
    raw = json.dumps([event_time.isoformat(), record_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, str]:
    """The (event_time, record_id) a page ended at; ValueError when the token is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        event_time, record_id = json.loads(raw)
        return datetime.fromisoformat(event_time), str(record_id)
    except (ValueError, TypeError) as exc:
        raise ValueError("not a cursor this API issued") from exc


def money(value: Decimal | None) -> str | None:
    """A decimal string, exact, without the storage type's trailing zeros (at least cents): never a float."""
    if value is None:
        return None
    text = f"{value:f}"
    if "." in text:
        whole, fraction = text.split(".")
        fraction = fraction.rstrip("0").ljust(2, "0")
        text = f"{whole}.{fraction}"
    return text


def plain(value: object) -> object:
    """A JSON value for a DuckDB value: money and dates as strings, maps as objects."""
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return {str(k): plain(v) for k, v in value}  # an Arrow map
        return [plain(v) for v in value]
    return value
