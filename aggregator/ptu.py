"""Provisioned throughput (PTU): a fixed hourly cost per deployment, allocated to its users by token share per day.

Config (JSON): `{"provisioned": [{"deployment", "ptu_count", "hourly_rate", "currency", "effective_from",
"effective_to"}]}`; `hourly_rate` is per PTU per hour, the period is `[effective_from, effective_to)` in UTC days
(`effective_to` null = still running). A day's cost is `ptu_count x hourly_rate x 24`. It is shared among that
day's chargeback rows of the deployment in proportion to their tokens (prompt + completion); the shares are
rounded to 1e-10 (or to the day cost's own last decimal, if it has more) with the remainder given to the largest
shares, so they add up to the day's cost exactly. `hourly_rate` keeps up to 14 decimals (a reservation's effective
rate), and the day's cost is exact at the cost scale (aggregator/money.py). A day
without traffic is still paid for: it is kept as an `idle` allocation with no team, never dropped. Tokens on a
provisioned deployment are priced 0 per token, so nothing is billed twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal, localcontext
from pathlib import Path
from typing import Annotated

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aggregator.errors import PtuConfigError
from aggregator.money import COST_ARROW, RATE_ARROW

HOURS_PER_DAY = 24
ALLOCATION_QUANTUM = Decimal("1e-10")


class ProvisionedDeployment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    deployment: Annotated[str, Field(min_length=1)]
    ptu_count: Annotated[int, Field(gt=0)]
    hourly_rate: Annotated[Decimal, Field(ge=0, max_digits=24, decimal_places=14)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    effective_from: date
    effective_to: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ProvisionedDeployment:
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        return self

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    def day_cost(self) -> Decimal:
        with localcontext() as exact:
            exact.prec = 80
            return self.ptu_count * self.hourly_rate * HOURS_PER_DAY


class PtuConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    provisioned: list[ProvisionedDeployment] = Field(default_factory=list)

    def in_force(self, day: date) -> dict[str, ProvisionedDeployment]:
        result: dict[str, ProvisionedDeployment] = {}
        for item in self.provisioned:
            if item.in_force(day):
                if item.deployment in result:
                    raise PtuConfigError(f"two PTU periods for {item.deployment!r} overlap on {day}")
                result[item.deployment] = item
        return result


def load_ptu_config(path: Path | None) -> PtuConfig:
    if path is None:
        return PtuConfig()
    if not path.is_file():
        raise PtuConfigError(f"PTU config {path} does not exist")
    return parse_ptu_config(path.read_bytes().decode("utf-8-sig"), str(path))


def parse_ptu_config(text: str, where: str) -> PtuConfig:
    """A PTU config's JSON text (read by common.storage.read_config_file from a path or a Blob URL)."""
    try:
        return PtuConfig.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise PtuConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Share:
    key: int
    tokens: int


def allocation_quantum(cost: Decimal) -> Decimal:
    """1e-10, or the cost's own last decimal place when it has more (so the leftover is a whole number of quanta)."""
    exponent = cost.as_tuple().exponent
    if isinstance(exponent, int) and exponent < ALLOCATION_QUANTUM.as_tuple().exponent:
        return Decimal(1).scaleb(exponent)
    return ALLOCATION_QUANTUM


def allocate(cost: Decimal, shares: list[Share]) -> dict[int, Decimal]:
    """Split `cost` by token share, in quanta of 1e-10 (finer if `cost` has more decimals), adding up to `cost`
    exactly (largest remainder)."""
    total = sum(s.tokens for s in shares)
    if total <= 0:
        raise ValueError("allocate needs at least one share with tokens")
    quantum = allocation_quantum(cost)
    with localcontext() as precise:
        precise.prec = 80  # no rounding before the quantisation below, whatever the cost's digits and token counts
        exact = {s.key: cost * s.tokens / total for s in shares}
        floored = {k: v.quantize(quantum, rounding=ROUND_DOWN) for k, v in exact.items()}
        leftover = int(((cost - sum(floored.values())) / quantum).to_integral_value())
        for key in sorted(exact, key=lambda k: (exact[k] - floored[k], exact[k], -k), reverse=True)[:leftover]:
            floored[key] += quantum
    return floored


PTU_ALLOCATION_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("deployment", pa.string(), nullable=False),
        pa.field("gid", pa.int64()),
        pa.field("subscription_id", pa.string()),
        pa.field("subscription_name", pa.string()),
        pa.field("product_id", pa.string()),
        pa.field("team", pa.string()),
        pa.field("attribution", pa.string()),
        pa.field("tokens", pa.int64(), nullable=False),
        pa.field("deployment_tokens", pa.int64(), nullable=False),
        pa.field("ptu_count", pa.int64(), nullable=False),
        pa.field("hourly_rate", RATE_ARROW, nullable=False),
        pa.field("hours", pa.int64(), nullable=False),
        pa.field("day_cost", COST_ARROW, nullable=False),
        pa.field("allocated_cost", COST_ARROW, nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
    ]
)


def ptu_today_table(config: PtuConfig, day: date) -> pa.Table:
    active = config.in_force(day)
    return pa.table(
        {"deployment": list(active), "currency": [p.currency for p in active.values()]},
        schema=pa.schema([("deployment", pa.string()), ("currency", pa.string())]),
    )


def allocate_ptu(priced: pa.Table, config: PtuConfig, day: date) -> pa.Table:
    """One allocation row per chargeback row of a provisioned deployment, or one `idle` row for a day of no traffic."""
    active = config.in_force(day)
    rows = [
        r
        for r in priced.to_pylist()
        if r["pricing_status"] == "ptu" or (r["deployment"] in active and r["pricing_status"] == "no_tokens")
    ]
    for r in rows:
        r.setdefault("share_tokens", r["prompt_tokens"] + r["completion_tokens"])
    out: list[dict[str, object]] = []
    for name, deployment in sorted(active.items()):
        cost = deployment.day_cost()
        mine = sorted((r for r in rows if r["deployment"] == name), key=lambda r: r["gid"])
        total = sum(r["share_tokens"] for r in mine)
        common = {
            "date": day,
            "deployment": name,
            "deployment_tokens": total,
            "ptu_count": deployment.ptu_count,
            "hourly_rate": deployment.hourly_rate,
            "hours": 24,
            "day_cost": cost,
            "currency": deployment.currency,
        }
        if total == 0:
            out.append(common | {"gid": None, "tokens": 0, "allocated_cost": cost, "status": "idle"})
            continue
        users = [r for r in mine if r["share_tokens"] > 0]
        shares = allocate(cost, [Share(r["gid"], r["share_tokens"]) for r in users])
        for r in users:
            out.append(
                common
                | {
                    "gid": r["gid"],
                    "subscription_id": r["subscription_id"],
                    "subscription_name": r["subscription_name"],
                    "product_id": r["product_id"],
                    "team": r["team"],
                    "attribution": r.get("attribution"),
                    "tokens": r["share_tokens"],
                    "allocated_cost": shares[r["gid"]],
                    "status": "allocated",
                }
            )
    return pa.Table.from_pylist(out, schema=PTU_ALLOCATION_SCHEMA)
