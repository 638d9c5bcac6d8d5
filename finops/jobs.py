"""The FinOps jobs behind the commands and the nightly steps: settings read once, then evaluate, notify, enforce.

Each `run_*` takes an open lake location (the nightly job's) or opens `--lake` / CHARGEBACK_LAKE_URL itself.
Errors are typed (finops/errors.py); the shell turns them into one line and the exit code.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError

from common.logs import get_logger
from finops.errors import FinopsArgumentError, FinopsSettingsError
from schemas.lake import LakeLocation

log = get_logger(__name__)


def settings():  # noqa: ANN201 - FinopsSettings, imported lazily to keep `chargeback --help` fast
    from finops.settings import FinopsSettings

    return _load(FinopsSettings, "FinOps configuration")


def alert_rules():  # noqa: ANN201
    from finops.settings import AlertRules

    return _load(AlertRules, "alert rules")


def _load(settings_cls, what: str):  # noqa: ANN001, ANN202 - a pydantic-settings class and its instance
    """Read the environment once; one line naming every offending variable (common.configuration)."""
    from pydantic_settings import SettingsError

    from common.configuration import configuration_error

    try:
        return settings_cls()
    except (ValidationError, SettingsError) as exc:
        raise FinopsSettingsError(str(configuration_error(exc, settings_cls, what=what))) from None


def parse_as_of(text: str | None) -> date:
    from finops.ledger import default_as_of

    if text is None:
        return default_as_of()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FinopsArgumentError(f"--as-of {text!r}: expected a day YYYY-MM-DD") from None


def load_budgets(config: str | None, connection_string: str | None):  # noqa: ANN201 - (list[Budget], digest)
    from common.storage import read_config_file
    from finops.budgets_file import parse_budgets
    from finops.errors import BudgetsConfigError

    if not config:
        raise BudgetsConfigError("CHARGEBACK_BUDGETS_CONFIG is not set: give the budgets CSV (local path or Blob URL)")
    file = read_config_file(
        config, connection_string=connection_string, what="budgets file (CHARGEBACK_BUDGETS_CONFIG)"
    )
    return parse_budgets(file.text(), file.location), f"sha256:{file.sha256}"


def run_budgets(as_of: date, lake: str | None = None, location: LakeLocation | None = None) -> list[dict]:
    """Evaluate every budget and replace `budget_status` for `as_of`; the rows written."""
    from finops.budgets import evaluate_budgets
    from finops.ledger import ledger, open_location, today_utc, write_partition

    config = settings()
    budgets, digest = load_budgets(config.budgets_config, config.storage_connection)
    location = location or open_location(config, lake)
    with ledger(location) as con:
        rows = evaluate_budgets(
            con, budgets, as_of, today=today_utc(), late_data_days=config.late_data_days, config_digest=digest
        )
    write_partition(location, "budget_status", as_of.isoformat(), rows)
    log.info("budgets_evaluated", as_of=as_of.isoformat(), budgets=len(rows))
    return rows


def run_alerts(
    as_of: date, lake: str | None = None, days: int | None = None, location: LakeLocation | None = None
) -> dict[date, list[dict]]:
    """Evaluate the rules on `as_of` and the late-data days before it; replace each day's `alerts` partition."""
    from finops.alerts import evaluate_alerts
    from finops.ledger import is_provisional, ledger, open_location, today_utc, write_partition

    config = settings()
    rules = alert_rules()
    location = location or open_location(config, lake)
    span = config.late_data_days if days is None else days
    today = today_utc()
    result: dict[date, list[dict]] = {}
    with ledger(location) as con:
        for offset in range(span, -1, -1):
            day = as_of - timedelta(days=offset)
            result[day] = evaluate_alerts(
                con, day, rules, provisional=is_provisional(day, today, config.late_data_days)
            )
    for day, rows in result.items():
        write_partition(location, "alerts", day.isoformat(), rows)
    return result


def _budget_actions(con: Any) -> list[dict]:
    """Every earlier `budget_actions` row; none before the first enforcement (the table does not exist yet)."""
    import duckdb

    try:
        return list(con.sql("SELECT * FROM budget_actions").to_arrow_table().to_pylist())
    except duckdb.CatalogException:
        return []


def run_notify(as_of: date, lake: str | None = None, location: LakeLocation | None = None) -> list[dict]:
    """Send the crossings of `as_of` and the alerts of it and its late-data days; append the delivery rows."""
    from finops.ledger import ledger, open_location, write_partition
    from finops.notify import alert_notices, budget_notices, delivered_keys, send

    config = settings()
    if not config.webhooks:
        log.info("no_webhooks_configured", setting="CHARGEBACK_WEBHOOKS")
        return []
    location = location or open_location(config, lake)
    with ledger(location) as con:
        notices = budget_notices(con, as_of) + alert_notices(con, as_of - timedelta(days=config.late_data_days), as_of)
        already = delivered_keys(con)
        rows = send(
            notices,
            config.webhooks,
            already,
            attempts=config.webhook_attempts,
            backoff=config.webhook_backoff_seconds,
            timeout=config.webhook_timeout_seconds,
        )
        by_day: dict[date, list[dict]] = {}
        for row in rows:
            by_day.setdefault(row["date"], []).append(row)
        earlier = {
            day: con.sql(f"SELECT * FROM notifications WHERE date = DATE '{day.isoformat()}' ORDER BY sent_at")
            .to_arrow_table()
            .to_pylist()
            for day in by_day
        }
    for day, new in by_day.items():
        write_partition(location, "notifications", day.isoformat(), earlier[day] + new)
    return rows


def run_enforce(
    as_of: date,
    lake: str | None = None,
    credential: object = None,
    location: LakeLocation | None = None,
    *,
    budgets_configured: bool = True,
) -> list[dict]:
    """Plan (dry-run) or apply enforcement for the `budget_status` of `as_of`; append the `budget_actions` rows.

    No budget in force (every budget removed from the file, or `budgets_configured=False`: the file itself is no
    longer set) is not "nothing to do": what this product suspended or throttled earlier is undone, as when a period
    ends, so a removed budget never leaves a subscription suspended."""
    from aggregator.lakeio import is_dir, partition_dir
    from finops import enforce
    from finops.errors import ApimUnavailableError, LedgerNotFoundError
    from finops.ledger import ledger, open_location, write_partition

    config = settings()
    location = location or open_location(config, lake)
    apim = None
    if config.enforcement == "enforce":
        apim = enforce.Apim(config, credential if credential is not None else enforce.default_credential())
    try:
        with ledger(location) as con:
            status: list[dict] = []
            if budgets_configured:
                day = as_of.isoformat()
                status = con.sql(f"SELECT * FROM budget_status WHERE as_of = DATE '{day}'").to_arrow_table().to_pylist()
                if not status and not is_dir(location, partition_dir(location, "budget_status", "as_of", day)):
                    raise LedgerNotFoundError(f"no budget_status for {as_of}: run `chargeback budgets evaluate` first")
            history = _budget_actions(con)
            if not status:
                log.info("enforce_no_budgets", as_of=as_of.isoformat(), earlier_actions=len(history))
                if not any(r["mode"] == "enforce" and r["outcome"] == "applied" for r in history):
                    return []  # nothing of ours to undo: no call to API Management
            cache: dict[tuple, list[str]] = {}

            def subscriptions(row: dict) -> list[str]:
                key = (row["scope"], row["period_start"])
                if key not in cache:
                    cache[key] = enforce.scope_subscriptions(con, row["scope"], row["period_start"], as_of)
                return cache[key]

            decisions, entries = enforce.plan(status, subscriptions, history)
            rows = enforce.apply(decisions, entries, as_of=as_of, apim=apim, history=history)
            earlier = [r for r in history if r["as_of"] == as_of]
    finally:
        if apim is not None:
            apim.close()
    write_partition(location, "budget_actions", as_of.isoformat(), earlier + rows)
    failed = [r for r in rows if r["outcome"] == "failed"]
    if failed:
        raise ApimUnavailableError(
            f"{len(failed)} enforcement action(s) failed (recorded in budget_actions), first: {failed[0]['reason']}"
        )
    return rows
