"""A real local HTTP server on a free port that records every request and answers through a handler function.

Used as a webhook receiver (can fail the first attempts) and as a stand-in for Azure Resource Manager.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Recorded], tuple[int, dict[str, str], bytes]]


def ok(_request: Recorded) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, b"ok"


@dataclass
class HttpRecorder:
    responder: Responder = ok
    fail_first: int = 0
    fail_status: int = 503
    requests: list[Recorded] = field(default_factory=list)

    def __enter__(self) -> HttpRecorder:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Recorded(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                recorder.requests.append(request)
                if len(recorder.requests) <= recorder.fail_first:
                    status, headers, body = recorder.fail_status, {}, b"try again"
                else:
                    status, headers, body = recorder.responder(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
