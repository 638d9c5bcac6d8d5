"""`chargeback notify`: budget crossings and alerts to webhooks (generic JSON, Slack, Teams), once each.

A notice's `dedup_key` names what it is about, never when it was sent: `budget:<id>:<period start>:<threshold>`
(so a crossing is raised once per period) or `alert:<alert_id>` (one rule x scope x day). A key delivered to a
channel is never sent to it again; every attempt that ends (delivered or failed after its retries) is one
`notifications` row. Transient failures (connection errors, timeouts, 408, 429, 5xx) are retried with exponential
back-off (tenacity); other 4xx are not. The webhook URL is a secret: only its host is recorded or logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import duckdb
import requests
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from common.logs import get_logger
from finops.settings import Webhook

log = get_logger(__name__)
SEVERITIES = ("info", "warning", "critical")
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Notice:
    dedup_key: str
    kind: str
    """`budget` or `alert`."""
    severity: str
    title: str
    text: str
    scope: str
    day: date
    provisional: bool
    fields: dict[str, object] = field(default_factory=dict)


def budget_notices(con: duckdb.DuckDBPyConnection, as_of: date) -> list[Notice]:
    rows = con.execute(
        "SELECT budget_id, scope, period_start, amount, unit, spend, forecast, forecast_method, crossed, crossed_on, "
        "action, provisional, unpriced_tokens FROM budget_status WHERE as_of = $d ORDER BY budget_id",
        {"d": as_of},
    ).fetchall()
    notices = []
    for (
        budget_id,
        scope,
        start,
        amount,
        unit,
        spend,
        fcast,
        method,
        crossed,
        crossed_on,
        action,
        prov,
        unpriced,
    ) in rows:
        for threshold, day in zip(crossed, crossed_on, strict=True):
            severity = "critical" if threshold >= 100 else "warning" if threshold >= 80 else "info"
            notices.append(
                Notice(
                    f"budget:{budget_id}:{start}:{threshold}",
                    "budget",
                    severity,
                    f"Budget {budget_id} ({scope}) reached {threshold}%",
                    f"Spend {spend:.2f} of {amount:.2f} {unit} since {start} (crossed on {day}); forecast "
                    f"{fcast:.2f} ({method}); action {action}"
                    + (f"; {unpriced} unpriced tokens not counted" if unpriced else ""),
                    scope,
                    day,
                    prov,
                    {"budget_id": budget_id, "threshold_pct": threshold, "spend": str(spend), "amount": str(amount)},
                )
            )
    return notices


def alert_notices(con: duckdb.DuckDBPyConnection, first: date, last: date) -> list[Notice]:
    rows = con.execute(
        "SELECT alert_id, date, rule, scope, metric, actual, expected, threshold, severity, provisional, detail "
        "FROM alerts WHERE date >= $first AND date <= $last ORDER BY date, rule, scope",
        {"first": first, "last": last},
    ).fetchall()
    return [
        Notice(
            f"alert:{alert_id}",
            "alert",
            severity,
            f"{rule} on {scope} ({day})",
            f"{metric} {actual:.4g} above {threshold:.4g}"
            + (f" (expected {expected:.4g})" if expected else "")
            + f": {detail}",
            scope,
            day,
            provisional,
            {"rule": rule, "metric": metric, "actual": actual, "expected": expected, "threshold": threshold},
        )
        for alert_id, day, rule, scope, metric, actual, expected, threshold, severity, provisional, detail in rows
    ]


def delivered_keys(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return {
        (key, channel)
        for key, channel in con.execute(
            "SELECT DISTINCT dedup_key, channel FROM notifications WHERE status = 'delivered'"
        ).fetchall()
    }


def _slack_text(text: str) -> str:
    """Slack's three control characters escaped: a deployment named `<!channel>` must not page a whole channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def body(notice: Notice, fmt: str) -> dict:
    """The JSON body of `notice` in a webhook format."""
    marker = " (provisional: late data may still change it)" if notice.provisional else ""
    if fmt == "slack":
        title, text = _slack_text(notice.title), _slack_text(notice.text)
        return {
            "text": f"[{notice.severity}] {title}{marker}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": notice.title[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{notice.severity}*{marker}\n{text}"}},
            ],
        }
    if fmt == "teams":
        facts = [{"title": "severity", "value": notice.severity}, {"title": "scope", "value": notice.scope}]
        facts.append({"title": "day", "value": notice.day.isoformat() + marker})
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {
                                "type": "TextBlock",
                                "size": "Medium",
                                "weight": "Bolder",
                                "text": notice.title,
                                "wrap": True,
                            },
                            {"type": "TextBlock", "text": notice.text, "wrap": True},
                            {"type": "FactSet", "facts": facts},
                        ],
                    },
                }
            ],
        }
    return {
        "source": "apim-chargeback",
        "kind": notice.kind,
        "dedup_key": notice.dedup_key,
        "severity": notice.severity,
        "title": notice.title,
        "text": notice.text,
        "scope": notice.scope,
        "date": notice.day.isoformat(),
        "provisional": notice.provisional,
        "fields": notice.fields,
    }


class _Transient(Exception):
    def __init__(self, description: str, status: int | None) -> None:
        super().__init__(description)
        self.status = status


@dataclass
class Delivery:
    status: str
    attempts: int
    http_status: int | None
    error: str | None


def deliver(
    session: requests.Session,
    webhook: Webhook,
    payload: dict,
    *,
    attempts: int,
    backoff: float,
    timeout: float,
) -> Delivery:
    """POST `payload`, retrying transient failures; never raises, never puts the URL in an error."""
    url = webhook.url.get_secret_value()
    data = json.dumps(payload, ensure_ascii=False, default=str).encode()
    count = 0

    def attempt() -> int:
        nonlocal count
        count += 1
        try:
            response = session.post(
                url, data=data, headers={"Content-Type": "application/json"}, timeout=timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise _Transient(type(exc).__name__, None) from None
        if response.status_code in RETRY_STATUS:
            raise _Transient(f"HTTP {response.status_code}", response.status_code)
        return response.status_code

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff, max=max(backoff * 8, 0.0)),
        retry=retry_if_exception_type(_Transient),
        reraise=False,
    )
    try:
        status = retrying(attempt)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        assert isinstance(last, _Transient)
        return Delivery("failed", count, last.status, f"{last} after {count} attempts")
    if 200 <= status < 300:
        return Delivery("delivered", count, status, None)
    return Delivery("failed", count, status, f"HTTP {status} (not retried)")


def send(
    notices: Iterable[Notice],
    webhooks: list[Webhook],
    already: set[tuple[str, str]],
    *,
    attempts: int,
    backoff: float,
    timeout: float,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[dict]:
    """Deliver each notice not yet delivered to each channel whose minimum severity it meets; the delivery rows."""
    rows = []
    with requests.Session() as session:
        session.trust_env = False
        for notice in notices:
            for webhook in webhooks:
                if SEVERITIES.index(notice.severity) < SEVERITIES.index(webhook.min_severity):
                    continue
                if (notice.dedup_key, webhook.name) in already:
                    continue
                result = deliver(
                    session, webhook, body(notice, webhook.format), attempts=attempts, backoff=backoff, timeout=timeout
                )
                host = urlsplit(webhook.url.get_secret_value()).hostname or "?"
                sent_at = now()
                rows.append(
                    {
                        "date": sent_at.date(),
                        "sent_at": sent_at,
                        "dedup_key": notice.dedup_key,
                        "channel": webhook.name,
                        "format": webhook.format,
                        "host": host,
                        "attempts": result.attempts,
                        "status": result.status,
                        "http_status": result.http_status,
                        "error": result.error,
                    }
                )
                if result.status == "delivered":
                    already.add((notice.dedup_key, webhook.name))
                log.info(
                    "notification",
                    dedup_key=notice.dedup_key,
                    channel=webhook.name,
                    host=host,
                    status=result.status,
                    attempts=result.attempts,
                )
    return rows
