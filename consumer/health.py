"""HTTP `/healthz` (the process serves) and `/readyz` (every hub's receiver runs and storage is writable).

`/readyz`'s body: `status`, the usage hub's figures at the top level (as before a second source existed), and every
source's figures under `sources` (`usage`, and `llm_log` when APIM's LLM-log hub is read)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from consumer.errors import HealthPortError
from consumer.metrics import ConsumerStats


class HealthServer:
    def __init__(self, port: int, sources: dict[str, ConsumerStats], ready: Callable[[], bool]) -> None:
        self.port = port
        self.sources = sources
        self.ready = ready
        self._runner: web.AppRunner | None = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        ok = self.ready() and all(stats.storage_ok for stats in self.sources.values())
        snapshots = {name: stats.snapshot() for name, stats in self.sources.items()}
        first = next(iter(snapshots.values()), {})
        body = {"status": "ready" if ok else "not_ready", **first, "sources": snapshots}
        return web.json_response(body, status=200 if ok else 503)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, "0.0.0.0", self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise HealthPortError(
                f"CHARGEBACK_HEALTH_PORT={self.port}: cannot listen on port {self.port}: {exc.strerror or exc}"
            ) from exc

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
