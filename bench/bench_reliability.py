"""Reliability beside performance: each fault scenario's throughput against a fault-free run of the same size,
in the same process, with its lost / doubled counts (both must be 0)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.figures import Figure
from tests.reliability import scenarios
from tests.support.azurite import Azurite
from tests.support.localhub import running_localhub


def run(quick: bool = False) -> list[Figure]:
    count = 5_000 if quick else 50_000
    figures = []
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as tmp:
        work = Path(tmp)

        def fresh(name: str, fn, *args) -> scenarios.Outcome:
            with running_localhub(hubs={"usage": 4}) as hub:
                return fn(hub, work / name, *args)

        baseline, _ = fresh("clean", scenarios.clean_run, count)
        outcomes.append(fresh("kill", scenarios.sigkill_ten_times, count))
        outcomes.append(fresh("dup", scenarios.duplicated_and_reordered, count))
        outcomes.append(fresh("loss", scenarios.one_percent_chunks_lost, count)[0])
        outcomes.append(fresh("links", scenarios.connections_dropped_links_detached, count))
        outcomes.append(fresh("two", scenarios.two_consumers_one_killed, count))
        restarts = max(600, count // 20)
        restart_outcomes = [
            fresh("restarts", scenarios.restarts_with_straddling_records, restarts),
            fresh("takeovers", scenarios.three_consumers_with_takeovers, restarts),
        ]
        azurite = Azurite().start()
        try:
            with running_localhub(hubs={"usage": 4}) as hub:
                outcomes.append(scenarios.blob_down_seven_seconds(hub, azurite, work / "blob", count))
            with running_localhub(hubs={"usage": 4}) as hub:
                restart_outcomes.insert(
                    1,
                    scenarios.restarts_with_straddling_records(hub, work / "restarts-blob", restarts, azurite=azurite),
                )
        finally:
            azurite.close()
        windows = [scenarios.two_owners_window(work / f"window-{f}", 700, forced=f) for f in (False, True)]
    base_rate = baseline.records_in / baseline.seconds
    figures.append(
        Figure(
            "no fault: records end to end",
            base_rate,
            "records/s",
            notes=f"{baseline.records_in:,} records; lost {baseline.lost}, doubled {baseline.doubled}",
        )
    )
    for report, _ in outcomes:
        figures.append(
            Figure(
                f"{report.scenario}: records end to end",
                report.records_in / report.seconds,
                "records/s",
                "no fault, same size",
                base_rate,
                target="lost 0, doubled 0",
                notes=f"{report.records_in:,} in, {report.written:,} written, {report.dead_lettered} dead-lettered, "
                f"lost {report.lost}, doubled {report.doubled}",
            )
        )
    for report, sets in restart_outcomes:
        lag = sum(int(n) for _, n in sets["lag"])
        figures.append(
            Figure(
                f"{report.scenario}: checkpoint lag after restart",
                lag,
                "events",
                target="0 (and lost 0, doubled 0, spurious dead letters 0)",
                notes=f"{report.records_in:,} in, {report.written:,} written, {report.dead_lettered} dead-lettered, "
                f"lost {report.lost}, doubled {report.doubled}, "
                f"spurious dead letters {len(sets['dead_and_written'])}",
            )
        )
    for report, sets in windows:
        copies = int(next(iter(sets["copies"]))[1])
        figures.append(
            Figure(
                f"{report.scenario}: copies in usage_raw",
                copies,
                "rows",
                notes=f"{report.records_in} records through two owners of one partition; lost {report.lost}; "
                "the usage view deduplicates by record_id",
            )
        )
    return figures
