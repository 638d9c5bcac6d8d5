"""Lifting C# out of rawxml, and building the flow the runner interprets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producer_policy.errors import NamedValueError, PolicySyntaxError
from producer_policy.harness.codegen import generate_source
from producer_policy.harness.flow import build_program
from producer_policy.harness.scanner import lift_expressions


def test_expressions_with_quotes_angle_brackets_and_ampersands():
    text = (
        '<a x="@(a < b && c == "q>\\"")" y="literal">@{ var s = @"x""}"; char c = \'}\'; '
        '/* } */ // )\n return $"{s}{{"; }</a>'
    )
    lifted, found = lift_expressions(text, "doc")
    assert lifted == '<a x="__cb_expr_0__" y="literal">__cb_expr_1__</a>'
    assert found[0].code == 'a < b && c == "q>\\""'
    assert not found[0].block and found[1].block
    assert found[1].code.endswith('return $"{s}{{"; ')


def test_expressions_in_xml_comments_are_ignored():
    lifted, found = lift_expressions('<a><!-- "@(x" --><b v="@(1)"/></a>', "doc")
    assert [e.code for e in found] == ["1"]
    assert "<!--" in lifted


def test_unterminated_expression_names_the_line():
    with pytest.raises(PolicySyntaxError, match="doc:2"):
        lift_expressions('<a>\n<b v="@(foo("x")" /></a>', "doc")


@given(st.text(alphabet='abc"\\ ', max_size=30))
def test_string_literals_round_trip(content):
    literal = '"' + content.replace("\\", "\\\\").replace('"', '\\"') + '"'
    _, found = lift_expressions(f'<a v="@({literal})" />', "doc")
    assert found[0].code == literal


POLICY = (
    "policy.xml",
    '<policies><inbound><base /><include-fragment fragment-id="f" /></inbound><backend /><outbound>'
    '<choose><when condition="@(true)"><log-to-eventhub logger-id="l" partition-key="@("k")">@("{{nv}}")'
    '</log-to-eventhub></when><otherwise><set-body>x</set-body></otherwise></choose><rate-limit calls="1" />'
    "</outbound><on-error /></policies>",
)


def test_flow_inlines_fragments_and_substitutes_named_values():
    program = build_program(
        POLICY, {"f": ("f.xml", '<fragment><set-variable name="v" value="@(1)" /></fragment>')}, {"nv": "X"}
    )
    sections = program.flow["sections"]
    assert sections["inbound"] == [{"type": "base"}, {"type": "set-variable", "name": "v", "value": {"expr": 0}}]
    choose = sections["outbound"][0]
    assert choose["whens"][0]["body"][0]["body"] == {"expr": 3}
    assert choose["otherwise"] == [{"type": "set-body", "value": {"text": "x"}}]
    assert sections["outbound"][1] == {"type": "rate-limit"}
    assert [e.code for e in program.expressions][3] == '"X"'
    source = generate_source(program.expressions)
    assert '#line 1 "f.xml"' in source and "public static object E3(IExpressionContext context)" in source


def test_missing_named_value_and_nested_fragment_are_errors():
    with pytest.raises(NamedValueError, match="nv"):
        build_program(POLICY, {"f": ("f.xml", "<fragment />")}, {})
    nested = '<fragment><include-fragment fragment-id="g" /></fragment>'
    with pytest.raises(PolicySyntaxError, match="nest"):
        build_program(POLICY, {"f": ("f.xml", nested)}, {"nv": "x"})
    with pytest.raises(PolicySyntaxError, match="not found"):
        build_program(POLICY, {}, {"nv": "x"})
