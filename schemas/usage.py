"""Usage record v1: the product's central contract (schemas/README.md, section 4)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.limits import MAX_RECORD_ID_CHARS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MAX_TAGS


class Operation(StrEnum):
    CHAT_COMPLETIONS = "chat.completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    RESPONSES = "responses"
    IMAGES = "images"
    AUDIO = "audio"
    OTHER = "other"


class UsageSource(StrEnum):
    REPORTED = "reported"
    STREAM_REPORTED = "stream_reported"
    STREAM_NO_USAGE = "stream_no_usage"
    STREAM_NOT_READ = "stream_not_read"
    ERROR_RESPONSE = "error_response"
    MISSING = "missing"
    UNREADABLE = "unreadable"


TOKEN_SOURCES = frozenset({UsageSource.REPORTED, UsageSource.STREAM_REPORTED})
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens")

Tokens = Annotated[int, Field(ge=0, le=2**53)]
Name = Annotated[str, Field(max_length=256)]


def _is_unicode(text: str) -> bool:
    """No lone UTF-16 surrogate (JSON can spell one, `\\ud800`; UTF-8, and so Parquet, cannot store it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class UsageRecord(BaseModel):
    """One Azure OpenAI call as seen by the gateway. Extra members are ignored (forward compatible in v1)."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False)

    schema_version: Literal[1] = 1
    record_id: Annotated[str, Field(min_length=1, max_length=MAX_RECORD_ID_CHARS, pattern=r"^[A-Za-z0-9._:-]+$")]
    event_time: AwareDatetime
    duration_ms: Annotated[int, Field(ge=0)] | None = None
    status_code: Annotated[int, Field(ge=100, le=599)]
    operation: Operation
    stream: bool = False
    api_version: Name | None = None
    deployment: Name | None = None
    model: Name | None = None
    region: Name | None = None
    backend_id: Name | None = None
    gateway_id: Name | None = None
    service_name: Name | None = None
    subscription_id: Name | None = None
    subscription_name: Name | None = None
    product_id: Name | None = None
    api_id: Name | None = None
    operation_id: Name | None = None
    user_id: Name | None = None
    client_ip: Name | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    prompt_tokens: Tokens | None = None
    completion_tokens: Tokens | None = None
    total_tokens: Tokens | None = None
    cached_tokens: Tokens | None = None
    reasoning_tokens: Tokens | None = None
    usage_source: UsageSource
    error_code: Name | None = None

    @field_validator("event_time")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("outside the calendar once converted to UTC") from None

    @field_validator("tags")
    @classmethod
    def _bounded_tags(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_TAGS:
            raise ValueError(f"at most {MAX_TAGS} tags, got {len(value)}")
        for key, val in value.items():
            if not 1 <= len(key) <= MAX_TAG_KEY_CHARS:
                raise ValueError(f"tag key {key[:80]!r} must be 1-{MAX_TAG_KEY_CHARS} characters")
            if len(val) > MAX_TAG_VALUE_CHARS:
                raise ValueError(f"tag {key!r} value longer than {MAX_TAG_VALUE_CHARS} characters")
            if not (key.isascii() and val.isascii()) and not _is_unicode(key + val):
                raise ValueError(f"tag {key!r}: not valid Unicode (a lone UTF-16 surrogate)")
        return value

    @model_validator(mode="after")
    def _tokens_are_never_invented(self) -> Self:
        present = [name for name in TOKEN_FIELDS if getattr(self, name) is not None]
        if self.usage_source not in TOKEN_SOURCES:
            if present:
                raise ValueError(
                    f"usage_source {self.usage_source.value!r} carries no token counts, "
                    f"but {', '.join(present)} are set"
                )
            return self
        if self.prompt_tokens is None and self.completion_tokens is None and self.total_tokens is None:
            raise ValueError(f"usage_source {self.usage_source.value!r} needs at least one token count")
        if (
            self.cached_tokens is not None
            and self.prompt_tokens is not None
            and (self.cached_tokens > self.prompt_tokens)
        ):
            raise ValueError("cached_tokens exceeds prompt_tokens (cached tokens are part of the prompt)")
        if (
            self.reasoning_tokens is not None
            and self.completion_tokens is not None
            and (self.reasoning_tokens > self.completion_tokens)
        ):
            raise ValueError("reasoning_tokens exceeds completion_tokens (reasoning is part of the output)")
        return self
