"""The reassembler decodes with pybase64 (SIMD) and falls back to Python's strict base64 for what pybase64 refuses.
That is only sound if pybase64 never accepts something strict mode refuses, nor decodes it to other bytes."""

from __future__ import annotations

import base64
import binascii

import pybase64
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.reassembler import b64decode_strict
from tests.support.profiles import examples

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Mostly base64 characters, with the ones that make strict mode refuse: padding in odd places, white space,
# URL-safe characters, NUL and non-ASCII.
near_base64 = st.text(alphabet=st.sampled_from(list(ALPHABET) + list("====\n -_\x00é")), max_size=40)


def strict(data: bytes) -> bytes | None:
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


@settings(max_examples=examples(3000), deadline=None)
@given(text=near_base64)
def test_whatever_pybase64_accepts_strict_mode_accepts_with_the_same_bytes(text):
    data = text.encode("utf-8")
    try:
        fast = pybase64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return
    assert strict(data) == fast


@settings(max_examples=examples(3000), deadline=None)
@given(text=near_base64)
def test_b64decode_strict_is_strict_mode_exactly(text):
    data = text.encode("utf-8")
    expected = strict(data)
    try:
        got = b64decode_strict(data)
    except (binascii.Error, ValueError):
        got = None
    assert got == expected


@given(payload=st.binary(max_size=3000))
def test_encoded_payloads_decode_through_the_fast_path(payload):
    encoded = base64.b64encode(payload)
    assert pybase64.b64decode(encoded, validate=True) == payload == b64decode_strict(encoded)


def test_a_pad_after_a_whole_quantum_is_where_they_differ():
    # Strict mode accepts it (and ignores the pad), pybase64 refuses it: the fallback keeps strict mode's verdict.
    assert strict(b"QmVm=") == b"Bef"
    assert b64decode_strict(b"QmVm=") == b"Bef"
