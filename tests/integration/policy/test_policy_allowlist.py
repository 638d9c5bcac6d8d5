"""Every compiled expression of the shipped policy uses only what APIM allows; the check itself can fail."""

from __future__ import annotations

import pytest

from producer_policy.harness.allowlist import violations
from producer_policy.harness.policy import PolicyDocuments

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("named", [{}, {"capture": "both", "stream_mode": "passthrough", "client_ip": "plain"}])
def test_shipped_policy_uses_only_allowed_types(prepare, policy_harness, named):
    prepared = prepare(**named)
    references = policy_harness.references(prepared)
    assert set(references) == {e.index for e in prepared.program.expressions}
    assert sum(len(r) for r in references.values()) > 100, "the IL walker found too little to be trusted"
    assert violations(references) == []


def test_disallowed_apis_are_found(policy_harness):
    policy = """<policies><inbound>
    <set-variable name="a" value="@(System.Environment.GetEnvironmentVariable("HOME"))" />
    <set-variable name="b" value="@{ var s = new System.IO.MemoryStream(); return s.Length.ToString(); }" />
    <set-variable name="c" value="@(context.Subscription.Key)" />
    <set-variable name="d" value="@{ Func<string, string> f = x => System.IO.Path.GetFileName(x); return f("a/b"); }" />
    <set-variable name="e" value="@(DateTime.UtcNow.ToUniversalTime().ToString("o"))" />
    </inbound><backend /><outbound /><on-error /></policies>"""
    prepared = policy_harness.prepare(PolicyDocuments(policy=policy, fragments={}))
    found = violations(policy_harness.references(prepared))
    by_expr: dict[int, str] = {}
    for v in found:
        by_expr[v.expression] = by_expr.get(v.expression, "") + " " + v.reference
    assert "System.Environment" in by_expr[0]
    assert "System.IO.MemoryStream" in by_expr[1]
    assert "System.IO.Path" in by_expr[3], "a reference inside a lambda is found too"
    assert "ToUniversalTime" in by_expr[4]
    assert 2 not in by_expr  # context members are allowed by type; the key is caught by the privacy tests instead
