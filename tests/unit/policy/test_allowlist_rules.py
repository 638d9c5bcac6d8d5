from __future__ import annotations

import pytest

from producer_policy.harness.allowlist import check_reference, violations


@pytest.mark.parametrize(
    "reference",
    [
        "T:System.String",
        "M:System.String::Substring",
        "M:System.DateTime::get_UtcNow",
        "M:Newtonsoft.Json.JsonConvert::SerializeObject",
        "M:System.Text.RegularExpressions.Group::get_Success",
        "M:System.Func`2::Invoke",
        "T:System.Collections.Generic.List`1+Enumerator",
        "M:Apim.Fake.IRequest::get_Body",
    ],
)
def test_allowed(reference):
    assert check_reference(reference) is None


@pytest.mark.parametrize(
    "reference",
    [
        "T:System.IO.MemoryStream",
        "M:System.Environment::GetEnvironmentVariable",
        "M:System.DateTime::ToUniversalTime",
        "M:Newtonsoft.Json.JsonConvert::PopulateObject",
        "M:System.Xml.Linq.XDocument::Load",
        "M:System.Func`2::BeginInvoke",
        "T:Apim.Fake.FakeBody",
        "?:unresolved token 0a000001",
    ],
)
def test_refused(reference):
    assert check_reference(reference) is not None


def test_violations_are_reported_per_expression():
    found = violations({3: ["T:System.String", "T:System.Threading.Thread"], 1: []})
    assert [(v.expression, v.reference) for v in found] == [(3, "T:System.Threading.Thread")]
