"""`chargeback policy render|simulate`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from common.exitcodes import ExitCode
from common.logs import get_logger
from producer_policy.decode import decode_messages
from producer_policy.errors import (
    ExchangeFormatError,
    MonoUnavailableError,
    NamedValueError,
    PolicyError,
    PolicySyntaxError,
    RenderError,
)
from producer_policy.render import DEFAULT_LOGGER_ID, PACKAGE_DIR, POLICY_FILE, RenderParams, render
from producer_policy.simulate import SimulationInput, load_request, load_response, parse_header_option, simulate
from schemas.limits import DEFAULT_MAX_CHUNKS

log = get_logger(__name__)

CAPTURE_MODES = ("none", "request", "response", "both")
STREAM_MODES = ("buffer", "passthrough")


def _fail(message: str, code: ExitCode) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(int(code))


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
        try:
            rendered = render(RenderParams(logger_id=logger_id, slots=slots))
        except RenderError as exc:
            raise _fail(str(exc), ExitCode.USAGE) from exc
        if out is None:
            for name, text in rendered.files.items():
                typer.echo(f"<!-- file: {name} -->")
                typer.echo(text, nl=not text.endswith("\n"))
            return
        base = out.parent
        files = {(out if name == POLICY_FILE else base / name): text for name, text in rendered.files.items()}
        if check:
            stale = [str(p) for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
            if stale:
                raise _fail("out of date (re-run without --check): " + ", ".join(stale), ExitCode.DATA)
            return
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
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
        policy_dir: Path = typer.Option(
            PACKAGE_DIR, "--policy-dir", help="Folder with policy.xml and fragments/ (default: the shipped policy)."
        ),
    ) -> None:
        """Run the policy under Mono for one exchange and print what would land in Event Hubs."""
        values: dict[str, str] = {}
        for item in named_value:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise _fail(f"--named-value {item!r}: expected NAME=VALUE", ExitCode.USAGE)
            values[name] = value
        if capture is not None:
            if capture not in CAPTURE_MODES:
                raise _fail(f"--capture must be one of {', '.join(CAPTURE_MODES)}", ExitCode.USAGE)
            values["chargeback-capture"] = capture
        if stream_mode is not None:
            if stream_mode not in STREAM_MODES:
                raise _fail(f"--stream-mode must be one of {', '.join(STREAM_MODES)}", ExitCode.USAGE)
            values["chargeback-stream-mode"] = stream_mode
        try:
            headers = [parse_header_option(h) for h in header]
            inp = SimulationInput(
                request=load_request(request),
                response=load_response(response, status, headers),
                named_values=values,
                policy_dir=policy_dir,
            )
        except ExchangeFormatError as exc:
            code = ExitCode.NOT_FOUND if "No such file" in str(exc) else ExitCode.USAGE
            raise _fail(str(exc), code) from exc
        try:
            result = simulate(inp)
        except MonoUnavailableError as exc:
            raise _fail(str(exc), ExitCode.UNAVAILABLE) from exc
        except (PolicySyntaxError, NamedValueError) as exc:
            raise _fail(str(exc), ExitCode.DATA) from exc
        except PolicyError as exc:
            raise _fail(str(exc), ExitCode.FAILURE) from exc
        for error in result.errors:
            log.error("policy_expression_failed", section=error.section, expression=error.expression, error=error.error)
        if decode:
            decoded = decode_messages(result.messages)
            for rec in decoded.records:
                typer.echo(json.dumps({"kind": rec.kind, "record": rec.record}, ensure_ascii=False))
            for dead in decoded.dead_letters:
                log.error("record_rejected", reason=dead.reason.value, detail=dead.detail)
            if decoded.dead_letters:
                raise typer.Exit(int(ExitCode.DATA))
        else:
            for message in result.messages:
                typer.echo(json.dumps({"partition_key": message.partition_key, "body": message.body}))
        if result.errors:
            raise typer.Exit(int(ExitCode.DATA))

    app.add_typer(group, name="policy")
