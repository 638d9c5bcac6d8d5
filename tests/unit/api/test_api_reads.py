"""The read API answers with the roll-ups' own numbers, limited to what the token may read.

Figures are the hand-computed month's (tests/unit/aggregator/handcomputed.py), worked out on paper: team a 396.46,
team b 99.07, idle PTU 480.00, month 975.53 USD.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from aggregator.aggregate import aggregate_days
from aggregator.lakeio import open_lake
from tests.unit.aggregator import handcomputed as hc
from tests.unit.aggregator.lake_builder import usage_row

ALL = ["Chargeback.Read.All"]
TEAM = ["Chargeback.Read.Team"]


def bearer(entra, **kwargs) -> dict[str, str]:
    return {"Authorization": f"Bearer {entra.token(**kwargs)}"}


def test_month_report_matches_the_hand_computed_month(client, entra):
    response = client.get("/api/v1/chargeback/report?month=2026-11", headers=bearer(entra, roles=ALL))
    assert response.status_code == 200
    body = response.json()
    by_team = {(row["team"], row["currency"]): row for row in body["teams"]}
    assert Decimal(by_team["a", "USD"]["total_cost"]) == Decimal("396.46")
    assert Decimal(by_team["b", "USD"]["total_cost"]) == Decimal("99.07")
    assert Decimal(by_team[None, "USD"]["ptu_cost"]) == Decimal("480.00")
    assert body["totals"] == [{"currency": "USD", "total_cost": "975.53"}]
    # Team c's usage has no price: it is unpriced, listed with its tokens, never a zero cost.
    assert by_team["c", None]["total_cost"] is None and by_team["c", None]["unpriced_tokens"] == 1_000 + 10 + 500 + 50
    assert body["completeness"] == {
        "last_day_rolled_up": "2026-11-20",
        "provisional_from": "2026-11-18",
        "late_data_days": 2,
    }


def test_money_is_a_decimal_string(client, entra):
    body = client.get("/api/v1/chargeback/report?month=2026-11", headers=bearer(entra, roles=ALL)).json()
    for row in body["teams"]:
        for column in ("token_cost", "ptu_cost", "total_cost"):
            assert row[column] is None or isinstance(row[column], str)


def test_summary_groups_and_filters(client, entra):
    headers = bearer(entra, roles=ALL)
    response = client.get(
        "/api/v1/usage/summary?from=2026-11-01&to=2026-11-30&group_by=date,team&deployment=gpt-4.1-ptu", headers=headers
    )
    assert response.status_code == 200
    rows = {(r["date"], r["team"]): Decimal(r["ptu_cost"]) for r in response.json()["rows"]}
    assert rows == {
        ("2026-11-10", "a"): Decimal("384.00"),
        ("2026-11-10", "b"): Decimal("96.00"),
        ("2026-11-20", None): Decimal("480.00"),
    }


def test_summary_refuses_unknown_columns_and_binds_values(client, entra):
    headers = bearer(entra, roles=ALL)
    bad = client.get("/api/v1/usage/summary?from=2026-11-01&to=2026-11-30&group_by=team;drop", headers=headers)
    assert bad.status_code == 422
    injected = client.get(
        "/api/v1/usage/summary",
        params={"from": "2026-11-01", "to": "2026-11-30", "team": "a' OR '1'='1"},
        headers=headers,
    )
    assert injected.status_code == 200 and injected.json()["rows"] == []
    reversed_range = client.get("/api/v1/usage/summary?from=2026-11-30&to=2026-11-01", headers=headers)
    assert reversed_range.status_code == 422


def test_team_token_sees_only_its_team(client, entra):
    headers = bearer(entra, roles=TEAM, groups=["group-a", "unknown-group"])
    body = client.get("/api/v1/chargeback/report?month=2026-11", headers=headers).json()
    assert {row["team"] for row in body["teams"]} == {"a"}
    assert body["totals"] == [{"currency": "USD", "total_cost": "396.46"}]
    summary = client.get("/api/v1/usage/summary?from=2026-11-01&to=2026-11-30&group_by=team", headers=headers)
    assert {row["team"] for row in summary.json()["rows"]} == {"a"}
    other = client.get("/api/v1/usage/summary?from=2026-11-01&to=2026-11-30&team=b", headers=headers)
    assert other.status_code == 403 and "rows" not in other.json()


def test_team_token_cannot_read_another_teams_record(client, entra, api_lake):
    b_record = next(
        r
        for r in client.get(
            "/api/v1/usage/records?from=2026-11-10&to=2026-11-10&limit=100", headers=bearer(entra, roles=ALL)
        ).json()["records"]
        if r["tags"].get("team") == "b"
    )
    headers = bearer(entra, roles=TEAM, groups=["group-a"])
    response = client.get(f"/api/v1/usage/records/{b_record['record_id']}", headers=headers)
    assert response.status_code == 404
    listed = client.get("/api/v1/usage/records?from=2026-11-01&to=2026-11-30&limit=100", headers=headers).json()
    assert listed["records"] and {r["tags"]["team"] for r in listed["records"]} == {"a"}


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"roles": ALL, "audience": "api://someone-else"}, 401),
        ({"roles": ALL, "expires_in": -3600}, 401),
        ({"roles": ALL, "issuer": "https://login.microsoftonline.com/another-tenant/v2.0"}, 401),
        ({"roles": ["Something.Else"]}, 403),
        ({"roles": TEAM, "groups": ["group-nobody"]}, 403),
    ],
    ids=["wrong-audience", "expired", "wrong-issuer", "no-role", "no-team"],
)
def test_bad_tokens_get_no_data(client, entra, kwargs, status):
    response = client.get("/api/v1/chargeback/report?month=2026-11", headers=bearer(entra, **kwargs))
    assert response.status_code == status
    assert "teams" not in response.json()


def test_token_signed_by_another_key_and_missing_token(client, entra):
    from tests.support.entra import other_key

    forged = client.get("/api/v1/chargeback/report?month=2026-11", headers=bearer(entra, roles=ALL, key=other_key()))
    assert forged.status_code == 401
    missing = client.get("/api/v1/chargeback/report?month=2026-11")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")


def test_records_pages_cover_every_record_once(client, entra, api_lake):
    from aggregator.lakeio import open_lake as lake_of
    from aggregator.views import lake_connection

    headers = bearer(entra, roles=ALL)
    # Independently: the deduplicated `usage` view of `chargeback sql`, in the API's order.
    con = lake_connection(lake_of(str(api_lake.root)), api_lake.settings)
    expected = [
        row["record_id"]
        for row in con.sql("SELECT record_id FROM usage ORDER BY event_time, record_id").to_arrow_table().to_pylist()
    ]
    raw_count = con.sql("SELECT count(*) AS n FROM usage_raw").to_arrow_table().to_pylist()[0]["n"]
    assert raw_count > len(expected) >= 10  # the fixture holds a redelivered copy
    everything = client.get("/api/v1/usage/records?from=2026-11-01&to=2026-11-30&limit=1000", headers=headers).json()
    assert everything["next"] is None and [r["record_id"] for r in everything["records"]] == expected
    seen, after = [], None
    while True:
        params = {"from": "2026-11-01", "to": "2026-11-30", "limit": 3} | ({"after": after} if after else {})
        page = client.get("/api/v1/usage/records", params=params, headers=headers).json()
        seen.extend(r["record_id"] for r in page["records"])
        after = page["next"]
        if after is None:
            break
    assert seen == expected
    bad = client.get("/api/v1/usage/records?from=2026-11-01&to=2026-11-30&after=garbage", headers=headers)
    assert bad.status_code == 422


def test_etag_gives_304_until_the_roll_up_changes(client, entra, api_lake, clock):
    headers = bearer(entra, roles=ALL)
    first = client.get("/api/v1/chargeback/report?month=2026-11", headers=headers)
    etag = first.headers["etag"]
    again = client.get("/api/v1/chargeback/report?month=2026-11", headers=headers | {"If-None-Match": etag})
    assert again.status_code == 304
    # A late record for team b, then the nightly re-aggregation of its day.
    api_lake.builder.usage([usage_row(when=hc.B, team="b", deployment="gpt-4.1", prompt=1_000_000, completion=0)])
    aggregate_days(open_lake(str(api_lake.root)), [hc.DAY_B], api_lake.settings)
    clock.now += 3600
    changed = client.get("/api/v1/chargeback/report?month=2026-11", headers=headers | {"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    totals = changed.json()["totals"]
    assert totals == [{"currency": "USD", "total_cost": "977.33"}]  # + 1M input tokens at 1.80


def test_report_as_csv_and_focus_exports(client, entra, tmp_path):
    headers = bearer(entra, roles=TEAM, groups=["group-a"])
    report = client.get("/api/v1/chargeback/report?month=2026-11", headers=headers | {"Accept": "text/csv"})
    assert report.headers["content-type"].startswith("text/csv")
    lines = report.text.strip().splitlines()
    assert lines[0].startswith("team,currency") and len(lines) == 2 and lines[1].startswith("a,USD")
    parquet = client.get(
        "/api/v1/chargeback/focus?month=2026-11", headers=headers | {"Accept": "application/vnd.apache.parquet"}
    )
    assert parquet.status_code == 200
    (tmp_path / "f.parquet").write_bytes(parquet.content)
    table = pq.read_table(tmp_path / "f.parquet")
    assert set(table.column("x_Team").to_pylist()) == {"a"}
    assert sum(table.column("BilledCost").to_pylist()) == Decimal("396.46")


def test_unpriced_ptu_and_prices(client, entra):
    headers = bearer(entra, roles=ALL)
    unpriced = client.get("/api/v1/unpriced?from=2026-11-01&to=2026-11-30", headers=headers).json()["rows"]
    assert {r["reason"] for r in unpriced} == {"no_price", "unknown_deployment"}
    ptu = client.get("/api/v1/ptu-allocation?from=2026-11-01&to=2026-11-30", headers=headers).json()["rows"]
    assert sum(Decimal(r["allocated_cost"]) for r in ptu) == Decimal("960.00")
    before = client.get("/api/v1/prices?at=2026-11-14", headers=headers).json()["rows"]
    after = client.get("/api/v1/prices?at=2026-11-15", headers=headers).json()["rows"]
    price = {r["model"]: r for r in before if r["deployment_type"] == "global"}["gpt-4.1"]
    assert Decimal(price["input_per_1m"]) == Decimal("2.00")
    price = {r["model"]: r for r in after if r["deployment_type"] == "global"}["gpt-4.1"]
    assert Decimal(price["input_per_1m"]) == Decimal("1.80")


def test_health_metrics_and_openapi(client, entra):
    health = client.get("/api/v1/health")
    assert health.status_code == 200 and health.json()["lake"] == "ok"
    client.get("/api/v1/chargeback/report?month=2026-11", headers=bearer(entra, roles=ALL))
    metrics = client.get("/api/v1/metrics").text
    assert 'chargeback_api_requests_total{route="/api/v1/chargeback/report",status="200"} 1.0' in metrics
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/usage/summary" in spec["paths"] and "/api/v1/usage/records/{record_id}" in spec["paths"]


def test_dashboard_page_forbids_foreign_fetches(client):
    page = client.get("/")
    assert page.status_code == 200 and "connect-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http-equiv", "")  # nothing loaded from elsewhere
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/static/../settings.py").status_code == 404


def test_published_openapi_is_what_the_server_serves(client):
    from api.openapi import PUBLISHED, text

    served = client.get("/api/v1/openapi.json").json()
    published = PUBLISHED.read_text(encoding="utf-8")
    assert published == text(), "docs/openapi.json is stale: run `make openapi`"
    import json

    assert json.loads(published) == served


def test_budget_status_is_scoped_to_the_callers_team(client, entra, api_lake, monkeypatch, tmp_path, clock):
    from datetime import date

    from finops.cli import run_budgets
    from tests.unit.aggregator.pricing_fixture import env_for

    budgets = tmp_path / "budgets.csv"
    budgets.write_text(
        "budget_id,scope,period,amount,unit\nteam-a,team=a,month,300,USD\nteam-b,team=b,month,1000,USD\n"
    )
    for name, value in (env_for(api_lake.settings) | {"CHARGEBACK_BUDGETS_CONFIG": str(budgets)}).items():
        monkeypatch.setenv(name, value)
    run_budgets(date(2026, 11, 20), str(api_lake.root))
    clock.now += 3600
    every = client.get("/api/v1/budgets/status", headers=bearer(entra, roles=ALL)).json()["rows"]
    by_id = {row["budget_id"]: row for row in every}
    assert set(by_id) == {"team-a", "team-b"}
    assert Decimal(by_id["team-a"]["spend"]) == Decimal("396.46") and by_id["team-a"]["crossed"] == [50, 80, 100]
    scoped = client.get("/api/v1/budgets/status", headers=bearer(entra, roles=TEAM, groups=["group-a"])).json()
    assert [row["budget_id"] for row in scoped["rows"]] == ["team-a"]
    alerts = client.get("/api/v1/alerts?from=2026-11-01&to=2026-11-30", headers=bearer(entra, roles=ALL))
    assert alerts.status_code == 200 and isinstance(alerts.json()["rows"], list)
