"""Print every fault scenario's figures at the end of the run, also when output is captured."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from tests.reliability.test_faults import REPORTS

    if not REPORTS:
        return
    terminalreporter.section("fault suite: records in / written / dead-lettered / lost / doubled")
    for report in REPORTS:
        terminalreporter.write_line(report.line())
