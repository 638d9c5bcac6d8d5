"""`chargeback serve` as deployed: a real uvicorn process, real HTTP (httpx), a local Entra key set, headless Chromium.

The dashboard test reads the numbers the page shows and compares them with the API's own answer, as a person would
check them, and checks that a team-scoped token sees only its team.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from finops.cli import run_budgets
from tests.support import handcomputed as hc
from tests.support.entra import LocalEntra, local_entra
from tests.support.handcomputed import aggregated_lake
from tests.support.ports import free_port, wait_for_port
from tests.support.pricing import env_for

pytestmark = pytest.mark.integration

CHARGEBACK = str(Path(sys.executable).with_name("chargeback"))
CHROMIUM = "/usr/bin/chromium"


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def entra() -> Iterator[LocalEntra]:
    with local_entra() as server:
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, entra: LocalEntra) -> Iterator[str]:
    base = tmp_path_factory.mktemp("serve")
    lake = aggregated_lake(base)
    root, settings = lake.root, lake.settings
    budgets = base / "budgets.csv"
    budgets.write_text("budget_id,scope,period,amount,unit\nteam-a,team=a,month,300,USD\n")
    with _environment(env_for(settings) | {"CHARGEBACK_BUDGETS_CONFIG": str(budgets)}):
        run_budgets(hc.DAY_B, str(root))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEBACK_")}
    env |= env_for(settings) | entra.env()
    env |= {"CHARGEBACK_API_PORT": str(port), "CHARGEBACK_API_GROUP_TEAMS": '{"group-a": ["a"]}'}
    process = subprocess.Popen(
        [CHARGEBACK, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_real_server_answers_with_scope(served: str, entra: LocalEntra) -> None:
    all_token = entra.token(roles=["Chargeback.Read.All"])
    team_token = entra.token(roles=["Chargeback.Read.Team"], groups=["group-a"])
    with httpx.Client(base_url=served, timeout=30) as client:
        assert client.get("/api/v1/health").json()["lake"] == "ok"
        full = client.get("/api/v1/chargeback/report?month=2026-11", headers={"Authorization": f"Bearer {all_token}"})
        assert full.status_code == 200 and full.json()["totals"][0]["total_cost"] == "975.53"
        scoped = client.get(
            "/api/v1/chargeback/report?month=2026-11", headers={"Authorization": f"Bearer {team_token}"}
        ).json()
        assert {row["team"] for row in scoped["teams"]} == {"a"}
        wrong = client.get(
            "/api/v1/chargeback/report?month=2026-11",
            headers={"Authorization": f"Bearer {entra.token(roles=['Chargeback.Read.All'], audience='api://x')}"},
        )
        assert wrong.status_code == 401


def test_dashboard_shows_the_apis_numbers(served: str, entra: LocalEntra) -> None:
    from playwright.sync_api import sync_playwright

    all_token = entra.token(roles=["Chargeback.Read.All"])
    team_token = entra.token(roles=["Chargeback.Read.Team"], groups=["group-a"])
    api = httpx.get(
        f"{served}/api/v1/chargeback/report?month=2026-11", headers={"Authorization": f"Bearer {all_token}"}
    ).json()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            page = browser.new_page()
            foreign: list[str] = []
            page.on("request", lambda r: None if r.url.startswith(served) else foreign.append(r.url))
            page.goto(served + "/")
            page.fill("#secret", all_token)
            page.click("#credentials button")
            page.wait_for_selector("body[data-loaded-month='2026-11']")
            shown = {
                (row.get_attribute("data-team"), row.get_attribute("data-currency")): row.get_attribute("data-total")
                for row in page.query_selector_all("#teams tbody tr")
            }
            expected = {(row["team"] or "", row["currency"] or ""): row["total_cost"] or "" for row in api["teams"]}
            assert shown == expected and len(shown) == len(api["teams"]) >= 4
            total = page.get_attribute(".kpi[data-currency='USD']", "data-total")
            assert Decimal(total or "0") == Decimal("975.53")
            page.wait_for_selector("body[data-budgets-loaded='1']")
            budget = httpx.get(
                f"{served}/api/v1/budgets/status", headers={"Authorization": f"Bearer {all_token}"}
            ).json()["rows"][0]
            assert page.get_attribute("#budgets tr[data-budget='team-a']", "data-spend") == budget["spend"]
            assert Decimal(budget["spend"]) == Decimal("396.46")
            page.click("#teams tbody tr[data-team='a']")
            page.wait_for_selector("body[data-drilled-team='a']")
            assert page.query_selector_all("#drill-days tbody tr")

            scoped = browser.new_page()
            scoped.goto(served + "/")
            scoped.fill("#secret", team_token)
            scoped.click("#credentials button")
            scoped.wait_for_selector("body[data-loaded-month='2026-11']")
            teams = {row.get_attribute("data-team") for row in scoped.query_selector_all("#teams tbody tr")}
            assert teams == {"a"}
            assert foreign == []
        finally:
            browser.close()
