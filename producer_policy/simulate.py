"""`chargeback policy simulate`: one exchange through the policy under Mono, from request/response files."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from producer_policy.errors import ExchangeFileError, ExchangeFormatError
from producer_policy.harness.exchange import CallContext, Exchange, HttpRequest, HttpResponse, RunResult
from producer_policy.harness.policy import PolicyDocuments, PolicyHarness

_RESPONSE_KEYS = frozenset({"status", "headers", "body", "reason"})
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")


def _url(raw: str, where: str) -> str:
    """An absolute http(s) URL, as APIM hands the policy one (Mono's System.Uri would throw on anything else)."""
    problem = f'{where}: "url" must be an absolute http(s) URL such as https://gateway/openai/deployments/...'
    if any(c.isspace() or not c.isprintable() for c in raw):
        raise ExchangeFormatError(problem)
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        raise ExchangeFormatError(problem) from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not (_HOST.fullmatch(host) or _ipv6(host)):
        raise ExchangeFormatError(problem)
    return raw


def _ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _matched(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str | int | float) for v in raw.values()):
        raise ExchangeFormatError(f'{where}: "matched_parameters" must be an object of name -> string')
    return {str(k): str(v) for k, v in raw.items()}


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
        text = path.read_bytes()
    except OSError as exc:
        raise ExchangeFileError(f"{path}: cannot read the request file: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text.decode("utf-8"))
    except ValueError as exc:
        raise ExchangeFormatError(f"{path}: not a JSON file: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise ExchangeFormatError(f'{path}: expected an object with at least "url" (and method, headers, body)')
    ip = data.get("ip", "203.0.113.7")
    if not isinstance(ip, str):
        raise ExchangeFormatError(f'{path}: "ip" must be a string')
    return HttpRequest(
        method=str(data.get("method", "POST")),
        url=_url(data["url"], str(path)),
        headers=_headers(data.get("headers"), str(path)),
        body=_body(data.get("body")),
        ip=ip,
        matched=_matched(data.get("matched_parameters"), str(path)),
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
        raise ExchangeFileError(f"{path}: cannot read the response file: {exc.strerror or exc}") from exc
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
    request_id: str | None = None
    """The gateway request id (`context.RequestId`); None: a new one per run."""


def simulate(inp: SimulationInput, harness: PolicyHarness | None = None) -> RunResult:
    documents = PolicyDocuments.from_directory(inp.policy_dir)
    own = harness is None
    harness = harness or PolicyHarness()
    try:
        prepared = harness.prepare(documents, inp.named_values)
        backend = inp.request.url
        context = CallContext(request_id=inp.request_id) if inp.request_id else CallContext()
        exchange = Exchange(request=inp.request, response=inp.response, backend_url=backend, context=context)
        return harness.run(prepared, exchange)
    finally:
        if own:
            harness.close()
