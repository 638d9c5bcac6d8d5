"""`chargeback nightly`: the ordered steps, each failure in the exit status and the logs, later steps still run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from aggregator import nightly
from aggregator.nightly import STEPS, NightlyContext, Step, raise_for, run_steps, select
from aggregator.settings import AggregatorSettings
from chargeback.cli import app
from common.errors import ChargebackError, NotFoundError, UnavailableError
from schemas.lake import open_location
from tests.unit.aggregator.lake_builder import LakeBuilder, usage_row
from tests.unit.aggregator.pricing_fixture import env_for, write_config

TODAY = datetime.now(UTC).date()


def _run(args: list[str], env: dict[str, str]):
    clean = {k: "" for k in ("CHARGEBACK_LAKE_URL", "CHARGEBACK_PTU_CONFIG", "CHARGEBACK_STORAGE_CONNECTION_STRING")}
    return CliRunner().invoke(app, args, env=clean | env)


@pytest.fixture
def lake(tmp_path):
    location = open_location(str(tmp_path / "lake"))
    location.ensure_root()
    builder = LakeBuilder(location)
    yesterday = datetime.combine(TODAY - timedelta(days=1), datetime.min.time(), UTC).replace(hour=9)
    for i in range(3):
        builder.usage([usage_row(when=yesterday + timedelta(minutes=i), prompt=1000, completion=100)])
    settings = write_config(tmp_path / "config", str(tmp_path / "lake"))
    return tmp_path, env_for(settings)


def test_the_default_steps_are_aggregate_compact_retention_in_that_order():
    assert [s.name for s in STEPS][:3] == ["aggregate", "compact", "retention"]


def test_nightly_aggregates_compacts_and_applies_retention(lake):
    root, env = lake
    result = _run(["nightly"], env)
    assert result.exit_code == 0, result.output
    yesterday = TODAY - timedelta(days=1)
    assert f"[aggregate] {yesterday}: " in result.output
    assert f"[compact] {yesterday}: 1 hour partitions, 3 files -> 1" in result.output
    assert "[retention] 0 partitions deleted" in result.output
    assert "nightly: aggregate ok, compact ok, retention ok" in result.output
    hour = root / "lake" / "usage" / f"event_date={yesterday}" / "event_hour=09"
    assert [p.name[:10] for p in hour.glob("*.parquet")] == ["compacted-"]
    assert (root / "lake" / "chargeback_daily").is_dir()
    again = _run(["nightly"], env)  # idempotent: nothing left to compact
    assert again.exit_code == 0 and "compacted 0 of" in again.output


def test_a_failed_step_fails_the_job_with_its_code_and_independent_steps_still_run(lake):
    root, env = lake
    env = env | {"CHARGEBACK_PRICE_SHEET": str(root / "missing.csv")}  # aggregate cannot price
    result = _run(["nightly"], env)
    assert result.exit_code == 3, result.output  # a configuration file that cannot be used
    assert "nightly: aggregate failed, compact ok, retention ok" in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "aggregate failed (exit" in error_lines[0]
    yesterday = TODAY - timedelta(days=1)
    hour = root / "lake" / "usage" / f"event_date={yesterday}" / "event_hour=09"
    assert len(list(hour.glob("*.parquet"))) == 1, "compaction ran although aggregation failed"


def _step(name: str, exc: BaseException | None = None, needs: tuple[str, ...] = ()) -> Step:
    def run(_ctx: NightlyContext) -> list[str]:
        if exc is not None:
            raise exc
        return [f"{name} done"]

    return Step(name, run, name, needs=needs)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_first_failure_decides_the_exit_code_and_dependants_are_skipped(tmp_path):
    # The job's own logger, not caplog's root handler: another test's configure_logging may have replaced that.
    seen = _Records()
    logging.getLogger("aggregator.nightly").addHandler(seen)
    ctx = NightlyContext(AggregatorSettings(), open_location(str(tmp_path)))
    steps = [
        _step("a", UnavailableError("storage went away")),
        _step("b", NotFoundError("no such thing")),
        _step("c", needs=("a",)),
        _step("d", RuntimeError("a bug")),
        _step("e"),
    ]
    try:
        outcomes = run_steps(ctx, steps)
    finally:
        logging.getLogger("aggregator.nightly").removeHandler(seen)
    assert [(o.name, o.status, o.exit_code) for o in outcomes] == [
        ("a", "failed", 5),
        ("b", "failed", 4),
        ("c", "skipped", 0),
        ("d", "failed", 1),
        ("e", "ok", 0),
    ]
    with pytest.raises(ChargebackError) as info:
        raise_for(outcomes)
    assert info.value.exit_code == 5
    message = str(info.value)
    assert "\n" not in message
    assert "a failed (exit 5: storage went away)" in message and "c skipped (needs a, which failed)" in message
    assert "ok: e" in message
    (bug,) = [r for r in seen.records if r.exc_info and "'step': 'd'" in str(r.msg)]
    assert bug.exc_info[0] is RuntimeError, "a bug keeps its traceback in the log"
    assert "d failed (exit 1: RuntimeError: a bug)" in message


def test_all_ok_raises_nothing_and_skip_validates_names(tmp_path):
    ctx = NightlyContext(AggregatorSettings(), open_location(str(tmp_path)))
    raise_for(run_steps(ctx, [_step("a"), _step("b", needs=("a",))]))
    assert [s.name for s in select(STEPS, ["retention"])] == [
        "aggregate",
        "compact",
        "reconcile",
        "budgets",
        "alerts",
        "enforce",
        "notify",
    ]
    with pytest.raises(ChargebackError) as info:
        select(STEPS, ["budget"])
    assert info.value.exit_code == 2


def test_the_exit_code_of_each_category_survives(monkeypatch):
    for code in (1, 2, 3, 4, 5, 6):
        assert nightly.failure(code, "x").exit_code == code
