"""`chargeback budgets enforce`: over-budget scopes throttled or suspended through API Management, opt-in, audited.

Dry-run by default (`CHARGEBACK_ENFORCEMENT=dry-run`): every decision is recorded in `budget_actions` as `planned`
and nothing is called. With `CHARGEBACK_ENFORCEMENT=enforce`:

- `suspend` budgets: every APIM subscription that made the scope's calls this period (from `chargeback_daily`; a
  `subscription=` scope is that one) is suspended through the ARM API (`PATCH .../service/{apim}/subscriptions/{sid}`
  `{"properties": {"state": "suspended"}}`, azure-mgmt-apimanagement), and reactivated once the scope is no longer
  over budget (a new period, a raised amount, the budget removed, or the budgets file unset). Only subscriptions
  this product suspended are ever reactivated (the audit trail says which); one already suspended by someone else
  is recorded as `already` and left alone.
- `throttle` budgets: the scope's key is written into the named value `CHARGEBACK_ENFORCEMENT_NAMED_VALUE`
  (`;subscription=S;deployment=D;tag:project=P;`), which the policy fragment `finops/policy/chargeback-enforcement.xml`
  reads to answer 429 with a clear message. A team is throttled through its subscriptions (the ledger says which).
  The named value holds exactly the scopes over budget now, so the next period empties it.

Every action is idempotent (the current state is read first; nothing is written if it already holds), recorded
with its reason, and never applied to a target that belongs to a budget marked `protected`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import duckdb

from common.logs import get_logger
from common.redact import redact
from finops.budgets import over_budget
from finops.budgets_file import parse_scope
from finops.errors import FinopsSettingsError
from finops.ledger import scope_filter
from finops.settings import FinopsSettings

log = get_logger(__name__)
NAMED_VALUE_MAX = 4096
"""API Management caps a named value at 4,096 characters."""
EMPTY_NAMED_VALUE = "none"
APIM_SUBSCRIPTION = "apim_subscription"
NAMED_VALUE = "named_value"


@dataclass(frozen=True)
class Decision:
    budget_id: str
    scope: str
    period_start: date
    action: str
    lever: str
    target: str
    reason: str
    protected: bool = False


def scope_subscriptions(con: duckdb.DuckDBPyConnection, scope: str, start: date, as_of: date) -> list[str]:
    """The APIM subscriptions whose calls the ledger charged to `scope` in `[start, as_of]`."""
    parsed = parse_scope(scope)
    if parsed.kind == "subscription":
        return [parsed.value]
    condition, params = scope_filter(parsed)
    rows = con.execute(
        f"SELECT DISTINCT subscription_id FROM chargeback_daily WHERE date >= $start AND date <= $as_of AND "
        f"subscription_id IS NOT NULL AND {condition} ORDER BY 1",
        {"start": start, "as_of": as_of, **params},
    ).fetchall()
    return [sid for (sid,) in rows]


def suspended_by_us(history: list[dict]) -> dict[str, dict]:
    """Subscription -> the `suspend` record that is still in effect (applied and not reactivated since)."""
    state: dict[str, dict] = {}
    for row in sorted(history, key=lambda r: r["recorded_at"]):
        if row["lever"] != APIM_SUBSCRIPTION or row["outcome"] != "applied":
            continue
        if row["action"] == "suspend":
            state[row["target"]] = row
        elif row["action"] == "reactivate":
            state.pop(row["target"], None)
    return state


def _targets(row: dict, subscriptions: Callable[[dict], list[str]]) -> list[str]:
    """What enforcing `row` touches, as scope keys: `subscription=S` (suspend, or throttling a team or `all`) or the
    row's own scope (throttling a subscription, product, deployment or tag)."""
    if row["action"] == "throttle" and row["scope_type"] in ("subscription", "product", "deployment", "tag"):
        return [row["scope"]]
    return [f"subscription={sid}" for sid in subscriptions(row)]


def plan(
    status: list[dict], subscriptions: Callable[[dict], list[str]], history: list[dict]
) -> tuple[list[Decision], list[str]]:
    """The decisions for this evaluation, and the named-value entries wanted now (sorted).

    `status` is the `budget_status` of one day; `subscriptions(row)` the APIM subscriptions of a row's scope;
    `history` every earlier `budget_actions` row (which subscriptions this product suspended)."""
    protected_keys: set[str] = set()
    for row in status:
        if row["protected"]:
            protected_keys.add(row["scope"])
            protected_keys.update(f"subscription={sid}" for sid in subscriptions(row))
    decisions: list[Decision] = []
    suspend: dict[str, Decision] = {}
    entries: set[str] = set()
    for row in status:
        if row["action"] not in ("suspend", "throttle") or not over_budget(row):
            continue
        reason = (
            f"{row['spend']:.2f} of {row['amount']:.2f} {row['unit']} spent in the period from {row['period_start']}"
        )
        lever = APIM_SUBSCRIPTION if row["action"] == "suspend" else NAMED_VALUE
        for key in _targets(row, subscriptions):
            protected = row["protected"] or key in protected_keys
            target = key.removeprefix("subscription=") if lever == APIM_SUBSCRIPTION else key
            decision = Decision(
                row["budget_id"], row["scope"], row["period_start"], row["action"], lever, target, reason, protected
            )
            if protected:
                decisions.append(decision)
            elif lever == APIM_SUBSCRIPTION:
                suspend.setdefault(target, decision)
            elif key not in entries:
                entries.add(key)
                decisions.append(decision)
    decisions.extend(suspend.values())
    for target, record in sorted(suspended_by_us(history).items()):
        if target not in suspend:
            decisions.append(
                Decision(
                    record["budget_id"],
                    record["scope"],
                    record["period_start"],
                    "reactivate",
                    APIM_SUBSCRIPTION,
                    target,
                    "no longer over budget (a new period, a raised amount or a removed budget)",
                )
            )
    return decisions, sorted(entries)


def named_value_text(entries: list[str]) -> str:
    return ";" + ";".join(entries) + ";" if entries else EMPTY_NAMED_VALUE


def parse_named_value(text: str | None) -> list[str]:
    if not text or text == EMPTY_NAMED_VALUE:
        return []
    return sorted(e for e in text.split(";") if e)


def default_credential() -> Any:
    """The managed identity on Azure (`AZURE_CLIENT_ID` picks a user-assigned one), a developer login elsewhere."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class Apim:
    """The two levers, through the real management SDK (azure-mgmt-apimanagement)."""

    def __init__(self, settings: FinopsSettings, credential: Any) -> None:
        from azure.mgmt.apimanagement import ApiManagementClient

        missing = [
            f"CHARGEBACK_{name.upper()}"
            for name in ("apim_subscription_id", "apim_resource_group", "apim_service_name")
            if not getattr(settings, name)
        ]
        if missing:
            raise FinopsSettingsError(f"CHARGEBACK_ENFORCEMENT=enforce needs {', '.join(missing)}")
        endpoint = urlsplit(settings.apim_arm_endpoint)
        loopback = endpoint.hostname in ("127.0.0.1", "localhost", "::1")
        if endpoint.scheme != "https" and not (endpoint.scheme == "http" and loopback):
            raise FinopsSettingsError("CHARGEBACK_APIM_ARM_ENDPOINT: https (plain http only for a loopback emulator)")
        self._options: dict[str, Any] = {"enforce_https": False} if endpoint.scheme == "http" else {}
        assert settings.apim_subscription_id and settings.apim_resource_group and settings.apim_service_name
        self._group: str = settings.apim_resource_group
        self._service: str = settings.apim_service_name
        self._named_value = settings.enforcement_named_value
        self._client = ApiManagementClient(
            credential,
            settings.apim_subscription_id,
            base_url=settings.apim_arm_endpoint.rstrip("/"),
            retry_total=3,
        )

    def subscription_state(self, sid: str) -> str:
        state = self._client.subscription.get(self._group, self._service, sid, **self._options).state
        return str(getattr(state, "value", state))  # the SDK gives the text, or its enum when it knows it

    def set_subscription_state(self, sid: str, state: str) -> None:
        from azure.mgmt.apimanagement.models import SubscriptionUpdateParameters

        self._client.subscription.update(
            self._group,
            self._service,
            sid,
            if_match="*",
            parameters=SubscriptionUpdateParameters(state=state),
            notify=False,
            **self._options,
        )

    def named_value(self) -> tuple[str | None, str]:
        """The named value's text and its ETag (the write is conditional on it)."""
        found: dict[str, Any] = {}

        def keep(_response: Any, deserialized: Any, headers: dict[str, str]) -> Any:
            found["etag"] = headers.get("ETag")
            return deserialized

        contract = self._client.named_value.get(
            self._group, self._service, self._named_value, cls=keep, **self._options
        )
        return contract.value, found.get("etag") or "*"

    def set_named_value(self, value: str, etag: str) -> None:
        from azure.mgmt.apimanagement.models import NamedValueUpdateParameters

        poller = self._client.named_value.begin_update(
            self._group,
            self._service,
            self._named_value,
            if_match=etag,
            parameters=NamedValueUpdateParameters(value=value),
            polling_interval=0,
            **self._options,
        )
        poller.result()

    def close(self) -> None:
        self._client.close()


def _failure(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    text = str(getattr(exc, "message", "") or exc).splitlines()[0] if str(exc) else ""
    return redact(f"{type(exc).__name__}" + (f" HTTP {status}" if status else "") + (f": {text}" if text else ""))[:300]


def apply(
    decisions: list[Decision],
    entries: list[str],
    *,
    as_of: date,
    apim: Apim | None,
    history: list[dict],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[dict]:
    """Carry out (or, without `apim`, only plan) the decisions; one `budget_actions` row each."""
    mode = "enforce" if apim else "dry_run"
    rows: list[dict] = []

    def record(decision: Decision, outcome: str, reason: str | None = None) -> None:
        rows.append(
            {
                "as_of": as_of,
                "recorded_at": now(),
                "budget_id": decision.budget_id,
                "scope": decision.scope,
                "period_start": decision.period_start,
                "action": decision.action,
                "lever": decision.lever,
                "target": decision.target,
                "mode": mode,
                "outcome": outcome,
                "reason": reason or decision.reason,
            }
        )
        log.info(
            "budget_action",
            budget_id=decision.budget_id,
            action=decision.action,
            target=decision.target,
            mode=mode,
            outcome=outcome,
        )

    for decision in decisions:
        if decision.protected:
            record(decision, "skipped_protected", f"{decision.reason}; the budget or target is marked protected")
            continue
        if decision.lever != APIM_SUBSCRIPTION:
            continue
        if apim is None:
            record(decision, "planned")
            continue
        wanted = "suspended" if decision.action == "suspend" else "active"
        try:
            current = apim.subscription_state(decision.target)
            if current == wanted:
                record(decision, "already", f"{decision.reason}; the subscription is already {wanted}")
                continue
            if decision.action == "reactivate" and current != "suspended":
                record(decision, "already", f"{decision.reason}; the subscription is {current}, left as it is")
                continue
            apim.set_subscription_state(decision.target, wanted)
            record(decision, "applied")
        except Exception as exc:  # an SDK or transport error: recorded, the others still run
            record(decision, "failed", f"{decision.reason}; {_failure(exc)}")

    throttles = [d for d in decisions if d.lever == NAMED_VALUE and not d.protected]
    by_target = {d.target: d for d in throttles}
    text = named_value_text(entries)
    if len(text) > NAMED_VALUE_MAX:
        for decision in throttles:
            record(decision, "failed", f"{decision.reason}; the named value would exceed {NAMED_VALUE_MAX} characters")
        return rows
    if apim is None:
        for decision in throttles:
            record(decision, "planned")
        return rows
    try:
        current_text, etag = apim.named_value()
        listed = parse_named_value(current_text)
        if listed != entries:
            apim.set_named_value(text, etag)
        outcome_new = "applied"
    except Exception as exc:
        failure = _failure(exc)
        for decision in throttles:
            record(decision, "failed", f"{decision.reason}; {failure}")
        return rows
    for entry in entries:
        decision = by_target[entry]
        record(decision, "already" if entry in listed else outcome_new)
    throttled_before = {
        r["target"]: r for r in sorted(history, key=lambda r: r["recorded_at"]) if r["lever"] == NAMED_VALUE
    }
    for entry in sorted(set(listed) - set(entries)):
        before = throttled_before.get(entry, {})
        decision = Decision(
            before.get("budget_id", "(unknown)"),
            before.get("scope", entry),
            before.get("period_start", as_of),
            "unthrottle",
            NAMED_VALUE,
            entry,
            "no longer over budget (a new period, a raised amount or a removed budget)",
        )
        record(decision, outcome_new)
    return rows
