"""`chargeback budgets evaluate | check | enforce`, `chargeback alerts evaluate`, `chargeback notify`.

Errors are typed (finops/errors.py); the shell turns them into one line and the exit code.
"""

from __future__ import annotations

from datetime import date, timedelta

import typer
from pydantic import ValidationError

from common.logs import get_logger
from finops.errors import FinopsArgumentError, FinopsSettingsError

log = get_logger(__name__)

LAKE_OPTION = typer.Option(
    None, "--lake", help="Lake URL (local directory or Blob container); default $CHARGEBACK_LAKE_URL."
)
AS_OF_OPTION = typer.Option(None, "--as-of", help="Evaluate as of the end of this UTC day (default: yesterday).")


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


def run_budgets(as_of: date, lake: str | None = None) -> list[dict]:
    """Evaluate every budget and replace `budget_status` for `as_of`; the rows written."""
    from finops.budgets import evaluate_budgets
    from finops.ledger import ledger, open_location, today_utc, write_partition

    config = settings()
    budgets, digest = load_budgets(config.budgets_config, config.storage_connection)
    location = open_location(config, lake)
    with ledger(location) as con:
        rows = evaluate_budgets(
            con, budgets, as_of, today=today_utc(), late_data_days=config.late_data_days, config_digest=digest
        )
    write_partition(location, "budget_status", as_of.isoformat(), rows)
    log.info("budgets evaluated", as_of=as_of.isoformat(), budgets=len(rows))
    return rows


def run_alerts(as_of: date, lake: str | None = None, days: int | None = None) -> dict[date, list[dict]]:
    """Evaluate the rules on `as_of` and the late-data days before it; replace each day's `alerts` partition."""
    from finops.alerts import evaluate_alerts
    from finops.ledger import is_provisional, ledger, open_location, today_utc, write_partition

    config = settings()
    rules = alert_rules()
    location = open_location(config, lake)
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


def run_notify(as_of: date, lake: str | None = None) -> list[dict]:
    """Send the crossings of `as_of` and the alerts of it and its late-data days; append the delivery rows."""
    from finops.ledger import ledger, open_location, write_partition
    from finops.notify import alert_notices, budget_notices, delivered_keys, send

    config = settings()
    if not config.webhooks:
        log.info("no webhooks configured", setting="CHARGEBACK_WEBHOOKS")
        return []
    location = open_location(config, lake)
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


def run_enforce(as_of: date, lake: str | None = None, credential: object = None) -> list[dict]:
    """Plan (dry-run) or apply enforcement for the `budget_status` of `as_of`; append the `budget_actions` rows."""
    from finops import enforce
    from finops.errors import ApimUnavailableError, LedgerNotFoundError
    from finops.ledger import ledger, open_location, write_partition

    config = settings()
    location = open_location(config, lake)
    apim = None
    if config.enforcement == "enforce":
        apim = enforce.Apim(config, credential if credential is not None else enforce.default_credential())
    try:
        with ledger(location) as con:
            status = con.sql(f"SELECT * FROM budget_status WHERE as_of = DATE '{as_of.isoformat()}'").to_arrow_table()
            if status.num_rows == 0:
                raise LedgerNotFoundError(f"no budget_status for {as_of}: run `chargeback budgets evaluate` first")
            history = con.sql("SELECT * FROM budget_actions").to_arrow_table().to_pylist()
            cache: dict[tuple, list[str]] = {}

            def subscriptions(row: dict) -> list[str]:
                key = (row["scope"], row["period_start"])
                if key not in cache:
                    cache[key] = enforce.scope_subscriptions(con, row["scope"], row["period_start"], as_of)
                return cache[key]

            decisions, entries = enforce.plan(status.to_pylist(), subscriptions, history)
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


def register(app: typer.Typer) -> None:
    budgets = typer.Typer(help="Budgets from the daily ledger (CHARGEBACK_BUDGETS_CONFIG).", no_args_is_help=True)

    @budgets.command("check")
    def budgets_check() -> None:
        """Validate the budgets file: one line per bad cell, exit 3."""
        config = settings()
        items, digest = load_budgets(config.budgets_config, config.storage_connection)
        typer.echo(f"{len(items)} budget rows OK ({digest})")

    @budgets.command("evaluate")
    def budgets_evaluate(as_of: str | None = AS_OF_OPTION, lake: str | None = LAKE_OPTION) -> None:
        """Write budget_status: spend to date, forecast and threshold crossings of each budget in force."""
        day = parse_as_of(as_of)
        for row in run_budgets(day, lake):
            crossed = ", ".join(f"{t}% on {d}" for t, d in zip(row["crossed"], row["crossed_on"], strict=True))
            typer.echo(
                f"{row['budget_id']} [{row['scope']}, {row['period_start']}..{row['period_end'] - timedelta(days=1)}]: "
                f"{row['spend']:.2f} of {row['amount']:.2f} {row['unit']} ({row['used_pct']:.1f}%), forecast "
                f"{row['forecast']:.2f} ({row['forecast_method']}); unpriced tokens {row['unpriced_tokens']}"
                + (f"; crossed {crossed}" if crossed else "")
                + (" [provisional]" if row["provisional"] else "")
            )

    @budgets.command("enforce")
    def budgets_enforce(as_of: str | None = AS_OF_OPTION, lake: str | None = LAKE_OPTION) -> None:
        """Throttle or suspend over-budget scopes through API Management (CHARGEBACK_ENFORCEMENT=enforce; dry-run
        by default), reactivate what is no longer over budget; every decision recorded in budget_actions."""
        day = parse_as_of(as_of)
        rows = run_enforce(day, lake)
        for row in rows:
            typer.echo(
                f"{row['mode']} {row['outcome']:17} {row['action']:10} {row['lever']} {row['target']} "
                f"({row['budget_id']}: {row['reason']})"
            )
        if not rows:
            typer.echo("nothing to enforce")

    app.add_typer(budgets, name="budgets")

    alerts = typer.Typer(help="Alert rules on the daily ledger.", no_args_is_help=True)

    @alerts.command("evaluate")
    def alerts_evaluate(
        as_of: str | None = AS_OF_OPTION,
        lake: str | None = LAKE_OPTION,
        days: int | None = typer.Option(
            None, "--days", min=0, max=400, help="Also re-evaluate this many days before (default: late-data days)."
        ),
    ) -> None:
        """Write alerts for the day and the late-data days before it (provisional while data may still arrive)."""
        day = parse_as_of(as_of)
        for evaluated, rows in run_alerts(day, lake, days).items():
            for row in rows:
                typer.echo(
                    f"{evaluated} {row['severity']:8} {row['rule']:20} {row['scope']}: {row['metric']} "
                    f"{row['actual']:.4g} (threshold {row['threshold']:.4g})"
                    + (" [provisional]" if row["provisional"] else "")
                )
            if not rows:
                typer.echo(f"{evaluated} no alerts")

    app.add_typer(alerts, name="alerts")

    @app.command("notify")
    def notify(as_of: str | None = AS_OF_OPTION, lake: str | None = LAKE_OPTION) -> None:
        """Send budget crossings and alerts to CHARGEBACK_WEBHOOKS (retried, once per crossing/alert and channel)."""
        day = parse_as_of(as_of)
        rows = run_notify(day, lake)
        delivered = sum(r["status"] == "delivered" for r in rows)
        for row in rows:
            if row["status"] != "delivered":
                typer.echo(f"failed: {row['dedup_key']} -> {row['channel']} ({row['error']})")
        typer.echo(f"{delivered} notifications delivered, {len(rows) - delivered} failed")
        if delivered < len(rows):
            from finops.errors import DeliveryFailedError

            raise DeliveryFailedError(f"{len(rows) - delivered} notification(s) not delivered; retried on the next run")
