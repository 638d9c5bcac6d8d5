"""The fault suite: injected faults, and the chargeback data stays exact (lost = 0, doubled = 0).

Runnable alone: `make reliability` (full size, prints every scenario's figures). Sizes: RELIABILITY_RECORDS calls
per crash scenario (default 5,000, as in `make test`; `make reliability` runs 50,000), a fifth of that (at least
2,000) for the others; every tenth call also carries a multi-chunk response body record, so a scenario of 50,000
calls holds 55,000 records. The flush size scales with the size (harness.flush_rows_for), so kills land mid-run at
any size. Every scenario is `serial`: under xdist they run one after another on one worker, since their faults are
timed against a consumer that must not be starved of CPU by another scenario's.
"""

from __future__ import annotations

import os

import pytest

from tests.reliability import scenarios
from tests.reliability.harness import REPORTS
from tests.support.localhub import running_localhub

pytestmark = [pytest.mark.reliability, pytest.mark.serial]

BIG = int(os.environ.get("RELIABILITY_RECORDS", "5000"))
SMALL = max(2000, BIG // 5)


@pytest.fixture
def hub():
    with running_localhub(hubs={"usage": 4}) as server:
        yield server


def assert_exact(outcome: scenarios.Outcome, *, dead: set | None = None) -> None:
    report, sets = outcome
    REPORTS.append(report)
    print("\n" + report.line())
    assert report.lost == 0, sorted(sets["lost"])[:10]
    assert report.doubled == 0
    assert not sets["unexpected"], sorted(sets["unexpected"])[:10]
    assert sets["dead"] == (dead or set()), sorted(sets["dead"] ^ (dead or set()))[:10]


def test_consumer_killed_at_ten_random_points(hub, tmp_path):
    assert_exact(scenarios.sigkill_ten_times(hub, tmp_path, BIG))


def test_duplicated_and_reordered_deliveries(hub, tmp_path):
    assert_exact(scenarios.duplicated_and_reordered(hub, tmp_path, SMALL))


def test_one_percent_of_chunks_lost(hub, tmp_path):
    outcome, affected = scenarios.one_percent_chunks_lost(hub, tmp_path, SMALL)
    assert affected
    assert_exact(outcome, dead=affected)
    assert all(kind != "usage" for _, kind in outcome[1]["dead"])  # usage survives lost body chunks


def test_blob_storage_unavailable_for_seven_seconds(hub, azurite, tmp_path):
    assert_exact(scenarios.blob_down_seven_seconds(hub, azurite, tmp_path, SMALL))


def test_event_hubs_connections_dropped_and_links_detached(hub, tmp_path):
    assert_exact(scenarios.connections_dropped_links_detached(hub, tmp_path, SMALL))


def test_two_consumers_one_killed_mid_run(hub, tmp_path):
    assert_exact(scenarios.two_consumers_one_killed(hub, tmp_path, BIG))
