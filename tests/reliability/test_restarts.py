"""Restarts and takeovers (issue 13): besides lost = 0 and doubled = 0, no spurious dead letter (a dead letter for
a record that is in the lake) and no checkpoint left behind after the last run, on a local lake and on Blob
(Azurite); three consumers with takeovers; and the window between two owners, forced deliberately.

Sizes follow the fault suite's (`RELIABILITY_RECORDS`); each scenario's figures are printed with the suite's and
recorded in bench/README.md."""

from __future__ import annotations

import pytest

from tests.reliability import scenarios
from tests.reliability.test_faults import REPORTS, SMALL, assert_exact
from tests.support.localhub import running_localhub

pytestmark = pytest.mark.reliability


@pytest.fixture
def hub():
    with running_localhub(hubs={"usage": scenarios.PARTITIONS_IN_HUB}) as server:
        yield server


def assert_clean_restart(outcome: scenarios.Outcome) -> None:
    assert_exact(outcome)
    report, sets = outcome
    assert not sets["dead_and_written"], sorted(sets["dead_and_written"])[:10]
    assert not sets["lag"], report.notes


RESTART_RECORDS = max(600, SMALL // 4)


def test_restarts_with_records_straddling_the_checkpoint(hub, tmp_path):
    assert_clean_restart(scenarios.restarts_with_straddling_records(hub, tmp_path, RESTART_RECORDS))


def test_restarts_with_records_straddling_the_checkpoint_on_blob(hub, azurite, tmp_path):
    assert_clean_restart(scenarios.restarts_with_straddling_records(hub, tmp_path, RESTART_RECORDS, azurite=azurite))


def test_three_consumers_with_takeovers(hub, tmp_path):
    assert_clean_restart(scenarios.three_consumers_with_takeovers(hub, tmp_path, RESTART_RECORDS))


@pytest.mark.parametrize("forced", [False, True], ids=["overlap", "window-forced"])
def test_the_window_between_two_owners(tmp_path, forced):
    report, sets = scenarios.two_owners_window(tmp_path, 700, forced=forced)
    REPORTS.append(report)
    print("\n" + report.line())
    assert report.lost == 0
    copies = int(next(iter(sets["copies"]))[1])
    if forced:
        assert copies > 0, "the window was not hit: nothing to measure"  # usage_raw holds copies, usage does not
    else:
        assert copies == 0
