"""`tags_json_array` (column-wise) must equal `canonical_tags_json` (json.dumps) row for row, whatever the tags."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.arrow import USAGE_SCHEMA
from schemas.tags import TAGS_JSON, canonical_tags_json, fill_tags_json, tags_json_array
from tests.support.profiles import examples

TAGS_TYPE = USAGE_SCHEMA.field("tags").type
# Ordinary tag text, and the characters that need care: quotes, backslashes, control characters, non-ASCII,
# characters outside the BMP, and keys that sort differently by code point than by a naive collation.
text = st.one_of(
    st.text(alphabet="abcdefghij-_0123456789", max_size=12),
    st.text(max_size=12),
    st.sampled_from(['q"uote', "back\\slash", "line\nfeed", "\x00nul", "é", "E", "z", "😀", "Ä", "", " "]),
)
tag_rows = st.lists(st.lists(st.tuples(text, text), max_size=6), max_size=40)


@settings(max_examples=examples(400), deadline=None)
@given(rows=tag_rows, start=st.integers(0, 5), chunked=st.booleans())
def test_column_wise_equals_json_dumps_row_for_row(rows, start, chunked):
    array = pa.array(rows, TAGS_TYPE).slice(min(start, len(rows)))
    expected = [canonical_tags_json(r) for r in rows[min(start, len(rows)) :]]
    if chunked and len(array) > 1:
        half = len(array) // 2
        array = pa.chunked_array([array.slice(0, half), array.slice(half)], TAGS_TYPE)
    assert tags_json_array(array).to_pylist() == expected


def test_canonical_text_is_sorted_compact_json_that_keeps_non_ascii():
    assert canonical_tags_json([("team", "søk"), ("cost-centre", "CC-1")]) == '{"cost-centre":"CC-1","team":"søk"}'
    assert canonical_tags_json(None) == canonical_tags_json([]) == "{}"
    for row in [[("b", "1"), ("a", "2")], [("k", 'say "hi"\n')]]:
        assert json.loads(canonical_tags_json(row)) == dict(row)


def test_same_tags_in_any_order_give_one_text():
    rows = [[("team", "a"), ("project", "x")], [("project", "x"), ("team", "a")]]
    first, second = tags_json_array(pa.array(rows, TAGS_TYPE)).to_pylist()
    assert first == second == '{"project":"x","team":"a"}'


def test_null_tags_are_refused():
    with pytest.raises(ValueError):
        tags_json_array(pa.array([None], TAGS_TYPE))


def test_fill_derives_only_the_missing_texts():
    tags = pa.array([[("team", "a")], [("team", "b")]], TAGS_TYPE)
    table = pa.table({"tags": tags, TAGS_JSON: pa.array(['{"team":"kept"}', None], pa.string())})
    assert fill_tags_json(table).column(TAGS_JSON).to_pylist() == ['{"team":"kept"}', '{"team":"b"}']
