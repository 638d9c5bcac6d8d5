"""Bicep templates as data, for assertions without the Bicep CLI.

pycep-parser gives two views of a file: its JSON document (`Template.doc`: parameters, variables, resources,
modules, outputs) and the raw Lark tree (`Template.tree`, used by `tests.support.bicep_refs`). In the JSON,
identifiers are `pycep.models.BicepElement` (a `str` subclass) and string literals are plain `str`, so
`is_symbol()` tells a reference from a literal. `render()` turns an expression back into Bicep-like text so
assertions can compare whole expressions: `render(x) == "identities.outputs.consumerPrincipalId"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lark import Tree
from pycep import BicepParser
from pycep.models import BicepElement

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
MAIN_BICEP = INFRA_DIR / "main.bicep"

ROLE_DEFINITIONS = {
    "2b629674-e913-4c01-ae53-ef4638d8f975": "Azure Event Hubs Data Sender",
    "a638d3c7-ab3a-418d-83e6-5f17a39d4fde": "Azure Event Hubs Data Receiver",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "f526a384-b230-433a-b45c-95f59c4a2dec": "Azure Event Hubs Data Owner",
}


class BicepSyntaxError(ValueError):
    """A template pycep-parser cannot parse."""


@cache
def _parser() -> BicepParser:
    return BicepParser(add_line_numbers=False)


@dataclass(frozen=True)
class Resource:
    """One `resource` declaration (child resources declared with `parent:` are ordinary resources)."""

    symbol: str
    type: str
    api_version: str
    existing: bool
    config: dict[str, Any]
    condition: Any = None
    loop: dict[str, Any] | None = None

    def get(self, dotted: str, default: Any = None) -> Any:
        """`res.get("properties.credentials.name")`: walk nested objects of the resource body."""
        node: Any = self.config
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


@dataclass(frozen=True)
class Module:
    symbol: str
    path: str
    config: dict[str, Any]
    condition: Any = None

    @property
    def params(self) -> dict[str, Any]:
        return self.config.get("params", {})


@dataclass(frozen=True)
class Template:
    path: Path
    text: str
    doc: dict[str, Any]
    tree: Tree

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return self.doc.get("parameters", {})

    @property
    def variables(self) -> dict[str, dict[str, Any]]:
        return self.doc.get("variables", {})

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return self.doc.get("outputs", {})

    @property
    def target_scope(self) -> str:
        return self.doc.get("globals", {}).get("scope", {}).get("value", "resourceGroup")

    @property
    def resources(self) -> dict[str, Resource]:
        return {name: _resource(name, attrs) for name, attrs in self.doc.get("resources", {}).items()}

    @property
    def modules(self) -> dict[str, Module]:
        return {name: _module(name, attrs) for name, attrs in self.doc.get("modules", {}).items()}

    def resource(self, symbol: str) -> Resource:
        try:
            return self.resources[symbol]
        except KeyError:
            raise AssertionError(f"{self.path.name}: no resource symbol {symbol!r}") from None

    def resources_of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type.lower() == type_.lower()]

    def module(self, symbol: str) -> Module:
        try:
            return self.modules[symbol]
        except KeyError:
            raise AssertionError(f"{self.path.name}: no module symbol {symbol!r}") from None

    def decorators(self, param: str) -> dict[str, Any]:
        return {d["type"]: d.get("argument") for d in self.parameters[param].get("decorators", [])}

    def is_secure(self, param: str) -> bool:
        return "secure" in self.decorators(param)

    def module_template(self, module: Module) -> Template:
        return load_template((self.path.parent / module.path).resolve())

    def var(self, name: str) -> Any:
        """A variable's value, resolved as far as `resolve()` goes."""
        return self.resolve(BicepElement(name))

    def required_params(self) -> set[str]:
        return {n for n, p in self.parameters.items() if p.get("default") is None and not p.get("nullable")}

    def resolve(self, value: Any) -> Any:
        """Follow variables (and parameter defaults) until a value that is not a bare symbol."""
        seen: set[str] = set()
        while is_symbol(value) and value not in seen:
            seen.add(value)
            if value in self.variables:
                value = self.variables[value]["value"]
            elif value in self.parameters and self.parameters[value].get("default") is not None:
                value = self.parameters[value]["default"]
            else:
                break
        accessed = _property_access(value)
        if accessed is not None:
            base, prop = accessed
            base_value = self.resolve(base)
            if isinstance(base_value, dict) and prop in base_value:
                return self.resolve(base_value[prop])
        return value


def _unwrap(attrs: dict[str, Any]) -> tuple[dict[str, Any], Any, dict[str, Any] | None]:
    """A resource/module body may be `if (cond) {...}` or `[for ...: {...}]`: return body, condition, loop."""
    config = attrs["config"]
    condition = None
    loop = None
    if "loop_type" in config:
        loop = config["loop_type"]
        condition = config.get("condition")
        config = config["config"]
    if set(config) == {"condition", "config"}:
        condition = config["condition"]
        config = config["config"]
    return config, condition, loop


def _resource(name: str, attrs: dict[str, Any]) -> Resource:
    config, condition, loop = _unwrap(attrs)
    return Resource(
        symbol=name,
        type=attrs["type"],
        api_version=attrs["api_version"],
        existing=bool(attrs["existing"]),
        config=config,
        condition=condition,
        loop=loop,
    )


def _module(name: str, attrs: dict[str, Any]) -> Module:
    config, condition, _ = _unwrap(attrs)
    return Module(symbol=name, path=attrs["detail"]["path"], config=config, condition=condition)


def parse_text(text: str, path: Path) -> Template:
    try:
        doc = _parser().parse(text=text)
        tree = _parser().lark_parser.parse(text)
    except Exception as exc:  # lark raises several unrelated types; all mean "not valid Bicep" here
        raise BicepSyntaxError(f"{path}: {type(exc).__name__}: {exc}") from exc
    return Template(path=path, text=text, doc=doc, tree=tree)


def load_template(path: Path) -> Template:
    return parse_text(path.read_text(encoding="utf-8"), path)


@dataclass
class Deployment:
    """The entry template and every module it reaches, keyed by resolved path."""

    main: Template
    templates: dict[Path, Template] = field(default_factory=dict)

    def module_of(self, parent: Template, symbol: str) -> Template:
        return self.templates[(parent.path.parent / parent.module(symbol).path).resolve()]


def load_deployment(main_path: Path = MAIN_BICEP) -> Deployment:
    main = load_template(main_path.resolve())
    deployment = Deployment(main=main, templates={main.path: main})
    pending = [main]
    while pending:
        template = pending.pop()
        for module in template.modules.values():
            target = (template.path.parent / module.path).resolve()
            if target not in deployment.templates:
                deployment.templates[target] = load_template(target)
                pending.append(deployment.templates[target])
    return deployment


# ---------------------------------------------------------------------------------------------- expressions


def is_symbol(value: Any, name: str | None = None) -> bool:
    """True for an identifier (not a string literal), optionally a given one."""
    return isinstance(value, BicepElement) and (name is None or str(value) == name)


def _property_access(value: Any) -> tuple[Any, str] | None:
    """`a.b` (b a plain property name) as (a, 'b'); anything else None."""
    if isinstance(value, dict) and "operator" in value:
        op = value["operator"]
        if op["type"] == "property_accessor" and isinstance(op["operands"]["operand_2"], str):
            return op["operands"]["operand_1"], str(op["operands"]["operand_2"])
    return None


_BINARY = {
    "equals": "==",
    "not_equals": "!=",
    "greater_than": ">",
    "greater_than_or_equals": ">=",
    "less_than": "<",
    "less_than_or_equals": "<=",
    "and": "&&",
    "or": "||",
    "coalesce": "??",
    "add": "+",
    "substract": "-",
    "multiply": "*",
    "divide": "/",
    "modulo": "%",
    "equals_case_insens": "=~",
    "not_equals_case_insens": "!~",
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def render(value: Any) -> str:
    """Bicep-like text of a pycep expression, for readable assertions and messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if is_symbol(value):
        return str(value)
    if isinstance(value, str):
        return "'" + value + "'"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, dict) and "function" in value:
        fn = value["function"]
        args = [render(a) for a in fn.get("parameters", {}).values() if a is not None]
        return f"{_camel(fn['type'])}({', '.join(args)})"
    if isinstance(value, dict) and "operator" in value:
        op = value["operator"]
        kind, ops = op["type"], list(op["operands"].values())
        if kind == "property_accessor":
            return f"{render(ops[0])}.{render(ops[1])}"
        if kind == "nested_resource_accessor":
            return f"{render(ops[0])}::{render(ops[1])}"
        if kind == "index_accessor":
            return f"{render(ops[0])}[{render(ops[1])}]"
        if kind == "function_accessor":
            return f"{render(ops[0])}.{ops[1]}({', '.join(render(o) for o in ops[2:])})"
        if kind == "conditional":
            return f"{render(ops[0])} ? {render(ops[1])} : {render(ops[2])}"
        if kind == "not":
            return f"!{render(ops[0])}"
        if kind == "minus":
            return f"-{render(ops[0])}"
        if kind in _BINARY:
            return f"{render(ops[0])} {_BINARY[kind]} {render(ops[1])}"
        return f"{kind}({', '.join(render(o) for o in ops)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render(v)}" for k, v in value.items()) + "}"
    return repr(value)


def walk(value: Any) -> list[Any]:
    """Every node of an expression or body, depth first (the node itself first)."""
    nodes = [value]
    if isinstance(value, dict):
        for child in value.values():
            nodes.extend(walk(child))
    elif isinstance(value, list):
        for child in value:
            nodes.extend(walk(child))
    return nodes


def functions_called(value: Any) -> set[str]:
    return {_camel(n["function"]["type"]) for n in walk(value) if isinstance(n, dict) and "function" in n}


def symbols_used(value: Any) -> set[str]:
    """Head symbols of every property chain and bare identifier in an expression (approximate, for tests)."""
    found: set[str] = set()

    def visit(node: Any) -> None:
        if is_symbol(node):
            found.add(str(node))
        elif isinstance(node, dict) and "operator" in node:
            op = node["operator"]
            ops = list(op["operands"].values())
            if op["type"] in ("property_accessor", "nested_resource_accessor"):
                visit(ops[0])
            elif op["type"] == "function_accessor":
                visit(ops[0])
                for o in ops[2:]:
                    visit(o)
            else:
                for o in ops:
                    visit(o)
        elif isinstance(node, dict) and "function" in node:
            for a in node["function"].get("parameters", {}).values():
                visit(a)
        elif isinstance(node, dict):
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    visit(value)
    return found


# ------------------------------------------------------------------------------------------- domain views


@dataclass(frozen=True)
class RoleAssignment:
    symbol: str
    scope: str  # rendered scope expression (a resource symbol when well-formed)
    scope_type: str | None  # type of the scoped resource when the scope is a resource symbol of this file
    role_id: str | None  # GUID after resolving variables
    principal: str  # rendered principalId expression
    principal_type: Any

    @property
    def role_name(self) -> str:
        return ROLE_DEFINITIONS.get(self.role_id or "", f"unknown role {self.role_id}")


_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def role_assignments(template: Template) -> list[RoleAssignment]:
    found = []
    for res in template.resources_of_type("Microsoft.Authorization/roleAssignments"):
        scope = res.config.get("scope")
        scope_type = None
        if is_symbol(scope) and scope in template.resources:
            scope_type = template.resources[scope].type
        role_expr = res.get("properties.roleDefinitionId")
        role_id = None
        for node in walk(role_expr):
            if isinstance(node, dict) and "function" in node:
                args = [template.resolve(a) for a in node["function"].get("parameters", {}).values()]
                guids = [a for a in args if isinstance(a, str) and _GUID.match(a)]
                if guids:
                    role_id = guids[-1]
        found.append(
            RoleAssignment(
                symbol=res.symbol,
                scope=render(scope),
                scope_type=scope_type,
                role_id=role_id,
                principal=render(res.get("properties.principalId")),
                principal_type=res.get("properties.principalType"),
            )
        )
    return found


def env_vars(template: Template, value: Any) -> dict[str, dict[str, Any]]:
    """Name -> entry of every `{name: ..., value|secretRef: ...}` an `env:` expression can produce.

    Follows variables, `concat()`, conditionals and array literals, so optional entries count too.
    """
    found: dict[str, dict[str, Any]] = {}

    def visit(node: Any) -> None:
        node = template.resolve(node)
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict) and "name" in node and ("value" in node or "secretRef" in node):
            found[str(template.resolve(node["name"]))] = node
        elif isinstance(node, dict) and "function" in node:
            for arg in node["function"].get("parameters", {}).values():
                visit(arg)
        elif isinstance(node, dict) and "operator" in node:
            op = node["operator"]
            if op["type"] == "conditional":
                visit(op["operands"]["true_value"])
                visit(op["operands"]["false_value"])

    visit(value)
    return found


def containers(res: Resource) -> list[dict[str, Any]]:
    return res.get("properties.template.containers", []) or []


def loaded_files(template: Template) -> list[Path]:
    """Files pulled in with loadTextContent/loadJsonContent/... (paths relative to the template)."""
    paths = []
    for node in walk(template.doc):
        if isinstance(node, dict) and "function" in node and node["function"]["type"].startswith("load"):
            args = [a for a in node["function"].get("parameters", {}).values() if isinstance(a, str)]
            if args:
                paths.append((template.path.parent / args[0]).resolve())
    return paths
