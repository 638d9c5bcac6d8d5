"""Explicit Arrow schemas of the FinOps tables (`chargeback budgets | alerts | notify | enforce`, finops/).

They are derived tables like the roll-ups: one file per partition, `<table>/<key>=<value>/part-0.parquet`, replaced
whole, so a re-run over the same ledger rewrites the same rows. `chargeback sql` shows them as views.

Money is DECIMAL(38,14) like the roll-ups (`amount`, `spend`, `forecast` of a currency budget; a token budget keeps
tokens in the same columns as whole numbers). Alert metrics are DOUBLE: they are rates, latencies and ratios.
"""

from __future__ import annotations

import pyarrow as pa

MONEY = pa.decimal128(38, 14)
TIMESTAMP = pa.timestamp("us", tz="UTC")

BUDGET_STATUS_SCHEMA = pa.schema(
    [
        pa.field("as_of", pa.date32(), nullable=False),
        pa.field("budget_id", pa.string(), nullable=False),
        pa.field("scope", pa.string(), nullable=False),
        pa.field("scope_type", pa.string(), nullable=False),
        pa.field("scope_value", pa.string(), nullable=False),
        pa.field("period", pa.string(), nullable=False),
        pa.field("period_start", pa.date32(), nullable=False),
        pa.field("period_end", pa.date32(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("amount", MONEY, nullable=False),
        pa.field("token_cost", MONEY, nullable=False),
        pa.field("ptu_cost", MONEY, nullable=False),
        pa.field("spend", MONEY, nullable=False),
        pa.field("unpriced_tokens", pa.int64(), nullable=False),
        pa.field("unpriced_requests", pa.int64(), nullable=False),
        pa.field("other_currency_rows", pa.int64(), nullable=False),
        pa.field("used_pct", pa.float64(), nullable=False),
        pa.field("days_elapsed", pa.int32(), nullable=False),
        pa.field("days_in_period", pa.int32(), nullable=False),
        pa.field("forecast", MONEY, nullable=False),
        pa.field("forecast_method", pa.string(), nullable=False),
        pa.field("thresholds", pa.list_(pa.int32()), nullable=False),
        pa.field("crossed", pa.list_(pa.int32()), nullable=False),
        pa.field("crossed_on", pa.list_(pa.date32()), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("protected", pa.bool_(), nullable=False),
        pa.field("provisional", pa.bool_(), nullable=False),
        pa.field("config_digest", pa.string(), nullable=False),
    ]
)
"""One row per budget in force on `as_of` (partition `as_of=`). `crossed` lists the thresholds (percent of
`amount`) that spend reached in the period so far, `crossed_on[i]` the first day cumulative spend reached
`crossed[i]`: a crossing belongs to one (budget, period, threshold) and is raised once."""

ALERTS_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("alert_id", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("scope", pa.string(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("actual", pa.float64(), nullable=False),
        pa.field("expected", pa.float64()),
        pa.field("threshold", pa.float64(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("provisional", pa.bool_(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
    ]
)
"""One row per rule x scope that fired on `date` (partition `date=`); `alert_id` is stable across re-runs."""

BUDGET_ACTIONS_SCHEMA = pa.schema(
    [
        pa.field("as_of", pa.date32(), nullable=False),
        pa.field("recorded_at", TIMESTAMP, nullable=False),
        pa.field("budget_id", pa.string(), nullable=False),
        pa.field("scope", pa.string(), nullable=False),
        pa.field("period_start", pa.date32(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("lever", pa.string(), nullable=False),
        pa.field("target", pa.string(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
    ]
)
"""Every enforcement decision (partition `as_of=`): `action` suspend / reactivate / throttle / unthrottle,
`lever` apim_subscription / named_value, `mode` dry_run / enforce, `outcome` planned / applied / already /
skipped_protected / unsupported / failed."""

NOTIFICATIONS_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("sent_at", TIMESTAMP, nullable=False),
        pa.field("dedup_key", pa.string(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("host", pa.string(), nullable=False),
        pa.field("attempts", pa.int32(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("http_status", pa.int32()),
        pa.field("error", pa.string()),
    ]
)
"""One row per delivery (partition `date=` of the run): `status` delivered / failed. A key delivered once to a
channel is never sent to it again. The webhook URL itself is never stored (it is a secret): only its host."""

FINOPS_TABLES: dict[str, tuple[str, pa.Schema]] = {
    "budget_status": ("as_of", BUDGET_STATUS_SCHEMA),
    "alerts": ("date", ALERTS_SCHEMA),
    "budget_actions": ("as_of", BUDGET_ACTIONS_SCHEMA),
    "notifications": ("date", NOTIFICATIONS_SCHEMA),
}
"""Table -> (its Hive key, its schema)."""
