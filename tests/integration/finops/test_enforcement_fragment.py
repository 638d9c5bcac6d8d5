"""The enforcement policy fragment's C# under Mono (the policy harness): it names the blocked scope for exactly the
calls the named value lists, and uses only .NET members APIM allows in expressions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import finops
from finops.enforce import named_value_text
from producer_policy.harness.allowlist import violations
from producer_policy.harness.exchange import CallContext, Exchange, HttpRequest, HttpResponse, Party, Subscription
from producer_policy.harness.policy import PolicyDocuments, PolicyHarness

FRAGMENT = Path(finops.__file__).parent / "policy" / "chargeback-enforcement.xml"
PROBE = """<policies>
  <inbound>
    <include-fragment fragment-id="chargeback-enforcement" />
    <log-to-eventhub logger-id="probe">@("blocked:" + (string)context.Variables["chargeback-blocked"])</log-to-eventhub>
  </inbound>
  <backend><base /></backend>
  <outbound />
  <on-error />
</policies>
"""


@pytest.fixture(scope="module")
def harness() -> Iterator[PolicyHarness]:
    with PolicyHarness() as h:
        yield h


def _blocked(harness, entries, *, subscription="sub-a", product="standard", deployment="gpt-4o", headers=None):
    documents = PolicyDocuments(PROBE, {"chargeback-enforcement": FRAGMENT.read_text(encoding="utf-8")})
    prepared = harness.prepare(documents, {"chargeback-enforcement": named_value_text(entries)})
    request = HttpRequest(
        "POST",
        f"https://apim.example.net/openai/deployments/{deployment}/chat/completions?api-version=2024-10-21",
        headers={"Content-Type": ["application/json"], **(headers or {})},
        body=b"{}",
        matched={"deployment-id": deployment},
    )
    context = CallContext(
        subscription=Subscription(subscription, subscription) if subscription else None,
        product=Party(product, product) if product else None,
    )
    result = harness.run(prepared, Exchange(request, HttpResponse(200), context))
    assert result.errors == []
    (message,) = [m for m in result.messages if m.logger_id == "probe"]
    return message.body.removeprefix("blocked:"), prepared


@pytest.mark.parametrize(
    ("entries", "kwargs", "expected"),
    [
        ([], {}, ""),
        (["subscription=sub-a"], {}, "subscription=sub-a"),
        (["subscription=sub-b"], {}, ""),
        (["subscription=sub-a"], {"subscription": None, "product": None}, ""),  # anonymous API
        (["product=standard", "subscription=sub-z"], {}, "product=standard"),
        (["deployment=gpt-4o"], {}, "deployment=gpt-4o"),
        (["deployment=gpt-4o"], {"deployment": "gpt-4o-mini"}, ""),
        (["deployment=gpt-4o-mini"], {"deployment": "gpt-4o"}, ""),  # a prefix is not a match
        (["tag:project=apollo"], {"headers": {"X-Project": ["apollo"]}}, "tag:project=apollo"),
        (["tag:project=apollo"], {"headers": {"x-project": ["apollo-2"]}}, ""),
        (["subscription=sub-a"], {"subscription": "sub-a;subscription=x"}, ""),
    ],
)
def test_the_fragment_blocks_exactly_the_listed_scopes(harness, entries, kwargs, expected):
    blocked, _ = _blocked(harness, entries, **kwargs)
    assert blocked == expected


def test_the_fragment_uses_only_members_apim_allows(harness):
    _, prepared = _blocked(harness, ["subscription=sub-a"])
    assert violations(harness.references(prepared)) == []
