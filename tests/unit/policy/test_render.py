"""The committed policy files are exactly the render output, and the render respects APIM's limits."""

from __future__ import annotations

import re

import pytest

from producer_policy.errors import RenderError
from producer_policy.harness.policy import DEFAULT_NAMED_VALUES
from producer_policy.render import (
    FRAGMENT_LIMIT_BYTES,
    PACKAGE_DIR,
    POLICY_FILE,
    RenderParams,
    render,
)


def test_committed_files_equal_the_default_render():
    for name, text in render().files.items():
        committed = (PACKAGE_DIR / name).read_text(encoding="utf-8")
        assert committed == text, f"{name} drifted: run `chargeback policy render --out producer_policy/policy.xml`"


def test_layout_matches_the_infrastructure_contract():
    files = render().files
    assert set(files) == {
        "policy.xml",
        "fragments/chargeback-inbound.xml",
        "fragments/chargeback-outbound.xml",
        "fragments/chargeback-on-error.xml",
    }
    policy = files[POLICY_FILE]
    for section, fragment in (("inbound", "inbound"), ("outbound", "outbound"), ("on-error", "on-error")):
        assert re.search(
            rf"<{section}>\s*<base />\s*<include-fragment fragment-id=\"chargeback-{fragment}\" />\s*</{section}>",
            policy,
        )
    for name, text in files.items():
        if name != POLICY_FILE:
            assert text.startswith("<fragment>") and text.rstrip().endswith("</fragment>")
            assert "include-fragment" not in text


@pytest.mark.parametrize("slots", [1, 8, 12])
def test_k_slots_per_record_kind_and_fragment_size(slots):
    files = render(RenderParams(slots=slots)).files
    outbound = files["fragments/chargeback-outbound.xml"]
    assert outbound.count("<log-to-eventhub") == 2 * slots
    assert files["fragments/chargeback-on-error.xml"].count("<log-to-eventhub") == slots
    assert files["fragments/chargeback-inbound.xml"].count("<log-to-eventhub") == slots
    assert all(len(text.encode()) <= FRAGMENT_LIMIT_BYTES for text in files.values())
    assert all('partition-key="@(context.RequestId.ToString())"' in m for m in outbound.split("<log-to-eventhub")[1:])


def test_too_many_slots_or_bad_logger_are_refused():
    with pytest.raises(RenderError, match="32,768"):
        render(RenderParams(slots=40))
    with pytest.raises(RenderError):
        RenderParams(slots=0)
    with pytest.raises(RenderError):
        RenderParams(logger_id='x" onload="')


def test_logger_id_is_used_everywhere():
    files = render(RenderParams(logger_id="my-logger")).files
    text = "".join(files.values())
    assert text.count('logger-id="my-logger"') == 4 * 8
    assert "chargeback-eventhub-logger" not in text


def test_every_named_value_is_referenced_and_no_secret_is_read():
    text = "".join(render().files.values())
    assert set(re.findall(r"\{\{([a-z-]+)\}\}", text)) == set(DEFAULT_NAMED_VALUES)
    for forbidden in (".Key", "PrimaryKey", "SecondaryKey", 'Headers["Authorization"]', "partition-id"):
        assert forbidden not in text
    assert "preserveContent: true" in text
    assert re.search(r"\.As<[^>]+>\((?!preserveContent: true)", text) is None, "every body read preserves content"
