"""`chargeback policy render|simulate`."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

import typer

from common.logs import get_logger
from common.outputs import write_text
from producer_policy.decode import decode_messages
from producer_policy.errors import OptionError, SimulationCheckError, StaleRenderError
from producer_policy.llm_log import diagnostic_document
from producer_policy.render import DEFAULT_LOGGER_ID, PACKAGE_DIR, POLICY_FILE, RenderParams, render
from producer_policy.simulate import SimulationInput, load_request, load_response, parse_header_option, simulate
from schemas.limits import DEFAULT_MAX_CHUNKS

log = get_logger(__name__)

CAPTURE_MODES = ("none", "request", "response", "both")
STREAM_MODES = ("buffer", "passthrough")


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The APIM policy: render it, or run one exchange through it under Mono.", no_args_is_help=True
    )

    @group.command("render")
    def render_command(
        logger_id: str = typer.Option(DEFAULT_LOGGER_ID, "--logger-id", help="APIM logger of the Event Hub."),
        slots: int = typer.Option(DEFAULT_MAX_CHUNKS, "--slots", help="K: chunk slots per record (max chunks)."),
        out: Path | None = typer.Option(
            None, "--out", help="Write the API policy to FILE and the fragments to FILE's folder/fragments/."
        ),
        check: bool = typer.Option(False, "--check", help="Exit 6 if the files at --out differ from the render."),
    ) -> None:
        """Produce the deployable policy (rawxml): policy.xml plus three fragments."""
        rendered = render(RenderParams(logger_id=logger_id, slots=slots))
        if out is None:
            for name, text in rendered.files.items():
                typer.echo(f"<!-- file: {name} -->")
                typer.echo(text, nl=not text.endswith("\n"))
            return
        base = out.parent
        files = {(out if name == POLICY_FILE else base / name): text for name, text in rendered.files.items()}
        if check:
            stale = [str(p) for p, text in files.items() if _read(p) != text]
            if stale:
                raise StaleRenderError("out of date (re-run without --check): " + ", ".join(stale))
            return
        for path, text in files.items():
            write_text(path, text, newline="\n")
            typer.echo(str(path))

    @group.command("simulate")
    def simulate_command(
        request: Path = typer.Option(..., "--request", help="REQ.json: {method, url, headers, body}."),
        response: Path = typer.Option(..., "--response", help="RESP: JSON {status, headers, body} or a raw body file."),
        status: int | None = typer.Option(None, "--status", help="Status of a raw response body (default 200)."),
        header: list[str] = typer.Option([], "--header", help="Response header NAME:VALUE (repeatable)."),
        capture: str | None = typer.Option(None, "--capture", help="none | request | response | both."),
        stream_mode: str | None = typer.Option(None, "--stream-mode", help="buffer | passthrough."),
        named_value: list[str] = typer.Option([], "--named-value", help="Named value NAME=VALUE (repeatable)."),
        decode: bool = typer.Option(False, "--decode", help="Print reassembled records instead of messages."),
        llm_log: bool = typer.Option(
            False,
            "--llm-log",
            help="Print instead the LLM-log document API Management's diagnostic setting would send to Event Hubs.",
        ),
        region: str = typer.Option("Sweden Central", "--region", help="Gateway region for --llm-log."),
        request_id: str | None = typer.Option(
            None, "--request-id", help="The gateway request id (context.RequestId, a GUID); default: a new one."
        ),
        policy_dir: Path = typer.Option(
            PACKAGE_DIR, "--policy-dir", help="Folder with policy.xml and fragments/ (default: the shipped policy)."
        ),
    ) -> None:
        """Run the policy under Mono for one exchange and print what would land in Event Hubs."""
        values: dict[str, str] = {}
        for item in named_value:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise OptionError(f"--named-value {item!r}: expected NAME=VALUE")
            values[name] = value
        if capture is not None:
            if capture not in CAPTURE_MODES:
                raise OptionError(f"--capture must be one of {', '.join(CAPTURE_MODES)}")
            values["chargeback-capture"] = capture
        if stream_mode is not None:
            if stream_mode not in STREAM_MODES:
                raise OptionError(f"--stream-mode must be one of {', '.join(STREAM_MODES)}")
            values["chargeback-stream-mode"] = stream_mode
        headers = [parse_header_option(h) for h in header]
        if request_id is not None:
            try:
                request_id = str(uuid.UUID(request_id))
            except ValueError:
                raise OptionError(f"--request-id {request_id[:64]!r}: not a GUID") from None
        inp = SimulationInput(
            request_id=request_id,
            request=load_request(request),
            response=load_response(response, status, headers),
            named_values=values,
            policy_dir=policy_dir,
        )
        result = simulate(inp)
        for error in result.errors:
            log.error("policy_expression_failed", section=error.section, expression=error.expression, error=error.error)
        if llm_log:
            if decode:
                raise OptionError("--llm-log and --decode print different things: give one")
            usage = next((r.record for r in decode_messages(result.messages).records if r.kind == "usage"), None)
            if usage is None:
                raise SimulationCheckError("the policy emitted no usage record: no request id for an LLM-log record")
            document = diagnostic_document(
                inp.request,
                inp.response,
                correlation_id=str(usage["record_id"]),
                when=datetime.fromisoformat(str(usage["event_time"])),
                region=region,
            )
            typer.echo(json.dumps(document, ensure_ascii=False))
        elif decode:
            decoded = decode_messages(result.messages)
            for rec in decoded.records:
                typer.echo(json.dumps({"kind": rec.kind, "record": rec.record}, ensure_ascii=False))
            for dead in decoded.dead_letters:
                log.error("record_rejected", reason=dead.reason.value, detail=dead.detail)
            if decoded.dead_letters:
                raise SimulationCheckError(
                    f"{len(decoded.dead_letters)} record(s) would be dead-lettered (logged above)"
                )
        else:
            for message in result.messages:
                typer.echo(json.dumps({"partition_key": message.partition_key, "body": message.body}))
        if result.errors:
            raise SimulationCheckError(f"{len(result.errors)} policy expression(s) failed (logged above)")

    app.add_typer(group, name="policy")


def _read(path: Path) -> str | None:
    """The text at `path` for `--check`, or None when there is no readable file to compare."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
