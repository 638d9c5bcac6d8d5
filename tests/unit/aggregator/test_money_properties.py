"""Money properties over random usage, prices and PTU configs (issue 14, deliverable 3):

- the FOCUS export's BilledCost adds up to the tables' total_cost exactly (hence to the cent), in total and per team;
- each provisioned deployment's shares add up exactly to that day's cost, whatever the rate's precision;
- every token is either in a priced / PTU row or listed in `unpriced` (none vanishes, none counts twice), and the
  tokens that can have no price (unknown deployment, PTU without config, no token split off PTU) are all listed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.deployment_types import DeploymentType
from aggregator.deployments import DeploymentInfo, deployments_table
from aggregator.focus import focus_table
from aggregator.prices import parse_price_rows, prices_table
from aggregator.ptu import ProvisionedDeployment, PtuConfig
from aggregator.rollup import roll_up_day
from aggregator.teams import parse_teams
from schemas.arrow import USAGE_SCHEMA
from schemas.tags import canonical_tags_json
from tests.unit.aggregator.lake_builder import usage_row

DAY = date(2026, 11, 10)
T = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
TEAMS = parse_teams("subscription_id,team,shared_teams\nsub-1,platform,a;b\nsub-2,search,\n", "test")
DEPLOYMENTS = deployments_table(
    [
        DeploymentInfo("gpt-4.1", DeploymentType.GLOBAL, None),
        DeploymentInfo("o4-mini", DeploymentType.GLOBAL, None),
        DeploymentInfo("ptu-a", DeploymentType.PROVISIONED, None),
        DeploymentInfo("ptu-b", DeploymentType.PROVISIONED, None),
        DeploymentInfo("ptu-unconfigured", DeploymentType.PROVISIONED, None),
    ]
)
ALWAYS_UNPRICED = {"rogue", "ptu-unconfigured"}
PTU_DEPLOYMENTS = ("ptu-a", "ptu-b")

price = st.decimals(min_value=0, max_value=200, places=8, allow_nan=False, allow_infinity=False)
# Rates with every decimal used (a reservation's effective hourly rate), and simple ones.
rate = st.integers(1, 500 * 10**14).map(lambda n: Decimal(n).scaleb(-14)) | st.sampled_from(
    [Decimal("1"), Decimal("0.3"), Decimal("2.12345")]
)


@st.composite
def records(draw: st.DrawFn) -> dict:
    deployment = draw(st.sampled_from(["gpt-4.1", "o4-mini", *PTU_DEPLOYMENTS, *ALWAYS_UNPRICED]))
    kind = draw(st.sampled_from(["split", "split", "split", "unsplit", "none"]))
    row = usage_row(
        when=T,
        record_id=str(uuid.uuid4()),
        subscription=draw(st.sampled_from(["sub-1", "sub-2", "sub-unknown"])),
        team=draw(st.sampled_from([None, "a", "b", "intruder"])),
        deployment=deployment,
        model="gpt-4.1-2025-04-14" if deployment != "o4-mini" else "o4-mini",
    )
    if kind == "split":
        prompt = draw(st.integers(0, 3_000_000))
        completion = draw(st.integers(0, 500_000))
        row.update(
            prompt_tokens=prompt,
            cached_tokens=draw(st.integers(0, prompt)),
            completion_tokens=completion,
            reasoning_tokens=draw(st.integers(0, completion)),
            total_tokens=prompt + completion,
            usage_source="reported",
        )
    elif kind == "unsplit":
        row.update(
            prompt_tokens=None,
            cached_tokens=None,
            completion_tokens=None,
            reasoning_tokens=None,
            total_tokens=draw(st.integers(1, 100_000)),
            usage_source="reported",
        )
    return row


@st.composite
def price_sheets(draw: st.DrawFn) -> list[dict[str, str]]:
    def text(value: Decimal | None) -> str:
        return "" if value is None else format(value, "f")

    rows = []
    for model in ("gpt-4.1", "o4-mini"):
        rows.append(
            {
                "model": model,
                "deployment_type": "global",
                "region": "*",
                "currency": "USD",
                "unit": "1M tokens",
                "input": text(draw(price)),
                "cached_input": text(draw(st.none() | price)),
                "output": text(draw(st.none() | price)),
                "effective_from": "",
                "effective_to": "",
            }
        )
    return rows


@st.composite
def ptu_configs(draw: st.DrawFn) -> PtuConfig:
    return PtuConfig(
        provisioned=[
            ProvisionedDeployment(
                deployment=name,
                ptu_count=draw(st.integers(1, 1000)),
                hourly_rate=draw(rate),
                currency="USD",
                effective_from=date(2026, 11, 1),
            )
            for name in PTU_DEPLOYMENTS
            if draw(st.booleans()) or name == "ptu-a"
        ]
    )


def write_day(directory: Path, rows: list[dict]) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}.parquet"
    full = [{"tags_json": canonical_tags_json(r["tags"])} | r for r in rows]
    pq.write_table(pa.Table.from_pylist(full, schema=USAGE_SCHEMA), path)
    return [str(path)]


def tokens_of(row: dict) -> int:
    return row["total_tokens"] or 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(usage=st.lists(records(), min_size=1, max_size=40), sheet=price_sheets(), ptu=ptu_configs())
def test_exports_equal_tables_shares_are_exact_and_every_token_is_accounted_for(tmp_path_factory, usage, sheet, ptu):
    files = write_day(tmp_path_factory.mktemp("day"), usage)
    tables = roll_up_day(
        files,
        DAY,
        prices=prices_table(parse_price_rows(sheet, "generated")),
        deployments=DEPLOYMENTS,
        ptu=ptu,
        team_tag="team",
        teams=TEAMS,
    )
    daily = tables["chargeback_daily"].to_pylist()
    allocation = tables["ptu_allocation"].to_pylist()
    unpriced = tables["unpriced"].to_pylist()

    # PTU: each configured deployment's shares add up exactly to its day's cost.
    in_force = ptu.in_force(DAY)
    for name, deployment in in_force.items():
        shares = [a["allocated_cost"] for a in allocation if a["deployment"] == name]
        assert sum(shares, Decimal(0)) == deployment.day_cost(), name

    # FOCUS BilledCost = the tables' total_cost, exactly, in total and per team.
    rates = {a["deployment"]: (a["ptu_count"], a["hourly_rate"]) for a in allocation}
    for row in daily:
        row["ptu_count"], row["hourly_rate"] = (
            rates.get(row["deployment"], (None, None)) if row["ptu_cost"] else (None, None)
        )
    focus = focus_table(daily, DAY.replace(day=1), billing_account_id="x", billing_account_name="x").to_pylist()
    table_total = sum((r["total_cost"] for r in daily if r["total_cost"] is not None), Decimal(0))
    assert sum((f["BilledCost"] for f in focus), Decimal(0)) == table_total
    by_team_tables: dict = defaultdict(Decimal)
    by_team_focus: dict = defaultdict(Decimal)
    for r in daily:
        if r["total_cost"] is not None:
            by_team_tables[r["team"]] += r["total_cost"]
    for f in focus:
        by_team_focus[f["x_Team"]] += f["BilledCost"]
    assert {k: v for k, v in by_team_focus.items() if v} == {k: v for k, v in by_team_tables.items() if v}
    assert all(f["ListCost"] == f["ListUnitPrice"] * f["PricingQuantity"] for f in focus)

    # Unpriced: NULL costs, and every token accounted for exactly once.
    for row in daily:
        if row["pricing_status"] == "unpriced":
            assert row["total_cost"] is None and row["ptu_cost"] is None and row["token_cost"] is None
    listed = sum(u["unpriced_tokens"] for u in unpriced)
    counted = sum(r["total_tokens"] for r in daily if r["pricing_status"] in ("priced", "ptu", "no_tokens"))
    assert listed + counted == sum(tokens_of(r) for r in usage)
    certainly_unpriced = sum(
        tokens_of(r)
        for r in usage
        if r["deployment"] in ALWAYS_UNPRICED
        or (r["deployment"] in PTU_DEPLOYMENTS and r["deployment"] not in in_force)
        or (r["prompt_tokens"] is None and r["deployment"] not in in_force)
    )
    assert listed >= certainly_unpriced
    # ... and nothing else but split usage of a model the sheet gives no output price (its group is `no_output_price`).
    no_output = {row["model"] for row in sheet if row["output"] == ""}
    possibly_unpriced = sum(
        tokens_of(r)
        for r in usage
        if r["prompt_tokens"] is not None
        and r["deployment"] in ("gpt-4.1", "o4-mini")
        and r["model"].removesuffix("-2025-04-14") in no_output
    )
    assert listed <= certainly_unpriced + possibly_unpriced, "a record without a split must not poison its row"
    assert sum(u["requests"] for u in unpriced) <= len(usage)
