"""`chargeback budgets evaluate | check | enforce`, `alerts evaluate`, `notify`: the commands over finops/jobs.py."""

from __future__ import annotations

from datetime import timedelta

import typer

from finops.jobs import load_budgets, parse_as_of, run_alerts, run_budgets, run_enforce, run_notify, settings

LAKE_OPTION = typer.Option(
    None, "--lake", help="Lake URL (local directory or Blob container); default $CHARGEBACK_LAKE_URL."
)
AS_OF_OPTION = typer.Option(None, "--as-of", help="Evaluate as of the end of this UTC day (default: yesterday).")


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
