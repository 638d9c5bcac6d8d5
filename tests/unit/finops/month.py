"""A month of demo-like traffic with known anomalies, aggregated into a local lake, for the FinOps scenario tests.

November 2026, three teams on two deployments. Every team makes 20 calls a day on each deployment (100,000 prompt
and 20,000 completion tokens each). Planted:
- alpha makes 10x its calls on gpt-4.1 on SPIKE_DAY (a cost spike);
- beta spends about $14/day against a $300 monthly budget (crosses 50%, 80%, 100%; action suspend);
- o4-mini answers 5xx to a quarter of its calls on FAILING_DAY (a failing deployment).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from aggregator.aggregate import aggregate_days
from aggregator.lakeio import open_lake
from schemas.lake import open_location
from tests.unit.aggregator.lake_builder import LakeBuilder, usage_row
from tests.unit.aggregator.pricing_fixture import env_for, write_config

FIRST = date(2026, 11, 1)
DAYS = 30
SPIKE_DAY = date(2026, 11, 20)
FAILING_DAY = date(2026, 11, 25)
TEAMS = {"alpha": "sub-alpha", "beta": "sub-beta", "gamma": "sub-gamma"}
DEPLOYMENTS = ("gpt-4.1", "o4-mini")
CALLS = 20

BUDGETS_CSV = """\
# scenario budgets
budget_id,scope,period,amount,unit,thresholds,action,effective_from,effective_to,protected
beta-monthly,team=beta,month,300,USD,50/80/100,suspend,2026-01-01,,false
gamma-monthly,team=gamma,month,100000,USD,50/80/100,suspend,2026-01-01,,false
alpha-protected,team=alpha,month,10,USD,100,suspend,2026-01-01,,true
"""


def day_rows(day: date) -> list[dict]:
    rows = []
    for team, subscription in TEAMS.items():
        for deployment in DEPLOYMENTS:
            calls = CALLS * (10 if (team == "alpha" and deployment == "gpt-4.1" and day == SPIKE_DAY) else 1)
            for i in range(calls):
                when = datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC) + timedelta(minutes=2 * i)
                failing = deployment == "o4-mini" and day == FAILING_DAY and i % 4 == 0
                rows.append(
                    usage_row(
                        when=when,
                        deployment=deployment,
                        model=deployment,
                        team=team,
                        subscription=subscription,
                        product="standard",
                        prompt=None if failing else 100_000,
                        completion=None if failing else 20_000,
                        status=500 if failing else 200,
                    )
                )
    return rows


def build_month(tmp_path: Path) -> dict[str, str]:
    """The aggregated lake; returns the environment the commands need (lake, price sheet, budgets)."""
    root = tmp_path / "lake"
    location = open_location(str(root))
    location.ensure_root()
    builder = LakeBuilder(location)
    days = [FIRST + timedelta(days=n) for n in range(DAYS)]
    for day in days:
        builder.usage(day_rows(day))
    teams_map = "subscription_id,team\n" + "".join(f"{s},{t}\n" for t, s in TEAMS.items())
    settings = write_config(tmp_path / "config", str(root), teams=teams_map)
    aggregate_days(open_lake(str(root)), days, settings)
    budgets = tmp_path / "budgets.csv"
    budgets.write_text(BUDGETS_CSV)
    return env_for(settings) | {"CHARGEBACK_BUDGETS_CONFIG": str(budgets), "CHARGEBACK_ALERT_ERROR_MIN_REQUESTS": "50"}
