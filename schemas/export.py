"""JSON Schema documents for every record type of the contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from common.outputs import write_text
from schemas.deadletter import DeadLetterRecord
from schemas.payload import PayloadRecord
from schemas.usage import UsageRecord

RECORD_MODELS: dict[str, type[BaseModel]] = {
    "usage": UsageRecord,
    "payload": PayloadRecord,
    "dead_letter": DeadLetterRecord,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    return {name: model.model_json_schema() for name, model in RECORD_MODELS.items()}


def export_json_schemas(directory: Path) -> list[Path]:
    written = []
    for name, schema in json_schemas().items():
        path = directory / f"{name}.v1.schema.json"
        write_text(path, json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
