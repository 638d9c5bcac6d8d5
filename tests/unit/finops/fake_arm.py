"""A stand-in for Azure Resource Manager's API Management endpoints, served by HttpRecorder to the real SDK."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

from azure.core.credentials import AccessToken

from tests.unit.finops.http_recorder import Recorded

SERVICE = "/subscriptions/0000-azure-sub/resourceGroups/rg-ai/providers/Microsoft.ApiManagement/service/apim-ai"
TOKEN = "fake-arm-token-never-logged"


class FakeCredential:
    """A TokenCredential: the SDK's bearer policy asks it for a token and sends it."""

    def get_token(self, *scopes: str, **_kwargs: object) -> AccessToken:
        return AccessToken(TOKEN, int(time.time()) + 3600)


@dataclass
class FakeArm:
    subscriptions: dict[str, str] = field(default_factory=dict)
    """sid -> state"""
    named_values: dict[str, str] = field(default_factory=dict)
    fail_writes: int = 0

    def __call__(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        path = request.path.split("?", 1)[0]
        if not path.startswith(SERVICE) or "api-version=" not in request.path:
            return 404, {}, b'{"error": {"code": "NotFound", "message": "no such resource"}}'
        rest = path[len(SERVICE) :]
        if request.method in ("PATCH", "PUT") and self.fail_writes:
            self.fail_writes -= 1
            return 500, {"Content-Type": "application/json"}, b'{"error": {"code": "Boom", "message": "injected"}}'
        if match := re.fullmatch(r"/subscriptions/([^/]+)", rest):
            sid = match.group(1)
            if sid not in self.subscriptions:
                return 404, {"Content-Type": "application/json"}, b'{"error": {"code": "ResourceNotFound"}}'
            if request.method == "PATCH":
                self.subscriptions[sid] = request.json()["properties"]["state"]
            body = {
                "id": SERVICE + rest,
                "name": sid,
                "properties": {"scope": "/apis", "state": self.subscriptions[sid]},
            }
            return 200, {"Content-Type": "application/json", "ETag": '"1"'}, json.dumps(body).encode()
        if match := re.fullmatch(r"/namedValues/([^/]+)", rest):
            name = match.group(1)
            if name not in self.named_values:
                return 404, {"Content-Type": "application/json"}, b'{"error": {"code": "ResourceNotFound"}}'
            if request.method == "PATCH":
                self.named_values[name] = request.json()["properties"]["value"]
            body = {
                "id": SERVICE + rest,
                "name": name,
                "properties": {"displayName": name, "value": self.named_values[name], "secret": False},
            }
            return 200, {"Content-Type": "application/json", "ETag": '"7"'}, json.dumps(body).encode()
        return 404, {}, b"{}"
