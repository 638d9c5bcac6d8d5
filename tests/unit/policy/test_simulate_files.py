"""The request/response file formats of `chargeback policy simulate`."""

from __future__ import annotations

import json

import pytest

from producer_policy.errors import ExchangeFormatError
from producer_policy.simulate import load_request, load_response, parse_header_option


def test_request_file(tmp_path):
    path = tmp_path / "req.json"
    path.write_text(
        json.dumps(
            {"method": "POST", "url": "https://gw/x", "headers": {"a": "1", "b": ["2", "3"]}, "body": {"k": "é"}}
        )
    )
    req = load_request(path)
    assert req.headers == {"a": ["1"], "b": ["2", "3"]}
    assert json.loads(req.body or b"") == {"k": "é"}
    path.write_text(json.dumps({"url": "https://gw/x", "body": "raw text"}))
    assert load_request(path).body == b"raw text" and load_request(path).method == "POST"
    path.write_text(json.dumps({"url": "https://gw/x"}))
    assert load_request(path).body is None


@pytest.mark.parametrize("content", ["[]", '{"method": "GET"}', "not json", '{"url": "u", "headers": {"a": 1}}'])
def test_bad_request_files(tmp_path, content):
    path = tmp_path / "req.json"
    path.write_text(content)
    with pytest.raises(ExchangeFormatError):
        load_request(path)


def test_structured_response_and_overrides(tmp_path):
    path = tmp_path / "resp.json"
    path.write_text(json.dumps({"status": 429, "headers": {"retry-after": "3"}, "body": {"error": {"code": "429"}}}))
    resp = load_response(path, None, [("x-ms-region", "East US")])
    assert resp.status == 429 and resp.headers == {"retry-after": ["3"], "x-ms-region": ["East US"]}
    assert json.loads(resp.body) == {"error": {"code": "429"}}
    assert load_response(path, 500, []).status == 500


def test_raw_response_body(tmp_path):
    path = tmp_path / "resp.sse"
    path.write_bytes(b'data: {"usage": null}\n\ndata: [DONE]\n\n')
    resp = load_response(path, None, [parse_header_option("Content-Type: text/event-stream")])
    assert resp.status == 200 and resp.headers == {"Content-Type": ["text/event-stream"]}
    assert resp.body.startswith(b"data:")
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps({"id": "x", "usage": {"total_tokens": 1}}))
    assert load_response(chat, 201, []).body == chat.read_bytes(), "an API JSON body is a raw body"


def test_bad_header_option():
    with pytest.raises(ExchangeFormatError):
        parse_header_option("no-colon")
