"""`chargeback aggregate | prices import | export focus | sql | report | compact | retention apply | nightly`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aggregator import errors
from aggregator.settings import AggregatorSettings
from common.configuration import load_settings
from common.outputs import write_text, writing

err = Console(stderr=True)

LAKE_OPTION = typer.Option(
    None, "--lake", help="Lake URL (local directory or Blob container); default $CHARGEBACK_LAKE_URL."
)


def _settings() -> AggregatorSettings:
    return load_settings(AggregatorSettings, what="aggregator configuration")


def _lake(settings: AggregatorSettings, lake: str | None):  # noqa: ANN202 - LakeLocation, imported lazily
    from aggregator.lakeio import open_lake

    return open_lake(lake or settings.lake_url, settings.storage_connection)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not sys.stderr.isatty(),
    )


def register(app: typer.Typer) -> None:
    @app.command("aggregate")
    def aggregate(
        day: str | None = typer.Option(None, "--date", help="One UTC day, YYYY-MM-DD."),
        start: str | None = typer.Option(None, "--from", help="First day of a range (with --to)."),
        end: str | None = typer.Option(None, "--to", help="Last day of a range, inclusive."),
        lake: str | None = LAKE_OPTION,
    ) -> None:
        """Roll up usage into chargeback_daily / _monthly, unpriced and ptu_allocation; replaces exactly those days.

        Default: yesterday plus CHARGEBACK_LATE_DATA_DAYS days before it (late records are re-aggregated).
        """
        from aggregator.dates import resolve_days
        from aggregator.jobs import aggregate_job

        settings = _settings()
        days = resolve_days(day, start, end, settings.late_data_days)
        location = _lake(settings, lake)
        with _progress() as progress:
            for line in aggregate_job(location, settings, days, progress=progress):
                typer.echo(line)

    prices = typer.Typer(help="The price sheet.", no_args_is_help=True)

    @prices.command("import")
    def prices_import(
        files: list[Path] = typer.Argument(..., help="Saved Azure Retail Prices API JSON response(s)."),
        out: Path | None = typer.Option(None, "--out", help="Write the sheet here (default: standard output)."),
        rename: list[str] = typer.Option([], "--rename", help="METER_MODEL=RESPONSE_MODEL, e.g. gpt-4o-0806=gpt-4o."),
        any_region: bool = typer.Option(False, "--any-region", help="One '*' row when all regions agree."),
    ) -> None:
        """Convert a saved Retail Prices API response into a price sheet (per 1M tokens, time-versioned)."""
        import io

        from aggregator.prices import write_price_sheet
        from aggregator.retail_prices import import_retail_prices

        renames = {}
        for item in rename:
            old, sep, new = item.partition("=")
            if not sep or not old or not new:
                raise errors.ArgumentError(f"--rename {item!r}: expected METER_MODEL=RESPONSE_MODEL")
            renames[old.strip()] = new.strip()
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise errors.InputFileNotFoundError(f"no such file: {', '.join(missing)}")
        report = import_retail_prices(files, renames=renames, any_region=any_region)
        buffer = io.StringIO()
        write_price_sheet(report.rows, buffer)
        if out:
            write_text(out, buffer.getvalue())
        else:
            typer.echo(buffer.getvalue(), nl=False)
        skipped = ", ".join(f"{n} {reason}" for reason, n in report.skipped.most_common())
        err.print(
            f"{report.meters} per-token meters -> {len(report.rows)} sheet rows; skipped: {skipped or 'none'}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        for name, reason in report.skipped_meters:
            err.print(f"skipped {name!r}: {reason}", markup=False, highlight=False, soft_wrap=True)

    app.add_typer(prices, name="prices")

    export = typer.Typer(help="Exports for finance tools.", no_args_is_help=True)

    @export.command("focus")
    def export_focus(
        month: str = typer.Option(..., "--month", help="YYYY-MM"),
        out: Path | None = typer.Option(None, "--out", help="CSV, or Parquet if it ends in .parquet."),
        billing_account_id: str = typer.Option("apim-chargeback", "--billing-account-id"),
        billing_account_name: str = typer.Option("Azure OpenAI chargeback", "--billing-account-name"),
        lake: str | None = LAKE_OPTION,
    ) -> None:
        """Write the month's chargeback as FOCUS 1.2 rows."""
        from aggregator.config_files import load_fx
        from aggregator.coverage import require_rollup
        from aggregator.dates import parse_month
        from aggregator.focus import focus_rows, write_focus

        first = parse_month(month)
        settings = _settings()
        location = _lake(settings, lake)
        fx = load_fx(settings)  # configuration first: a broken file is exit 3 whatever the lake holds
        require_rollup(location, first)
        table = focus_rows(
            location,
            first,
            billing_account_id=billing_account_id,
            billing_account_name=billing_account_name,
            fx=fx,
        )
        target = out or Path(f"focus-{first:%Y-%m}.csv")
        with writing(target):
            write_focus(table, target)
        typer.echo(f"{table.num_rows} FOCUS rows -> {target}")

    app.add_typer(export, name="export")

    @app.command("sql")
    def sql(
        query: str = typer.Argument(
            ...,
            help="One SELECT over: usage (deduplicated), usage_raw, payloads, "
            "dead_letters, chargeback_daily, chargeback_monthly, unpriced, ptu_allocation, prices, aggregation_runs, "
            "budget_status, alerts, budget_actions, notifications.",
        ),
        fmt: str = typer.Option("table", "--format", help="table, csv, json or parquet."),
        out: Path | None = typer.Option(None, "--out", help="Write to this file instead of standard output."),
        lake: str | None = LAKE_OPTION,
    ) -> None:
        """Ad-hoc, read-only SQL over the lake (local or Blob)."""
        from aggregator.sql import OutputFormat, render, run_query
        from aggregator.views import lake_connection

        try:
            output = OutputFormat(fmt)
        except ValueError:
            raise errors.QueryError(f"--format {fmt!r}: choose table, csv, json or parquet") from None
        settings = _settings()
        con = lake_connection(_lake(settings, lake), settings)
        try:
            rows = run_query(con, query)
        finally:
            con.close()
        with writing(out or "standard output"):
            text = render(rows, output, out)
        if text is not None:
            typer.echo(text, nl=False)

    @app.command("report")
    def report(
        month: str = typer.Option(..., "--month", help="YYYY-MM"),
        out: Path = typer.Option(..., "--out", help="The HTML file to write."),
        lake: str | None = LAKE_OPTION,
    ) -> None:
        """One self-contained HTML report of the month (charts and tables; opens offline)."""
        from aggregator.config_files import load_fx
        from aggregator.coverage import require_rollup
        from aggregator.dates import parse_month
        from aggregator.report import collect, render_html
        from aggregator.views import lake_connection

        first = parse_month(month)
        settings = _settings()
        location = _lake(settings, lake)
        fx = load_fx(settings)  # configuration first: a broken file is exit 3 whatever the lake holds
        con = lake_connection(location, settings)
        try:
            require_rollup(location, first)
            html = render_html(collect(con, first, fx))
            try:  # budgets and alerts (finops/), when that stage is installed
                from finops.report import with_finops_sections
            except ModuleNotFoundError:
                pass
            else:
                html = with_finops_sections(html, con, first)
        finally:
            con.close()
        write_text(out, html)
        typer.echo(f"report -> {out}")

    @app.command("compact")
    def compact(
        day: str | None = typer.Option(
            None, "--date", help="One closed UTC day, YYYY-MM-DD. Default: every closed day of the look-back."
        ),
        lake: str | None = LAKE_OPTION,
    ) -> None:
        """Rewrite closed days' small consumer files into one large file per hour, without changing any result.

        Without --date: every closed day of the last CHARGEBACK_COMPACT_LOOKBACK_DAYS (yesterday back) that has an
        hour with more than one file; a day already compacted and unchanged is skipped.
        """
        from aggregator.jobs import compact_job

        settings = _settings()
        location = _lake(settings, lake)
        with _progress() as progress:
            for line in compact_job(location, settings, day, progress=progress):
                typer.echo(line)

    retention = typer.Typer(help="Retention of bodies and dead letters.", no_args_is_help=True)

    @retention.command("apply")
    def retention_apply(
        dry_run: bool = typer.Option(False, "--dry-run", help="List what would be deleted, delete nothing."),
        lake: str | None = LAKE_OPTION,
    ) -> None:
        """Delete payloads older than CHARGEBACK_PAYLOAD_RETENTION_DAYS and dead letters older than
        CHARGEBACK_DEAD_LETTER_RETENTION_DAYS (whole days, UTC)."""
        from aggregator.jobs import retention_job

        settings = _settings()
        for line in retention_job(_lake(settings, lake), settings, dry_run=dry_run):
            typer.echo(line)

    app.add_typer(retention, name="retention")

    config = typer.Typer(help="Configuration files of the deployed job.", no_args_is_help=True)

    @config.command("push")
    def config_push(
        prices: Path | None = typer.Option(None, "--prices", help="Price sheet (CSV) -> CHARGEBACK_PRICE_SHEET."),
        deployments: Path | None = typer.Option(
            None, "--deployments", help="Deployments map (CSV) -> CHARGEBACK_DEPLOYMENTS_CONFIG."
        ),
        ptu: Path | None = typer.Option(None, "--ptu", help="PTU config (JSON) -> CHARGEBACK_PTU_CONFIG."),
        budgets: Path | None = typer.Option(None, "--budgets", help="Budgets (CSV) -> CHARGEBACK_BUDGETS_CONFIG."),
        config_url: str | None = typer.Option(
            None, "--config-url", help="The config container; default $CHARGEBACK_CONFIG_URL (an azd output)."
        ),
    ) -> None:
        """Check the configuration files and upload them where the nightly job reads them; print the settings.

        Files not given are kept; missing ones get the shipped price sheet and "no PTU"; the deployments map is
        required once. Uses DefaultAzureCredential (az login) on Azure, the connection string on an emulator.
        """
        from aggregator.config_push import push

        settings = _settings()
        given = {
            "CHARGEBACK_PRICE_SHEET": prices,
            "CHARGEBACK_DEPLOYMENTS_CONFIG": deployments,
            "CHARGEBACK_PTU_CONFIG": ptu,
            "CHARGEBACK_BUDGETS_CONFIG": budgets,
        }
        for item in push(config_url or settings.config_url, given, connection_string=settings.storage_connection):
            note = {"uploaded": "uploaded", "kept": "already there, kept", "default": "none given: shipped default"}
            digest = f", sha256 {item.sha256[:16]}" if item.sha256 else ""
            err.print(f"{item.setting.what}: {note[item.action]}{digest}", markup=False, highlight=False)
            typer.echo(f"{item.setting.variable}={item.url}")

    app.add_typer(config, name="config")

    @app.command("nightly")
    def nightly(
        skip: list[str] = typer.Option([], "--skip", metavar="STEP", help="Leave out this step (repeatable)."),
        lake: str | None = LAKE_OPTION,
    ) -> None:
        """The scheduled job: aggregate, compact, retention (and the steps added after them), in order.

        A failed step fails the job with its exit code (the first failure's) and one line; the steps after it still
        run unless they need the failed one (README, "The nightly job").
        """
        from aggregator.nightly import STEPS, NightlyContext, raise_for, run_steps, select

        steps = select(STEPS, skip)
        settings = _settings()
        context = NightlyContext(settings, _lake(settings, lake))
        outcomes = run_steps(context, steps)
        for outcome in outcomes:
            for line in outcome.lines:
                typer.echo(f"[{outcome.name}] {line}")
        typer.echo("nightly: " + ", ".join(f"{o.name} {o.status}" for o in outcomes))
        raise_for(outcomes)
