"""Who is billed: the APIM subscription/product through the time-versioned teams map, never the caller's header
alone (issue 14, deliverable 1). Each roll-up row says how its team was decided."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from aggregator.errors import ConfigFileError
from aggregator.teams import TeamsConfigError, parse_teams
from tests.unit.aggregator.billing_lake import BillingLake
from tests.unit.aggregator.lake_builder import usage_row

DAY = date(2026, 11, 10)
LATER = date(2026, 11, 20)
T = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
T_LATER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

TEAMS = """\
subscription_id,product_id,team,cost_center,owner,shared_teams,effective_from,effective_to
sub-search,,search,CC-1001,ann@contoso.example,,2026-01-01,
sub-platform,,platform,CC-0001,ops@contoso.example,search;finance,2026-01-01,
sub-finance,,finance,CC-4004,fay@contoso.example,,2026-01-01,2026-11-15
sub-finance,,treasury,CC-4005,tom@contoso.example,,2026-11-15,
sub-finance,premium,finance-premium,CC-4006,,,2026-01-01,
,starter,trial-users,CC-9999,,,,
"""


def row(subscription: str, team: str | None, *, when: datetime = T, product: str = "standard", prompt: int = 1000):
    return usage_row(when=when, subscription=subscription, product=product, team=team, prompt=prompt, completion=100)


@pytest.fixture
def lake(tmp_path):
    return BillingLake(tmp_path / "lake", tmp_path / "config", teams=TEAMS)


def decided(rows: list[dict]) -> set[tuple]:
    return {(r["subscription_id"], r["product_id"], r["team"], r["attribution"], r["cost_center"]) for r in rows}


def test_the_subscription_decides_and_a_header_cannot_move_the_bill(lake):
    lake.usage(
        [
            row("sub-search", "finance"),  # not shared: the header is ignored
            row("sub-search", None),
        ]
    )
    lake.aggregate(DAY)
    rows = lake.table("chargeback_daily", DAY)
    assert {(r["team"], r["attribution"], r["cost_center"], r["owner"]) for r in rows} == {
        ("search", "mapped", "CC-1001", "ann@contoso.example")
    }
    assert sum(r["requests"] for r in rows) == 2


def test_a_shared_subscription_lets_the_header_choose_only_among_its_listed_teams(lake):
    lake.usage(
        [
            row("sub-platform", "search"),
            row("sub-platform", "finance"),
            row("sub-platform", "marketing"),  # not listed: billed to the subscription's team, flagged
            row("sub-platform", '=HYPERLINK("http://x")'),  # hostile: the same
            row("sub-platform", None),  # no header: the subscription's team
        ]
    )
    lake.aggregate(DAY)
    rows = lake.table("chargeback_daily", DAY)
    got = sorted((r["team"], r["attribution"], r["requests"]) for r in rows)
    assert got == [
        ("finance", "header", 1),
        ("platform", "header_rejected", 2),
        ("platform", "mapped", 1),
        ("search", "header", 1),
    ]
    by_team = {(r["team"], r["attribution"]): r for r in rows}
    # A team chosen by the header carries its own cost centre (its map row), not the platform's.
    assert by_team[("search", "header")]["cost_center"] == "CC-1001"
    assert by_team[("platform", "header_rejected")]["cost_center"] == "CC-0001"


def test_unmapped_usage_has_no_team_and_its_own_table(lake):
    lake.usage([row("sub-unknown", "search"), row("sub-unknown", None, prompt=5000)])
    lake.aggregate(DAY)
    rows = lake.table("chargeback_daily", DAY)
    assert {(r["team"], r["attribution"]) for r in rows} == {(None, "unmapped")}
    (unmapped,) = [(r["subscription_id"], r["requests"], r["total_tokens"]) for r in lake.table("unmapped", DAY)]
    assert unmapped == ("sub-unknown", 2, 6200)
    assert all(r["total_cost"] is not None for r in rows), "unmapped usage is still costed"


def test_the_map_is_time_versioned_and_the_most_specific_row_wins(lake):
    lake.usage(
        [
            row("sub-finance", None),
            row("sub-finance", None, when=T_LATER),
            row("sub-finance", None, product="premium"),
            row("sub-other", None, product="starter"),
        ]
    )
    lake.aggregate(DAY, LATER)
    day = decided(lake.table("chargeback_daily", DAY))
    assert ("sub-finance", "standard", "finance", "mapped", "CC-4004") in day
    assert ("sub-finance", "premium", "finance-premium", "mapped", "CC-4006") in day, "subscription+product wins"
    assert ("sub-other", "starter", "trial-users", "mapped", "CC-9999") in day, (
        "a product-only row maps any subscription"
    )
    later = decided(lake.table("chargeback_daily", LATER))
    assert later == {("sub-finance", "standard", "treasury", "mapped", "CC-4005")}, "effective_from moves the bill"


def test_without_a_map_nothing_is_billed_to_a_header(tmp_path):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config")
    lake.usage([row("sub-search", "search")])
    lake.aggregate(DAY)
    assert {(r["team"], r["attribution"]) for r in lake.table("chargeback_daily", DAY)} == {(None, "unmapped")}


def test_the_report_shows_unmapped_usage_and_how_teams_were_decided(lake, tmp_path):
    lake.usage([row("sub-unknown", None), row("sub-platform", "marketing"), row("sub-search", None)])
    lake.aggregate(DAY)
    out = tmp_path / "report.html"
    result = lake.run("report", "--month", "2026-11", "--out", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Unmapped usage" in html and "sub-unknown" in html and "(unmapped)" in html
    assert "header_rejected" in html
    assert "(untagged)" not in html and "(no team tag)" not in html


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("team\nsearch\n", "subscription_id and/or product_id"),
        ("subscription_id,team\n,search\n", "give a subscription_id, a product_id or both"),
        ("subscription_id,team\nsub-1,<img src=x>\n", "must be 1-64 characters"),
        ("subscription_id,team,shared_teams\nsub-1,a,b;=cmd()\n", "must be 1-64 characters"),
        (
            "subscription_id,team,effective_from,effective_to\nsub-1,a,2026-01-01,\nsub-1,b,2026-06-01,\n",
            "both map subscription sub-1",
        ),
        ("subscription_id,team,effective_from\nsub-1,a,yesterday\n", "is not a date"),
    ],
)
def test_a_broken_map_is_refused_naming_the_line(text, message):
    with pytest.raises(TeamsConfigError, match=message) as caught:
        parse_teams(text, "teams.csv")
    assert isinstance(caught.value, ConfigFileError)


def test_a_broken_or_missing_map_stops_aggregate_with_exit_3_before_writing(tmp_path):
    lake = BillingLake(tmp_path / "lake", tmp_path / "config", teams="subscription_id,team\nsub-1,<b>\n")
    lake.usage([row("sub-search", None)])
    result = lake.run("aggregate", "--date", DAY.isoformat())
    assert result.exit_code == 3, result.output
    assert "line 2" in result.output and "Traceback" not in result.output
    assert not (lake.root / "chargeback_daily").exists()
    env = lake.env() | {"CHARGEBACK_TEAMS_CONFIG": str(tmp_path / "nope.csv")}
    from tests.unit.aggregator.cli_app import invoke

    missing = invoke(["aggregate", "--date", DAY.isoformat()], env)
    assert missing.exit_code == 3 and "does not exist" in missing.output
