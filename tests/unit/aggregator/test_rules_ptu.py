"""PTU rules, one per test (issue 20): allocation by largest remainder, the period's days, refused configs."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from aggregator.errors import PtuConfigError
from aggregator.ptu import ALLOCATION_QUANTUM, PtuConfig, Share, allocate, load_ptu_config

Q = ALLOCATION_QUANTUM


def period(**changes: object) -> dict[str, object]:
    return {
        "deployment": "gpt-4.1-ptu",
        "ptu_count": 10,
        "hourly_rate": "2.00",
        "currency": "USD",
        "effective_from": "2026-11-01",
        "effective_to": "2026-12-01",
    } | changes


def config(tmp_path: Path, *periods: dict[str, object]) -> PtuConfig:
    path = tmp_path / "ptu.json"
    path.write_text(json.dumps({"provisioned": list(periods)}))
    return load_ptu_config(path)


def test_leftover_quanta_go_to_the_largest_remainders():
    """Each share is floored to a quantum of 1e-10; the quanta left over go one each to the shares with the largest
    remainders (never to the smallest), so the shares add up to the cost."""
    # 7 quanta over tokens 1, 1, 1: exact 2.333.. each -> floors 2, 2, 2, leftover 1 -> one share gets 3.
    even = allocate(7 * Q, [Share(1, 1), Share(2, 1), Share(3, 1)])
    assert sorted(even.values()) == [2 * Q, 2 * Q, 3 * Q]
    # 10 quanta over tokens 6, 3, 2 (total 11): exact 5.4545, 2.7272, 1.8181 -> floors 5, 2, 1 (8), leftover 2.
    # Remainders .4545, .7272, .8181: the two largest are keys 3 and 2, never key 1.
    split = allocate(10 * Q, [Share(1, 6), Share(2, 3), Share(3, 2)])
    assert split == {1: 5 * Q, 2: 3 * Q, 3: 2 * Q}
    assert sum(split.values()) == 10 * Q


def test_allocation_adds_up_to_the_day_cost_exactly_and_ties_break_the_same_way_every_run():
    """Shares are quanta of 1e-10 that add up to the cost exactly; equal remainders break by the larger share, then
    by the lower key, so reruns allocate identically."""
    cost = Decimal("480")
    shares = [Share(k, t) for k, t in ((4, 7), (2, 7), (9, 3), (1, 1))]
    result = allocate(cost, shares)
    assert sum(result.values()) == cost
    assert all(v == v.quantize(Q) for v in result.values())
    assert allocate(cost, list(reversed(shares))) == result
    tie = allocate(Q, [Share(5, 1), Share(3, 1)])
    assert tie == {5: 0 * Q, 3: Q}


def test_allocate_refuses_shares_without_tokens():
    """A day cost cannot be shared among no tokens (the idle day is handled apart)."""
    with pytest.raises(ValueError):
        allocate(Decimal(1), [Share(1, 0)])


def test_a_ptu_period_is_in_force_from_its_first_day_until_the_day_before_effective_to(tmp_path: Path):
    """[effective_from, effective_to): in force on effective_from, not on effective_to; open-ended without it."""
    cfg = config(tmp_path, period())
    assert list(cfg.in_force(date(2026, 11, 1))) == ["gpt-4.1-ptu"]
    assert list(cfg.in_force(date(2026, 11, 30))) == ["gpt-4.1-ptu"]
    assert cfg.in_force(date(2026, 12, 1)) == {}
    assert cfg.in_force(date(2026, 10, 31)) == {}
    open_ended = config(tmp_path, period(effective_to=None))
    assert list(open_ended.in_force(date(2099, 1, 1))) == ["gpt-4.1-ptu"]


def test_back_to_back_ptu_periods_hand_over_on_the_change_day(tmp_path: Path):
    """Two periods of one deployment may meet: on the change day only the new one is in force."""
    cfg = config(tmp_path, period(ptu_count=10), period(ptu_count=20, effective_from="2026-12-01", effective_to=None))
    assert cfg.in_force(date(2026, 12, 1))["gpt-4.1-ptu"].ptu_count == 20
    assert cfg.in_force(date(2026, 11, 30))["gpt-4.1-ptu"].ptu_count == 10


def test_overlapping_ptu_periods_of_one_deployment_are_refused(tmp_path: Path):
    """Two periods of one deployment in force on the same day would bill the day twice: refused."""
    cfg = config(tmp_path, period(), period(effective_from="2026-11-30", effective_to=None))
    with pytest.raises(PtuConfigError, match="overlap"):
        cfg.in_force(date(2026, 11, 30))


@pytest.mark.parametrize("end", ["2026-11-01", "2026-10-31"])
def test_an_empty_or_reversed_ptu_period_is_refused(tmp_path: Path, end: str):
    """effective_to must be after effective_from: a period of no days (or fewer) is a configuration error."""
    with pytest.raises(PtuConfigError, match="effective_to must be after effective_from"):
        config(tmp_path, period(effective_to=end))


def test_a_day_costs_ptu_count_times_hourly_rate_times_24(tmp_path: Path):
    """The day cost: ptu_count x hourly_rate x 24 hours."""
    cfg = config(tmp_path, period(ptu_count=3, hourly_rate="1.25"))
    assert cfg.in_force(date(2026, 11, 2))["gpt-4.1-ptu"].day_cost() == Decimal("90.00")


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("ptu_count", 0),
        ("hourly_rate", "-1"),
        ("hourly_rate", "0.000000000000001"),  # 15 decimals: a rate keeps at most 14 (aggregator/money.py)
        ("currency", "usd"),
        ("deployment", ""),
    ],
)
def test_a_ptu_period_with_a_bad_field_is_refused(tmp_path: Path, change: str, value: object):
    """At least one PTU, a non-negative rate of at most 8 decimals, an ISO currency code and a deployment name."""
    with pytest.raises(PtuConfigError):
        config(tmp_path, period(**{change: value}))


def test_no_ptu_config_means_no_provisioned_deployments(tmp_path: Path):
    """Without a PTU config nothing is provisioned; a configured path that does not exist is an error."""
    assert load_ptu_config(None).in_force(date(2026, 11, 1)) == {}
    with pytest.raises(PtuConfigError, match="does not exist"):
        load_ptu_config(tmp_path / "missing.json")
