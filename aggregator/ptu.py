"""Provisioned throughput (PTU): a fixed hourly cost per deployment, allocated to its users by token share per day.

Config (JSON): `{"provisioned": [{"deployment", "ptu_count", "hourly_rate", "currency", "effective_from",
"effective_to"}]}`; `hourly_rate` is per PTU per hour, the period is `[effective_from, effective_to)` in UTC days
(`effective_to` null = still running). A day's cost is `ptu_count x hourly_rate x 24`. It is shared among that
day's chargeback rows of the deployment in proportion to their tokens (prompt + completion); the shares are
rounded to 1e-10 with the remainder given to the largest shares, so they add up to the day's cost exactly. A day
without traffic is still paid for: it is kept as an `idle` allocation with no team, never dropped. Tokens on a
provisioned deployment are priced 0 per token, so nothing is billed twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aggregator.errors import PtuConfigError

HOURS_PER_DAY = 24
ALLOCATION_QUANTUM = Decimal("1e-10")


class ProvisionedDeployment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    deployment: Annotated[str, Field(min_length=1)]
    ptu_count: Annotated[int, Field(gt=0)]
    hourly_rate: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=8)]
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


def allocate(cost: Decimal, shares: list[Share]) -> dict[int, Decimal]:
    """Split `cost` by token share, in quanta of 1e-10, adding up to `cost` exactly (largest remainder)."""
    total = sum(s.tokens for s in shares)
    if total <= 0:
        raise ValueError("allocate needs at least one share with tokens")
    exact = {s.key: cost * s.tokens / total for s in shares}
    floored = {k: v.quantize(ALLOCATION_QUANTUM, rounding=ROUND_DOWN) for k, v in exact.items()}
    leftover = int(((cost - sum(floored.values())) / ALLOCATION_QUANTUM).to_integral_value())
    for key in sorted(exact, key=lambda k: (exact[k] - floored[k], exact[k], -k), reverse=True)[:leftover]:
        floored[key] += ALLOCATION_QUANTUM
    return floored
