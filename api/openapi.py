"""The API's OpenAPI document, as published in `docs/openapi.json` (`make openapi` rewrites it; a test compares)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

from api.app import create_app
from api.auth import Authenticator
from api.settings import ApiSettings, AuthMode

PUBLISHED = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def document() -> dict[str, Any]:
    """The document the server serves at /api/v1/openapi.json (it does not depend on the lake or the settings)."""
    settings = ApiSettings(auth=AuthMode.API_KEY, key="0" * 16, host="127.0.0.1")
    app = create_app(settings, cast(Any, None), cast(Any, None), Authenticator(settings))
    return app.openapi()


def text() -> str:
    return json.dumps(document(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PUBLISHED
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text(), encoding="utf-8")
