"""From the policy documents to a program the Mono runner executes: compiled expressions plus a flow tree.

Named values are substituted as text first (as APIM does), each expression is lifted out (scanner.py), the
remaining XML is parsed, and `<include-fragment>` is replaced by the fragment's policies.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from producer_policy.errors import NamedValueError, PolicySyntaxError
from producer_policy.harness.scanner import PLACEHOLDER, Expression, lift_expressions

NAMED_VALUE = re.compile(r"\{\{([A-Za-z0-9._-]+)\}\}")
_PLACEHOLDER_RE = re.compile(PLACEHOLDER.format(r"(\d+)"))
SECTIONS = ("inbound", "backend", "outbound", "on-error")
EXECUTED = frozenset({"set-variable", "choose", "log-to-eventhub", "set-body", "base"})


@dataclass(frozen=True, slots=True)
class PolicyProgram:
    expressions: list[Expression]
    flow: dict[str, Any]
    named_values_used: frozenset[str]


def substitute_named_values(text: str, values: dict[str, str], source: str) -> tuple[str, set[str]]:
    used: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            line = text.count("\n", 0, match.start()) + 1
            raise NamedValueError(f"{source}:{line}: named value {{{{{name}}}}} has no value")
        used.add(name)
        return values[name]

    return NAMED_VALUE.sub(replace, text), used


def _value(raw: str | None, where: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    stripped = raw.strip()
    match = _PLACEHOLDER_RE.fullmatch(stripped)
    if match:
        return {"expr": int(match.group(1))}
    if _PLACEHOLDER_RE.search(raw):
        raise PolicySyntaxError(f"{where}: an expression must be the whole value")
    return {"text": raw}


class _Builder:
    def __init__(self, fragments: dict[str, ET.Element]) -> None:
        self.fragments = fragments

    def nodes(self, parent: ET.Element, where: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for child in parent:
            if not isinstance(child.tag, str):
                continue
            out.extend(self.node(child, where))
        return out

    def node(self, el: ET.Element, where: str) -> list[dict[str, Any]]:
        tag = el.tag
        here = f"{where}/{tag}"
        if tag == "include-fragment":
            fragment_id = el.get("fragment-id", "")
            if fragment_id not in self.fragments:
                raise PolicySyntaxError(f"{here}: fragment {fragment_id!r} not found")
            return self.nodes(self.fragments[fragment_id], f"fragment:{fragment_id}")
        if tag == "base":
            return [{"type": "base"}]
        if tag == "set-variable":
            name = el.get("name")
            if not name:
                raise PolicySyntaxError(f"{here}: set-variable needs a name")
            return [{"type": "set-variable", "name": name, "value": _value(el.get("value"), here)}]
        if tag == "choose":
            whens = []
            otherwise = None
            for child in el:
                if child.tag == "when":
                    cond = _value(child.get("condition"), here)
                    if cond is None or "expr" not in cond:
                        raise PolicySyntaxError(f"{here}: when needs an expression condition")
                    whens.append({"condition": cond, "body": self.nodes(child, here)})
                elif child.tag == "otherwise":
                    otherwise = self.nodes(child, here)
            return [{"type": "choose", "whens": whens, "otherwise": otherwise}]
        if tag == "log-to-eventhub":
            if el.get("partition-key") is not None and el.get("partition-id") is not None:
                raise PolicySyntaxError(f"{here}: partition-key and partition-id are mutually exclusive")
            return [
                {
                    "type": "log-to-eventhub",
                    "logger_id": el.get("logger-id", ""),
                    "partition_key": _value(el.get("partition-key"), here),
                    "body": _value(el.text or "", here),
                }
            ]
        if tag == "set-body":
            return [{"type": "set-body", "value": _value(el.text or "", here)}]
        return [{"type": tag}]


def _parse(text: str, source: str, start: int) -> tuple[ET.Element, list[Expression]]:
    lifted, expressions = lift_expressions(text, source, start)
    try:
        root = ET.fromstring(lifted)
    except ET.ParseError as exc:
        raise PolicySyntaxError(f"{source}: {exc}") from None
    return root, expressions


def build_program(
    policy: tuple[str, str], fragments: dict[str, tuple[str, str]], named_values: dict[str, str]
) -> PolicyProgram:
    """policy = (source name, text); fragments = {fragment id: (source name, text)}."""
    expressions: list[Expression] = []
    used: set[str] = set()
    parsed_fragments: dict[str, ET.Element] = {}
    for fragment_id, (source, text) in fragments.items():
        substituted, names = substitute_named_values(text, named_values, source)
        used |= names
        root, found = _parse(substituted, source, len(expressions))
        if root.tag != "fragment":
            raise PolicySyntaxError(f"{source}: the root element of a fragment must be <fragment>")
        if any(True for _ in root.iter("include-fragment")):
            raise PolicySyntaxError(f"{source}: fragments cannot nest other fragments")
        expressions.extend(found)
        parsed_fragments[fragment_id] = root
    source, text = policy
    substituted, names = substitute_named_values(text, named_values, source)
    used |= names
    root, found = _parse(substituted, source, len(expressions))
    expressions.extend(found)
    if root.tag != "policies":
        raise PolicySyntaxError(f"{source}: the root element must be <policies>")
    builder = _Builder(parsed_fragments)
    sections: dict[str, list[dict[str, Any]]] = {}
    for name in SECTIONS:
        section = root.find(name)
        sections[name] = builder.nodes(section, name) if section is not None else []
    return PolicyProgram(expressions=expressions, flow={"sections": sections}, named_values_used=frozenset(used))
