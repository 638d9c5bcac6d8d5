"""Secrets never reach a log line."""

from __future__ import annotations

from common.redact import describe, redact, safe_url


def test_keys_signatures_and_headers_are_masked():
    text = (
        "GET https://a.blob.core.windows.net/c?sv=2024&sig=SECRET1%3D&se=x failed; "
        "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=SECRET2==;BlobEndpoint=x "
        "Endpoint=sb://h;SharedAccessKeyName=k;SharedAccessKey=SECRET3 Authorization: Bearer SECRET5\n"
        " Ocp-Apim-Subscription-Key: SECRET4"
    )
    masked = redact(text)
    for secret in ("SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5"):
        assert secret not in masked
    assert "AccountName=dev" in masked and "SharedAccessKeyName=k" in masked


def test_describe_and_urls():
    assert describe(ValueError("AccountKey=abc;")) == "ValueError: AccountKey=***;"
    assert (
        safe_url("https://a.blob.core.windows.net/lake/prefix?sv=1&sig=x")
        == "https://a.blob.core.windows.net/lake/prefix"
    )
