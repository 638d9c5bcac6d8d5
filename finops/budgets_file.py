"""The budgets file (`CHARGEBACK_BUDGETS_CONFIG`): a time-versioned CSV, validated strictly.

Columns (header required, `#` comment lines allowed):

| column | required | meaning |
|---|---|---|
| `budget_id` | yes | `[A-Za-z0-9._-]{1,64}`; several rows with one id are versions of that budget |
| `scope` | yes | `all`, `team=V`, `subscription=V`, `product=V`, `deployment=V` or `tag:KEY=V` |
| `period` | yes | `month`, `quarter` or an inclusive range `YYYY-MM-DD..YYYY-MM-DD` |
| `amount` | yes | > 0; a whole number for `tokens` |
| `unit` | yes | an ISO currency code (`USD`, must match the ledger's) or `tokens` |
| `thresholds` | no | percentages of `amount`, `50/80/100` (default), 1..1000 |
| `action` | no | `notify` (default), `throttle` or `suspend` once spend reaches 100% |
| `effective_from` / `effective_to` | no | UTC days, inclusive / exclusive, empty = open; versions must not overlap |
| `protected` | no | `true`: enforcement never touches this scope (default `false`) |

Every bad cell is reported, one line each, naming the row (file line) and the column.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from finops.errors import BudgetsConfigError
from finops.periods import Period, parse_period

COLUMNS = (
    "budget_id",
    "scope",
    "period",
    "amount",
    "unit",
    "thresholds",
    "action",
    "effective_from",
    "effective_to",
    "protected",
)
REQUIRED = COLUMNS[:5]
SCOPE_TYPES = ("team", "subscription", "product", "deployment", "tag")
ACTIONS = ("notify", "throttle", "suspend")
DEFAULT_THRESHOLDS = (50, 80, 100)
MAX_ERRORS = 50
_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SCOPE_VALUE = re.compile(r"^[A-Za-z0-9 ._:@/+-]{1,256}$")
"""Scope values end up in a named value read by the policy fragment: no quotes, semicolons, braces or `=`."""
_TAG_KEY = re.compile(r"^[a-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Scope:
    kind: str
    """`all`, `team`, `subscription`, `product`, `deployment` or `tag`."""
    value: str = ""
    tag_key: str = ""

    def __str__(self) -> str:
        if self.kind == "all":
            return "all"
        if self.kind == "tag":
            return f"tag:{self.tag_key}={self.value}"
        return f"{self.kind}={self.value}"


@dataclass(frozen=True)
class Budget:
    line: int
    budget_id: str
    scope: Scope
    period: Period
    amount: Decimal
    unit: str
    thresholds: tuple[int, ...]
    action: str
    effective_from: date | None
    effective_to: date | None
    protected: bool

    @property
    def is_tokens(self) -> bool:
        return self.unit == "tokens"

    def in_force(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day < self.effective_to
        )


def parse_scope(text: str) -> Scope:
    value = text.strip()
    if value == "all":
        return Scope("all")
    kind, sep, rest = value.partition("=")
    if not sep:
        raise ValueError(f"{text!r}: expected all, team=V, subscription=V, product=V, deployment=V or tag:KEY=V")
    key = ""
    if kind.startswith("tag:"):
        kind, key = "tag", kind[4:].strip()
        if not _TAG_KEY.match(key):
            raise ValueError(f"tag key {key!r}: lower-case letters, digits, '_' or '-' (as the policy stores them)")
    if kind not in SCOPE_TYPES:
        raise ValueError(f"scope type {kind!r}: expected one of all, {', '.join(SCOPE_TYPES)}")
    if not _SCOPE_VALUE.match(rest):
        raise ValueError(f"scope value {rest!r}: 1-256 of letters, digits, space and . _ : @ / + -")
    return Scope(kind, rest, key)


def parse_budgets(text: str, source: str) -> list[Budget]:
    """Every row of the file, or BudgetsConfigError listing every bad cell (one line each)."""
    lines = [line if not line.lstrip().startswith("#") else "" for line in text.splitlines()]
    reader = csv.reader(io.StringIO("\n".join(lines)), strict=True)
    errors: list[str] = []
    budgets: list[Budget] = []
    header: list[str] | None = None
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                unknown = [c for c in header if c not in COLUMNS]
                missing = [c for c in REQUIRED if c not in header]
                dupes = sorted({c for c in header if header.count(c) > 1})
                for column in unknown:
                    errors.append(f"row {line}, column {column!r}: unknown column (expected {', '.join(COLUMNS)})")
                for column in missing:
                    errors.append(f"row {line}: missing required column {column!r}")
                for column in dupes:
                    errors.append(f"row {line}, column {column!r}: given twice")
                if errors:
                    break
                continue
            if len(row) != len(header):
                errors.append(f"row {line}: {len(row)} cells, the header has {len(header)}")
                continue
            cells = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
            budget = _parse_row(line, cells, errors)
            if budget is not None:
                budgets.append(budget)
    except csv.Error as exc:
        errors.append(f"row {reader.line_num}: not valid CSV ({exc})")
    if header is None and not errors:
        errors.append("the file is empty: expected a header row")
    errors.extend(_overlaps(budgets))
    if errors:
        shown = errors[:MAX_ERRORS]
        more = f"\n... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        head = f"{source}: {errors[0]}" if len(errors) == 1 else f"{source}: {len(errors)} problems, first {errors[0]}"
        rest = "" if len(errors) == 1 else "\n" + "\n".join(shown) + more
        raise BudgetsConfigError(head + rest)
    return budgets


def _parse_row(line: int, cells: dict[str, str], errors: list[str]) -> Budget | None:
    before = len(errors)

    def bad(column: str, message: str) -> None:
        errors.append(f"row {line}, column {column}: {message}")

    budget_id = cells["budget_id"]
    if not _ID.match(budget_id):
        bad("budget_id", f"{budget_id!r} must be 1-64 of letters, digits, '.', '_' or '-'")
    scope = period = None
    try:
        scope = parse_scope(cells["scope"])
    except ValueError as exc:
        bad("scope", str(exc))
    try:
        period = parse_period(cells["period"])
    except ValueError as exc:
        bad("period", str(exc))
    unit = cells["unit"]
    if unit != "tokens" and not _CURRENCY.match(unit):
        bad("unit", f"{unit!r}: an ISO currency code (USD) or 'tokens'")
    amount = None
    try:
        amount = Decimal(cells["amount"])
        if not amount.is_finite() or amount <= 0:
            bad("amount", f"{cells['amount']!r} must be a number > 0")
            amount = None
        elif amount.adjusted() >= 24 or amount.as_tuple().exponent < -14:  # type: ignore[operator]
            bad("amount", f"{cells['amount']!r}: at most 24 digits before the point and 14 after")
            amount = None
        elif unit == "tokens" and amount != amount.to_integral_value():
            bad("amount", f"{cells['amount']!r}: a token budget is a whole number")
    except InvalidOperation:
        bad("amount", f"{cells['amount']!r} is not a number")
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    if cells.get("thresholds"):
        parts = [p for p in re.split(r"[/;\s]+", cells["thresholds"]) if p]
        try:
            values = tuple(int(p.rstrip("%")) for p in parts)
        except ValueError:
            bad("thresholds", f"{cells['thresholds']!r}: whole percentages separated by '/', e.g. 50/80/100")
        else:
            if not values or any(not 1 <= v <= 1000 for v in values) or len(set(values)) != len(values):
                bad("thresholds", f"{cells['thresholds']!r}: distinct percentages between 1 and 1000")
            else:
                thresholds = tuple(sorted(values))
    action = cells.get("action") or "notify"
    if action not in ACTIONS:
        bad("action", f"{action!r}: expected notify, throttle or suspend")
    dates: dict[str, date | None] = {}
    for column in ("effective_from", "effective_to"):
        text = cells.get(column, "")
        dates[column] = None
        if text:
            try:
                dates[column] = date.fromisoformat(text)
            except ValueError:
                bad(column, f"{text!r} is not a date (YYYY-MM-DD)")
    start, end = dates["effective_from"], dates["effective_to"]
    if start and end and end <= start:
        bad("effective_to", f"{end} is not after effective_from {start}")
    protected_text = cells.get("protected", "").lower()
    if protected_text not in ("", "true", "false"):
        bad("protected", f"{cells['protected']!r}: true or false")
    if scope is not None and scope.kind == "deployment" and action == "suspend":
        bad("action", "suspend works on APIM subscriptions; a deployment scope can be throttled, not suspended")
    if len(errors) > before or scope is None or period is None or amount is None:
        return None
    return Budget(
        line,
        budget_id,
        scope,
        period,
        amount,
        unit,
        thresholds,
        action,
        start,
        end,
        protected_text == "true",
    )


def _overlaps(budgets: list[Budget]) -> list[str]:
    errors = []
    by_id: dict[str, list[Budget]] = {}
    for budget in budgets:
        by_id.setdefault(budget.budget_id, []).append(budget)
    for versions in by_id.values():
        ordered = sorted(versions, key=lambda b: b.effective_from or date.min)
        for previous, current in pairwise(ordered):
            if previous.effective_to is None or (current.effective_from or date.min) < previous.effective_to:
                errors.append(
                    f"row {current.line}, column effective_from: budget {current.budget_id!r} overlaps the version "
                    f"on row {previous.line}"
                )
    return errors


def in_force(budgets: list[Budget], day: date) -> list[Budget]:
    """The version of each budget in force on `day`, in file order."""
    return [b for b in budgets if b.in_force(day)]
