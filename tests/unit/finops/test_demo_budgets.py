"""The demo's budgets: valid for the strict parser, the top team's below what it spent, the others far above."""

from __future__ import annotations

from decimal import Decimal

from chargeback.demo.finops_step import budgets_csv
from finops.budgets_file import parse_budgets


def test_only_the_biggest_team_is_over_its_demo_budget():
    costs = [
        ("support", Decimal("10659.70"), "USD"),
        ("search", Decimal("10809.52"), "USD"),
        ("fin", Decimal("3.2"), "USD"),
    ]
    budgets = {b.scope.value: b for b in parse_budgets(budgets_csv(costs), "demo")}
    assert budgets["search"].amount == Decimal("9728") < Decimal("10809.52")
    assert budgets["search"].action == "suspend" and budgets["search"].thresholds == (50, 80, 100)
    assert budgets["support"].amount == Decimal("21319") and budgets["support"].thresholds == (80, 100)
    assert budgets["fin"].amount == Decimal("6")
