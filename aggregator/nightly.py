"""`chargeback nightly`: the scheduled job's one entry point, an ordered list of steps.

Each step runs in turn against the same settings and lake. A failing step is logged (one JSON line with its exit
code) and reported, and the job ends with the exit code of the FIRST step that failed; the steps after it still run
unless they need a step that failed (`needs`), in which case they are reported as skipped. So compaction and
retention still happen on a night the roll-up fails, but nothing that reads fresh roll-ups (budgets, alerts) runs
on stale ones.

Adding a step (budgets, alerts...): append a `Step` to `STEPS` with a function `(NightlyContext) -> list[str]`
(its report lines) that raises a `common.errors` category on an expected failure, and `needs=("aggregate",)` if it
reads the roll-ups. Import the step's own package inside the function so a missing optional part fails only it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from aggregator.settings import AggregatorSettings
from common.errors import (
    ChargebackError,
    ConfigurationError,
    DataCheckError,
    NotFoundError,
    UnavailableError,
    UsageError,
)
from common.exitcodes import ExitCode
from common.logs import get_logger
from common.redact import describe
from schemas.lake import LakeLocation

log = get_logger("aggregator.nightly")


@dataclass(frozen=True)
class NightlyContext:
    settings: AggregatorSettings
    location: LakeLocation


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[NightlyContext], list[str]]
    summary: str
    needs: tuple[str, ...] = ()
    """Steps that must have succeeded for this one to run (otherwise it is skipped, not failed)."""


@dataclass
class StepOutcome:
    name: str
    status: str  # "ok", "failed" or "skipped"
    exit_code: int = 0
    lines: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0


def _aggregate(ctx: NightlyContext) -> list[str]:
    from aggregator.dates import default_days
    from aggregator.jobs import aggregate_job

    return aggregate_job(ctx.location, ctx.settings, default_days(ctx.settings.late_data_days))


def _compact(ctx: NightlyContext) -> list[str]:
    from aggregator.jobs import compact_job

    return compact_job(ctx.location, ctx.settings)


def _retention(ctx: NightlyContext) -> list[str]:
    from aggregator.jobs import retention_job

    return retention_job(ctx.location, ctx.settings)


def _budgets(ctx: NightlyContext) -> list[str]:
    from finops.nightly import budgets_step

    return budgets_step(ctx)


def _alerts(ctx: NightlyContext) -> list[str]:
    from finops.nightly import alerts_step

    return alerts_step(ctx)


def _enforce(ctx: NightlyContext) -> list[str]:
    from finops.nightly import enforce_step

    return enforce_step(ctx)


def _notify(ctx: NightlyContext) -> list[str]:
    from finops.nightly import notify_step

    return notify_step(ctx)


STEPS: list[Step] = [
    Step(
        "aggregate",
        _aggregate,
        "roll up yesterday and the CHARGEBACK_LATE_DATA_DAYS before it (what `chargeback aggregate` does)",
    ),
    Step(
        "compact",
        _compact,
        "merge small files of the closed days in CHARGEBACK_COMPACT_LOOKBACK_DAYS (`chargeback compact`)",
    ),
    Step(
        "retention",
        _retention,
        "delete bodies and dead letters past their retention (`chargeback retention apply`)",
    ),
    Step(
        "budgets",
        _budgets,
        "budget_status as of yesterday from the fresh roll-ups (`chargeback budgets evaluate`)",
        needs=("aggregate",),
    ),
    Step(
        "alerts",
        _alerts,
        "alert rules on yesterday and the late-data days (`chargeback alerts evaluate`)",
        needs=("aggregate",),
    ),
    Step(
        "enforce",
        _enforce,
        "throttle/suspend over-budget scopes, undo what is no longer over (`chargeback budgets enforce`; dry-run "
        "unless CHARGEBACK_ENFORCEMENT=enforce)",
        needs=("budgets",),
    ),
    Step(
        "notify",
        _notify,
        "budget crossings and alerts to CHARGEBACK_WEBHOOKS, once each (`chargeback notify`)",
    ),
]

_CATEGORY: dict[int, type[ChargebackError]] = {
    ExitCode.USAGE: UsageError,
    ExitCode.CONFIG: ConfigurationError,
    ExitCode.NOT_FOUND: NotFoundError,
    ExitCode.UNAVAILABLE: UnavailableError,
    ExitCode.DATA: DataCheckError,
}


class NightlyFailed(ChargebackError):
    """At least one step failed; `exit_code` is the first failed step's (set per instance)."""


def failure(code: int, message: str) -> ChargebackError:
    """The error the job ends with: the category of the first failed step's exit code."""
    return _CATEGORY.get(code, NightlyFailed)(message)


def _exit_code(exc: Exception) -> int | None:
    """The documented exit code of an expected failure; None for a bug."""
    if isinstance(exc, ChargebackError):  # every stage's errors (common.errors categories)
        return int(exc.exit_code)
    if isinstance(exc, ValidationError):
        return ExitCode.CONFIG
    if isinstance(exc, OSError):
        return ExitCode.UNAVAILABLE
    return None


def select(steps: Sequence[Step], skip: Sequence[str]) -> list[Step]:
    names = [s.name for s in steps]
    unknown = [name for name in skip if name not in names]
    if unknown:
        raise UsageError(f"--skip {', '.join(unknown)}: no such nightly step (steps: {', '.join(names)})")
    return [s for s in steps if s.name not in skip]


def run_steps(ctx: NightlyContext, steps: Sequence[Step]) -> list[StepOutcome]:
    outcomes: list[StepOutcome] = []
    failed: set[str] = set()
    for step in steps:
        blocked = [name for name in step.needs if name in failed]
        if blocked:
            outcome = StepOutcome(step.name, "skipped", error=f"needs {', '.join(blocked)}, which failed")
            failed.add(step.name)
            log.warning("nightly_step", step=step.name, status="skipped", reason=outcome.error)
            outcomes.append(outcome)
            continue
        log.info("nightly_step", step=step.name, status="started")
        started = time.monotonic()
        try:
            lines = step.run(ctx)
        except Exception as exc:
            code = _exit_code(exc)
            if code is None:  # a bug: keep the traceback in the log, still run the independent steps
                log.exception("nightly_step", step=step.name, status="failed", exit_code=int(ExitCode.FAILURE))
                code = ExitCode.FAILURE
            text = (str(exc) if code != ExitCode.FAILURE else "") or describe(exc)
            outcome = StepOutcome(step.name, "failed", exit_code=int(code), error=text.strip().splitlines()[0])
            outcome.seconds = time.monotonic() - started
            failed.add(step.name)
            log.error(
                "nightly_step",
                step=step.name,
                status="failed",
                exit_code=outcome.exit_code,
                error=outcome.error,
                seconds=round(outcome.seconds, 3),
            )
        else:
            outcome = StepOutcome(step.name, "ok", lines=lines, seconds=time.monotonic() - started)
            log.info("nightly_step", step=step.name, status="ok", seconds=round(outcome.seconds, 3))
        outcomes.append(outcome)
    return outcomes


def raise_for(outcomes: Sequence[StepOutcome]) -> None:
    """End the job with the first failed step's exit code and one line naming every failed or skipped step."""
    failed = [o for o in outcomes if o.status == "failed"]
    if not failed:
        return
    parts = [f"{o.name} failed (exit {o.exit_code}: {o.error})" for o in failed]
    parts += [f"{o.name} skipped ({o.error})" for o in outcomes if o.status == "skipped"]
    ok = [o.name for o in outcomes if o.status == "ok"]
    message = f"nightly: {'; '.join(parts)}" + (f"; ok: {', '.join(ok)}" if ok else "")
    raise failure(failed[0].exit_code, message)
