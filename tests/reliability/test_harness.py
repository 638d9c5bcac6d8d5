"""The fault suite's own harness: its sizing keeps kills mid-run at any size, and a failed scenario leaves no
consumer behind."""

from __future__ import annotations

import pytest

from tests.reliability import harness, scenarios
from tests.support.localhub import running_localhub


@pytest.mark.parametrize("count", [2_000, 5_000, 10_000, 50_000])
def test_the_flush_size_cuts_every_partition_into_a_dozen_files_at_any_size(count):
    rows = harness.flush_rows_for(count)
    per_partition = harness.records_per_partition(count)
    assert 10 <= per_partition / rows <= 13
    assert sum(len(r.envelopes) > 0 for r in harness.make_records(20, seed=1)) == 22  # 20 calls + 2 bodies


def test_a_failed_kill_scenario_leaves_no_consumer_running(tmp_path):
    """Nothing is sent, so the first run can never write the files the scenario waits for: it fails, and the
    consumer it started must be dead when the failure reaches the test (it used to spin on, orphaned)."""
    started_before = len(harness.STARTED)
    with running_localhub(hubs={"usage": 4}) as hub, pytest.raises(AssertionError, match="no progress"):
        scenarios.sigkill_ten_times(hub, tmp_path, 0, progress_timeout=3)
    started = harness.STARTED[started_before:]
    assert len(started) == 1
    assert started[0].poll() is not None, "the consumer outlived the failed scenario"
