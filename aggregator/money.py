"""Money and price types, defined once for every table and export, and the one-currency rule.

- a **price** (per 1M tokens) is DECIMAL(18, 8): a sheet row with more decimals is refused on load;
- a **rate** (a PTU's hourly rate) is DECIMAL(38, 14): a reservation's effective hourly rate keeps every decimal;
- a **cost** is DECIMAL(38, 14): tokens x price / 1M is exact at that scale, and so is a PTU day's cost
  (`ptu_count x rate x 24`) and each share of it. Nothing is rounded until a person reads it (report: 2 decimals,
  half-even); tables and exports keep the exact figure.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import pyarrow as pa

from aggregator.errors import AggregatorError
from aggregator.fx import FxRates
from common.errors import DataCheckError

PRICE_SCALE = 8
PRICE_SQL = f"DECIMAL(18,{PRICE_SCALE})"
PRICE_ARROW = pa.decimal128(18, PRICE_SCALE)

COST_SCALE = 14
COST_SQL = f"DECIMAL(38,{COST_SCALE})"
COST_ARROW = pa.decimal128(38, COST_SCALE)

RATE_SCALE = 14
RATE_ARROW = pa.decimal128(38, RATE_SCALE)

CENT = Decimal("0.01")


class CurrencyMixError(AggregatorError, DataCheckError):
    """A report or export would add up amounts in different currencies."""


def cents(value: Decimal) -> Decimal:
    """Rounded for display only (half-even, the rounding of the report); never stored."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def billing_currency(rows: list[tuple[str | None, date, str]], what: str, fx: FxRates | None) -> str | None:
    """The currency `what` is in: the only one of `rows` (currency, usage day, description) without exchange rates;
    with them, their billing currency, provided every row's currency has a rate on its day (else a refusal naming
    the rows without one)."""
    if fx is None:
        return one_currency([(c, d) for c, _, d in rows], what)
    missing = [f"{d} ({c})" for c, day, d in rows if c is not None and fx.rate(c, day) is None]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise CurrencyMixError(
            f"{what}: no exchange rate into {fx.billing_currency} (CHARGEBACK_FX_RATES) for the usage day of {shown}"
        )
    return fx.billing_currency


def one_currency(rows: list[tuple[str | None, str]], what: str) -> str | None:
    """The single currency of `rows` (currency, description of the row), or a refusal naming rows of each currency.

    NULL currencies (unpriced rows) do not count. None when nothing is priced."""
    by_currency: dict[str, list[str]] = {}
    for currency, description in rows:
        if currency is not None:
            by_currency.setdefault(currency, []).append(description)
    if len(by_currency) <= 1:
        return next(iter(by_currency), None)
    parts = []
    for currency, descriptions in sorted(by_currency.items()):
        shown = ", ".join(descriptions[:3]) + (f" and {len(descriptions) - 3} more" if len(descriptions) > 3 else "")
        parts.append(f"{currency}: {shown}")
    raise CurrencyMixError(
        f"{what} would add up amounts in different currencies ({'; '.join(parts)}): "
        "price every deployment in one currency (no exchange rates are applied)"
    )
