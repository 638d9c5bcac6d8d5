"""`chargeback serve`: the read API and dashboard (uvicorn), on the lake `chargeback sql` reads."""

from __future__ import annotations

import socket

import typer

from api.errors import ApiUnavailableError
from common.logs import get_logger

log = get_logger("api")


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        lake: str | None = typer.Option(None, "--lake", help="Lake URL (default CHARGEBACK_LAKE_URL)."),
        host: str | None = typer.Option(None, "--host", help="Address to listen on (default CHARGEBACK_API_HOST)."),
        port: int | None = typer.Option(
            None, "--port", min=0, max=65535, help="Port (default CHARGEBACK_API_PORT; 0 picks one)."
        ),
    ) -> None:
        """Serve the read-only API (/api/v1/...) and the dashboard (/) over the lake."""
        import uvicorn

        from aggregator.lakeio import open_lake
        from aggregator.settings import AggregatorSettings
        from api.app import create_app
        from api.auth import Authenticator
        from api.lake import LakeReader
        from api.settings import load_settings
        from common.configuration import load_settings as load

        settings = load_settings()
        if host is not None or port is not None:
            settings = settings.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v is not None})
            settings = type(settings).model_validate(settings.model_dump())
        lake_settings = load(AggregatorSettings, what="aggregator configuration")
        location = open_lake(lake or lake_settings.lake_url, lake_settings.storage_connection_string)
        reader = LakeReader(location, lake_settings, refresh_seconds=settings.refresh_seconds)
        application = create_app(settings, reader, location, Authenticator(settings), team_tag=lake_settings.team_tag)
        listener = _listen(settings.host, settings.port)
        bound = listener.getsockname()
        log.info("api_listening", host=bound[0], port=bound[1], auth=settings.auth.value)
        typer.echo(f"listening on http://{bound[0]}:{bound[1]}/ (API at /api/v1, OpenAPI at /api/v1/openapi.json)")
        server = uvicorn.Server(uvicorn.Config(application, log_config=None, access_log=False, lifespan="off"))
        server.run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """Bind before uvicorn starts, so a taken port is one line and exit 5, not a log dump."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ApiUnavailableError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    listener.listen(128)
    return listener
