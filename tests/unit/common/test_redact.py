"""Secrets never reach a log line."""

from __future__ import annotations

from common.redact import describe, redact, redact_fields, safe_url


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


def test_mistyped_quoted_and_encoded_forms_are_masked():
    cases = {
        "connection string element 'AccountKey:SECRET1' has no '='": "SECRET1",
        "{'AccountKey': 'SECRET2', 'AccountName': 'dev'}": "SECRET2",
        "https://a/c?sv=1&sig%3DSECRET3%3D&se=2": "SECRET3",
        "SharedAccessSignature=sv=2024&ss=b&sig=SECRET4": "SECRET4",
        "Endpoint=sb://h/;SharedAccessKeyName=k;SharedAccessKey : SECRET5;EntityPath=x": "SECRET5",
        "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTRUNSRVQ2In0.c2lnU0VDUkVUNg was refused": "eyJzdWIiOiJTRUNSRVQ2In0",
        '"api-key": "SECRET7"': "SECRET7",
        "account_key=SECRET8 sas_token=SECRET9": "SECRET8",
    }
    for text, secret in cases.items():
        assert secret not in redact(text), text
    assert "AccountName': 'dev'" in redact("{'AccountKey': 'SECRET2', 'AccountName': 'dev'}")


def test_log_fields_named_as_secrets_are_masked_whole():
    fields = redact_fields(
        {
            "event": "storage_opened",
            "connection_string": "UseDevelopmentStorage=true",
            "eventhub_connection_string": "Endpoint=sb://h",
            "api_key": "plain",
            "total_tokens": 12,
            "has_sas": True,
            "detail": {"sas_token": "sv=1", "region": "eu"},
        }
    )
    assert fields["connection_string"] == fields["eventhub_connection_string"] == fields["api_key"] == "***"
    assert fields["total_tokens"] == 12 and fields["has_sas"] is True and fields["event"] == "storage_opened"
    assert fields["detail"] == {"sas_token": "***", "region": "eu"}
