"""`chargeback policy render|simulate` as a user runs them (simulate starts its own Mono process)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chargeback.cli import app
from tests.support.exchanges import CHAT_BODY, CHAT_COMPLETION, FINAL_USAGE_CHUNK, streamed_chat

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture
def files(tmp_path):
    req = tmp_path / "req.json"
    req.write_text(
        json.dumps(
            {
                "method": "POST",
                "url": "https://gw.example/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
                "headers": {"Content-Type": "application/json", "x-team": "alpha"},
                "body": {**CHAT_BODY, "stream": True},
            }
        )
    )
    resp = tmp_path / "resp.json"
    resp.write_text(
        json.dumps({"status": 200, "headers": {"Content-Type": "application/json"}, "body": CHAT_COMPLETION})
    )
    sse = tmp_path / "stream.sse"
    sse.write_bytes(streamed_chat(True))
    return req, resp, sse


def test_simulate_prints_messages_and_decoded_records(files):
    req, resp, _ = files
    result = runner.invoke(
        app, ["policy", "simulate", "--request", str(req), "--response", str(resp), "--capture", "both"]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3 and {line["partition_key"] for line in lines} == {json.loads(lines[0]["body"])["record_id"]}
    result = runner.invoke(
        app, ["policy", "simulate", "--request", str(req), "--response", str(resp), "--capture", "both", "--decode"]
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["kind"] for r in records] == ["request_body", "usage", "response_body"]
    assert records[1]["record"]["total_tokens"] == 1830 and records[1]["record"]["tags"] == {"team": "alpha"}


def test_simulate_raw_stream_body_in_both_modes(files):
    req, _, sse = files
    base = [
        "policy",
        "simulate",
        "--request",
        str(req),
        "--response",
        str(sse),
        "--header",
        "Content-Type: text/event-stream",
        "--decode",
    ]
    result = runner.invoke(app, base)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["record"]["usage_source"] == "stream_reported"
    result = runner.invoke(app, [*base, "--stream-mode", "passthrough", "--named-value", "chargeback-client-ip=none"])
    record = json.loads(result.stdout)["record"]
    assert (record["usage_source"], record["client_ip"]) == ("stream_not_read", None)


def test_simulate_bad_input_exit_codes(files, tmp_path):
    req, resp, _ = files
    result = runner.invoke(
        app, ["policy", "simulate", "--request", str(tmp_path / "nope.json"), "--response", str(resp)]
    )
    assert result.exit_code == 4
    result = runner.invoke(
        app, ["policy", "simulate", "--request", str(req), "--response", str(resp), "--capture", "all"]
    )
    assert result.exit_code == 2
    broken = tmp_path / "policy"
    (broken / "fragments").mkdir(parents=True)
    (broken / "policy.xml").write_text(
        '<policies><inbound><set-variable name="a" value="@({{missing}})" /></inbound></policies>'
    )
    result = runner.invoke(
        app, ["policy", "simulate", "--request", str(req), "--response", str(resp), "--policy-dir", str(broken)]
    )
    assert result.exit_code == 6 and "missing" in result.output


def test_render_to_files_and_check(tmp_path):
    out = tmp_path / "deploy" / "policy.xml"
    result = runner.invoke(app, ["policy", "render", "--slots", "4", "--logger-id", "lg", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "deploy" / "fragments" / "chargeback-outbound.xml").read_text().count('logger-id="lg"') == 8
    assert (
        runner.invoke(
            app, ["policy", "render", "--slots", "4", "--logger-id", "lg", "--out", str(out), "--check"]
        ).exit_code
        == 0
    )
    assert runner.invoke(app, ["policy", "render", "--out", str(out), "--check"]).exit_code == 6
    assert runner.invoke(app, ["policy", "render", "--slots", "99"]).exit_code == 2


def test_simulate_llm_log_joins_the_usage_record(files):
    """The LLM-log record of a streamed passthrough call carries the stream's tokens under the usage record's id."""
    from schemas.llm_log import decode_batch

    req, _, sse = files
    base = [
        "policy",
        "simulate",
        "--request",
        str(req),
        "--response",
        str(sse),
        "--header",
        "Content-Type: text/event-stream",
    ]
    passthrough = [*base, "--stream-mode", "passthrough", "--request-id", "5D4F3B2A-1C0E-4F8D-9A7B-6C5D4E3F2A1B"]
    record = json.loads(runner.invoke(app, [*passthrough, "--decode"]).stdout)["record"]
    assert record["usage_source"] == "stream_not_read" and record["total_tokens"] is None
    result = runner.invoke(app, [*passthrough, "--llm-log", "--region", "West Europe"])
    assert result.exit_code == 0, result.output
    batch = decode_batch(result.stdout.encode())
    (row,) = batch.rows
    usage = FINAL_USAGE_CHUNK["usage"]
    assert row["record_id"] == record["record_id"] == "5d4f3b2a-1c0e-4f8d-9a7b-6c5d4e3f2a1b"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
        usage["total_tokens"],
    )
    assert row["is_stream"] is True and row["deployment"] == "gpt-4o" and row["region"] == "West Europe"
    assert runner.invoke(app, [*passthrough, "--llm-log", "--decode"]).exit_code == 2
