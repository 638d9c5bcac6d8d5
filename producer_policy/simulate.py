"""`chargeback policy simulate`: one exchange through the policy under Mono, from request/response files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from producer_policy.errors import ExchangeFormatError
from producer_policy.harness.exchange import Exchange, HttpRequest, HttpResponse, RunResult
from producer_policy.harness.policy import PolicyDocuments, PolicyHarness

_RESPONSE_KEYS = frozenset({"status", "headers", "body", "reason"})


def _headers(raw: Any, where: str) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ExchangeFormatError(f"{where}: headers must be an object of name -> value or [values]")
    out: dict[str, list[str]] = {}
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise ExchangeFormatError(f"{where}: header {name!r} values must be strings")
        out[str(name)] = list(values)
    return out


def _body(raw: Any) -> bytes | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw.encode("utf-8")
    return json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def load_request(path: Path) -> HttpRequest:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExchangeFormatError(f"{path}: not a readable JSON file: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise ExchangeFormatError(f'{path}: expected an object with at least "url" (and method, headers, body)')
    return HttpRequest(
        method=str(data.get("method", "POST")),
        url=data["url"],
        headers=_headers(data.get("headers"), str(path)),
        body=_body(data.get("body")),
        ip=data.get("ip", "203.0.113.7"),
        matched={str(k): str(v) for k, v in (data.get("matched_parameters") or {}).items()},
    )


def parse_header_option(value: str) -> tuple[str, str]:
    name, sep, rest = value.partition(":")
    if not sep or not name.strip():
        raise ExchangeFormatError(f"--header {value!r}: expected NAME:VALUE")
    return name.strip(), rest.strip()


def load_response(path: Path, status: int | None, headers: list[tuple[str, str]]) -> HttpResponse:
    """A JSON file {"status", "headers", "body"} or, otherwise, a raw body (then --status and --header apply)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExchangeFormatError(f"{path}: {exc}") from exc
    structured: dict[str, Any] | None = None
    try:
        data = json.loads(raw)
        if isinstance(data, dict) and "status" in data and set(data) <= _RESPONSE_KEYS:
            structured = data
    except ValueError:
        structured = None
    extra: dict[str, list[str]] = {}
    for name, value in headers:
        extra.setdefault(name, []).append(value)
    if structured is not None:
        if not isinstance(structured["status"], int):
            raise ExchangeFormatError(f'{path}: "status" must be an integer')
        merged = {**_headers(structured.get("headers"), str(path)), **extra}
        return HttpResponse(
            status=status if status is not None else structured["status"],
            headers=merged,
            body=_body(structured.get("body")) or b"",
            reason=str(structured.get("reason", "")),
        )
    return HttpResponse(status=status if status is not None else 200, headers=extra, body=raw)


@dataclass(frozen=True, slots=True)
class SimulationInput:
    request: HttpRequest
    response: HttpResponse
    named_values: dict[str, str]
    policy_dir: Path


def simulate(inp: SimulationInput, harness: PolicyHarness | None = None) -> RunResult:
    documents = PolicyDocuments.from_directory(inp.policy_dir)
    own = harness is None
    harness = harness or PolicyHarness()
    try:
        prepared = harness.prepare(documents, inp.named_values)
        backend = inp.request.url
        return harness.run(prepared, Exchange(request=inp.request, response=inp.response, backend_url=backend))
    finally:
        if own:
            harness.close()
