"""The fault suite's rules: every scenario's figures printed at the end of the run (also when output is captured,
and from xdist workers), and no consumer outlives its test."""

from __future__ import annotations

import pytest

from tests.reliability.harness import REPORTS, reap_children

CALL_REPORT = pytest.StashKey[pytest.TestReport]()
FIGURES = "fault_report"


@pytest.fixture(autouse=True)
def no_consumer_outlives_its_test(request: pytest.FixtureRequest):
    """Kill whatever consumer a test left running. A passing test must have stopped its own: leaving one is a
    failure of the scenario (it would spin, orphaned, after the run)."""
    yield
    leftover = reap_children()
    report = request.node.stash.get(CALL_REPORT, None)
    if leftover and report is not None and report.passed:
        pytest.fail(f"the test left consumer process(es) {leftover} running (killed now)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
        # The figures travel with the report, so the controller prints them under xdist too.
        report.user_properties.extend((FIGURES, r.line()) for r in REPORTS)
        REPORTS.clear()
    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = [
        value
        for key in ("passed", "failed")
        for report in terminalreporter.stats.get(key, [])
        if getattr(report, "when", None) == "call"
        for name, value in report.user_properties
        if name == FIGURES
    ]
    if lines:
        terminalreporter.section("fault suite: records in / written / dead-lettered / lost / doubled")
        for line in lines:
            terminalreporter.write_line(line)
