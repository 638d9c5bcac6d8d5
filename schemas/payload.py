"""Captured request/response bodies: kept apart from usage, written only when capture is configured."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class BodyPart(StrEnum):
    REQUEST = "request"
    RESPONSE = "response"


class PayloadRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    record_id: Annotated[str, Field(min_length=1, max_length=128)]
    part: BodyPart
    event_time: AwareDatetime
    """When the gateway emitted the body (the envelope's `emitted_at`)."""
    content_type: Annotated[str, Field(max_length=128)]
    body: str
    body_encoding: Literal["utf-8", "base64"]
    """`utf-8`: `body` is the text; `base64`: the bytes were not UTF-8 and `body` is their base64."""
    truncated: bool
    original_bytes: Annotated[int, Field(ge=0)]
    captured_bytes: Annotated[int, Field(ge=0)]
