"""Tags as chargeback dimensions, bounded: which tag keys enter the roll-up key, and how their values are kept in check.

A caller writes its tag headers itself, so their values are untrusted. Only the keys listed in
`CHARGEBACK_TAG_DIMENSIONS` (comma-separated, e.g. `project,cost-center`) become part of a roll-up row's `tags`; every
other tag stays in `usage` (and `usage.tags_json`) for SQL, untouched. For each dimension, per day:

- a value must be 1-64 characters of letters, digits, space and `. _ : / ( ) -`, starting with a letter or digit;
  anything else (markup, a formula, a 256-character value) becomes `(invalid)`;
- only the `CHARGEBACK_TAG_MAX_VALUES` values with the most requests that day (ties: alphabetical) are kept; every
  other valid value becomes `(other)`, so no caller can multiply the roll-up's rows.

`tags` is the bounded dimensions as a JSON object with sorted keys (`{}` without any).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aggregator.errors import ConfigFileError
from aggregator.teams import TEAM_PATTERN

VALUE_PATTERN = TEAM_PATTERN
INVALID = "(invalid)"
OVERFLOW = "(other)"
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
DEFAULT_MAX_VALUES = 100


class TagDimensionsError(ConfigFileError):
    """`CHARGEBACK_TAG_DIMENSIONS` names a key that cannot be a tag key."""


@dataclass(frozen=True)
class TagDimensions:
    keys: tuple[str, ...] = ()
    """Sorted (code point order), so the JSON text of a row's tags is canonical."""
    max_values: int = DEFAULT_MAX_VALUES

    @classmethod
    def parse(cls, text: str | None, max_values: int = DEFAULT_MAX_VALUES) -> TagDimensions:
        keys = sorted({k.strip().lower() for k in (text or "").split(",") if k.strip()})
        for key in keys:
            if not KEY_PATTERN.fullmatch(key):
                raise TagDimensionsError(
                    f"CHARGEBACK_TAG_DIMENSIONS: {key[:80]!r} is not a tag key (a-z, 0-9, _ and -, at most 64)"
                )
        if max_values < 1:
            raise TagDimensionsError("CHARGEBACK_TAG_MAX_VALUES must be at least 1")
        return cls(tuple(keys), max_values)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def tag_value_sql(key: str, *, legacy: bool) -> str:
    """The raw value of tag `key` in `day_rows`: from the canonical JSON text, or from the map of older files."""
    if legacy:
        return f"element_at(tags_json, {_sql_string(key)})[1]"
    path = _sql_string(f'$."{key}"')
    return f"json_extract_string(tags_json, {path})"


def validated_sql(expression: str) -> str:
    """`expression` if it is a valid dimension value, `(invalid)` if not, NULL if absent."""
    return (
        f"CASE WHEN ({expression}) IS NULL THEN NULL "
        f"WHEN regexp_full_match({expression}, {_sql_string(VALUE_PATTERN)}) THEN ({expression}) "
        f"ELSE {_sql_string(INVALID)} END"
    )


def tags_json_sql(columns: list[tuple[str, str]]) -> str:
    """Canonical JSON text of (key, column) pairs whose column is not NULL; keys must be given sorted."""
    if not columns:
        return "'{}'"
    parts = ", ".join(
        f"CASE WHEN {c} IS NOT NULL THEN {_sql_string(to_json_key(k))} || to_json({c}) END" for k, c in columns
    )
    return f"'{{' || concat_ws(',', {parts}) || '}}'"


def to_json_key(key: str) -> str:
    return '"' + key + '":'
