"""Exchange rates for reports and exports that span currencies (`CHARGEBACK_FX_RATES`).

Without this file a report or FOCUS export whose priced rows are in more than one currency is refused, naming rows
of each. With it, every amount is converted into the one billing currency the file converts to. CSV columns
(header required, `#` lines are comments):

| column | meaning |
|---|---|
| `from_currency` | ISO 4217 code of the amounts converted (`EUR`) |
| `to_currency` | the billing currency (`USD`); the same in every row |
| `rate` | billing currency per unit of `from_currency`, at most 10 decimals, > 0 |
| `effective_from`, `effective_to` | UTC days `[from, to)` the rate applies to a usage day; empty = open |

An amount is converted with the rate in force on its usage day, exactly (no rounding: a converted cost keeps every
decimal of cost x rate). A row in a currency with no rate that day is refused, naming it. Rows for one currency may
not overlap in time.
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import pyarrow as pa

from aggregator.dates import optional_day
from aggregator.errors import ConfigFileError

RATE_SCALE = 10
FX_SCHEMA = pa.schema(
    [
        pa.field("from_currency", pa.string(), nullable=False),
        pa.field("rate", pa.decimal128(24, RATE_SCALE), nullable=False),
        pa.field("effective_from", pa.date32()),
        pa.field("effective_to", pa.date32()),
    ]
)


class FxRatesError(ConfigFileError):
    """The exchange-rate file (`CHARGEBACK_FX_RATES`) is malformed."""


@dataclass(frozen=True)
class FxRate:
    from_currency: str
    rate: Decimal
    effective_from: date | None
    effective_to: date | None

    def in_force(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day < self.effective_to
        )


@dataclass(frozen=True)
class FxRates:
    billing_currency: str
    rates: tuple[FxRate, ...]

    def rate(self, currency: str, day: date) -> Decimal | None:
        """Billing currency per unit of `currency` on `day`; 1 for the billing currency itself; None if unknown."""
        if currency == self.billing_currency:
            return Decimal(1)
        for rate in self.rates:
            if rate.from_currency == currency and rate.in_force(day):
                return rate.rate
        return None

    def table(self) -> pa.Table:
        rows = [
            {
                "from_currency": r.from_currency,
                "rate": r.rate,
                "effective_from": r.effective_from,
                "effective_to": r.effective_to,
            }
            for r in self.rates
        ]
        return pa.Table.from_pylist(rows, schema=FX_SCHEMA)


def _currency(raw: str | None, where: str) -> str:
    value = (raw or "").strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise FxRatesError(f"{where}: currency {raw!r} is not an ISO 4217 code")
    return value


def _day(raw: str | None, where: str) -> date | None:
    return optional_day(raw, where, FxRatesError)


def parse_fx(text: str, origin: str) -> FxRates:
    lines = [line for line in text.splitlines(keepends=True) if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("".join(lines)))
    if not {"from_currency", "to_currency", "rate"} <= set(reader.fieldnames or []):
        raise FxRatesError(
            f"{origin}: needs the columns from_currency, to_currency, rate[, effective_from, effective_to]"
        )
    billing: set[str] = set()
    rates: list[FxRate] = []
    for number, row in enumerate(reader, start=2):
        where = f"{origin}, line {number}"
        source, target = _currency(row.get("from_currency"), where), _currency(row.get("to_currency"), where)
        billing.add(target)
        if source == target:
            raise FxRatesError(f"{where}: {source} converted to itself")
        text_rate = (row.get("rate") or "").strip()
        try:
            rate = Decimal(text_rate)
        except InvalidOperation:
            raise FxRatesError(f"{where}: rate {text_rate!r} is not a number") from None
        if not rate.is_finite() or rate <= 0 or rate != rate.quantize(Decimal(1).scaleb(-RATE_SCALE)) or rate >= 10**13:
            raise FxRatesError(
                f"{where}: rate {text_rate!r} must be a positive number with at most {RATE_SCALE} decimals"
            )
        start, end = _day(row.get("effective_from"), where), _day(row.get("effective_to"), where)
        if start and end and not start < end:
            raise FxRatesError(f"{where}: effective_to {end} must be after effective_from {start}")
        rates.append(FxRate(source, rate, start, end))
    if len(billing) != 1:
        raise FxRatesError(
            f"{origin}: convert into exactly one billing currency (to_currency), found {sorted(billing) or 'none'}"
        )
    by_currency: dict[str, list[FxRate]] = {}
    for rate in rates:
        by_currency.setdefault(rate.from_currency, []).append(rate)
    for currency, group in by_currency.items():
        group.sort(key=lambda r: r.effective_from or date.min)
        for earlier, later in itertools.pairwise(group):
            if (later.effective_from or date.min) < (earlier.effective_to or date.max):
                raise FxRatesError(f"{origin}: two {currency} rates overlap from {later.effective_from or 'the start'}")
    return FxRates(billing.pop(), tuple(rates))
