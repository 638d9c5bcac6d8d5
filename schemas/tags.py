"""The canonical text of a usage record's tags: one JSON object, keys sorted, no white space, non-ASCII kept.

The lake's `usage` table carries it beside the tags map as `tags_json`, because the roll-up groups by the tags and
grouping by a string is about twice as cheap as grouping by a map. The same tags in any order give the same text,
so the text is the chargeback key. `tags_json_array` builds it for a whole Arrow map column at once and equals
`canonical_tags_json` row for row (a property test holds them together).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TAGS_JSON = "tags_json"
"""Name of the column in the lake's `usage` table."""

_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'
"""Characters `json.dumps` escapes even with ensure_ascii=False: such entries are written by `json.dumps` itself."""


def canonical_tags_json(pairs: Iterable[tuple[str, str]] | None) -> str:
    """`{"k":"v",...}` with keys in code point order; `{}` for no tags."""
    items = sorted(pairs or ())
    if not items:
        return "{}"
    return json.dumps(dict(items), ensure_ascii=False, separators=(",", ":"))


def tags_json_array(tags: pa.Array | pa.ChunkedArray) -> pa.Array:
    """`canonical_tags_json` of every row of a `map<string, string>` column, computed column-wise."""
    if isinstance(tags, pa.ChunkedArray):
        tags = tags.combine_chunks() if tags.num_chunks != 1 else tags.chunk(0)
    if tags.null_count:
        raise ValueError("tags must not be null")
    n = len(tags)
    if n == 0:
        return pa.array([], pa.string())
    offsets = tags.offsets
    keys, values = tags.keys, tags.items
    if len(keys) == 0:
        return pa.array(np.full(n, "{}", dtype=object), pa.string())
    base = offsets[0].as_py()
    counts = np.diff(offsets.to_numpy())
    keys = keys.slice(base, offsets[-1].as_py() - base)
    values = values.slice(base, offsets[-1].as_py() - base)
    entries = pc.binary_join_element_wise('"', keys, '":"', values, '"', "")
    rows = pa.ListArray.from_arrays(pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)), entries)
    text = pc.binary_join_element_wise("{", pc.binary_join(rows, ","), "}", "")
    special = _needs_escape(keys) | _needs_escape(values)
    unsorted = _unsorted_rows(keys, counts)
    redo = unsorted
    if special.any():
        row_of_entry = np.repeat(np.arange(n), counts)
        redo = redo | np.bincount(row_of_entry[special], minlength=n).astype(bool)
    if not redo.any():
        return text
    fixed = text.to_numpy(zero_copy_only=False).astype(object)
    for i in np.flatnonzero(redo):
        fixed[i] = canonical_tags_json(tags[int(i)].as_py())
    return pa.array(fixed, pa.string())


def fill_tags_json(usage: pa.Table) -> pa.Table:
    """`usage` with `tags_json` derived from `tags` where it is null (rows read from files older than the column)."""
    column = usage.column(TAGS_JSON)
    if column.null_count == 0:
        return usage
    derived = tags_json_array(usage.column("tags"))
    filled = pc.coalesce(column, derived)
    return usage.set_column(usage.schema.get_field_index(TAGS_JSON), usage.schema.field(TAGS_JSON), filled)


def _needs_escape(strings: pa.Array) -> np.ndarray:
    """Entries holding a character `json.dumps` escapes, or null: one scan of the character bytes, usually clean."""
    n = len(strings)
    flagged = np.zeros(n, dtype=bool)
    if strings.null_count:
        flagged |= np.asarray(pc.is_null(strings), dtype=bool)
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32, count=n + 1, offset=strings.offset * 4)
    data = strings.buffers()[2]
    if data is None or offsets[-1] == offsets[0]:
        return flagged
    chars = np.frombuffer(data, dtype=np.uint8, count=int(offsets[-1] - offsets[0]), offset=int(offsets[0]))
    bad = (chars < 0x20) | (chars == 0x22) | (chars == 0x5C)
    if bad.any():
        flagged |= np.asarray(pc.fill_null(pc.match_substring_regex(strings, _NEEDS_ESCAPE), True), dtype=bool)
    return flagged


def _unsorted_rows(keys: pa.Array, counts: np.ndarray) -> np.ndarray:
    """Rows whose keys are not strictly ascending (map entries are kept as written): those are sorted in Python."""
    n = len(counts)
    if len(keys) < 2:
        return np.zeros(n, dtype=bool)
    previous, current = keys.slice(0, len(keys) - 1), keys.slice(1)
    out_of_order = np.asarray(pc.fill_null(_not_ascending(previous, current), False), dtype=bool)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    same_row = np.ones(len(keys) - 1, dtype=bool)
    boundaries = starts[counts > 0][1:] - 1
    same_row[boundaries] = False
    bad_pairs = np.flatnonzero(out_of_order & same_row)
    rows = np.zeros(n, dtype=bool)
    if len(bad_pairs):
        row_of_entry = np.repeat(np.arange(n), counts)
        rows[row_of_entry[bad_pairs]] = True
    return rows


def _not_ascending(previous: pa.Array, current: pa.Array) -> pa.Array:
    # Arrow compares strings byte-wise, and UTF-8 byte order is code point order: the order Python's sort uses.
    return pc.greater_equal(previous, current)
