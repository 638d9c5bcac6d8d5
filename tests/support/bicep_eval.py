"""Evaluate what the Bicep deploys, for running it here: a container's command, arguments, environment and probes.

`tests.support.bicep` parses the templates; this module computes values from them, as ARM would at deployment:
parameters (given or their defaults), variables, string interpolation, `concat`/`empty`/`string`/conditionals,
module parameters and outputs across files. What only exists once Azure has created a resource (an identity's
client id, a storage account's endpoint) is either given in `runtime` (`'storage.bicep:account.properties.
primaryEndpoints.blob'` -> Azurite's endpoint) or becomes a `Runtime` placeholder string, which a test can refuse
to see in a value it runs.

Only the expressions the templates use are supported; anything else raises `Unsupported`, so a template change the
evaluator cannot follow fails loudly instead of running something else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from tests.support.bicep import Deployment, Template, _parser, is_symbol, load_deployment, render


class Unsupported(AssertionError):
    """An expression this evaluator does not know how to compute."""


class Runtime(str):
    """A value Azure only knows after deploying (a placeholder, recognisable in assertions)."""

    __slots__ = ()


@dataclass(frozen=True)
class _ResourceRef:
    scope: _Scope
    symbol: str


@dataclass(frozen=True)
class _ModuleRef:
    scope: _Scope
    symbol: str


@dataclass(frozen=True)
class _Outputs:
    module: _ModuleRef


@dataclass
class _Scope:
    """One template evaluated with one set of parameter values."""

    evaluator: Evaluator
    template: Template
    params: dict[str, Any]
    _vars: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return self.template.path.name

    def symbol(self, name: str) -> Any:
        t = self.template
        if name in self.params:
            return self.params[name]
        if name in t.parameters:
            default = t.parameters[name].get("default")
            if default is None:
                raise Unsupported(f"{self.file}: parameter {name} has no value and no default")
            return self.eval(default)
        if name in t.variables:
            if name not in self._vars:
                self._vars[name] = self.eval(t.variables[name]["value"])
            return self._vars[name]
        if name in t.resources:
            return _ResourceRef(self, name)
        if name in t.modules:
            return _ModuleRef(self, name)
        raise Unsupported(f"{self.file}: unknown symbol {name}")

    # -------------------------------------------------------------------------------------------- expressions

    def eval(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if is_symbol(value):
            return self.symbol(str(value))
        if isinstance(value, str):
            return self._interpolate(value)
        if isinstance(value, list):
            return [self.eval(v) for v in value]
        if isinstance(value, dict) and "function" in value:
            return self._function(value["function"])
        if isinstance(value, dict) and "operator" in value:
            return self._operator(value["operator"])
        if isinstance(value, dict):
            return {str(self.eval(k) if is_symbol(k) else k).strip("'"): self.eval(v) for k, v in value.items()}
        raise Unsupported(f"{self.file}: cannot evaluate {render(value)}")

    def _interpolate(self, text: str) -> str:
        if "${" not in text:
            return text
        out, i = [], 0
        while (start := text.find("${", i)) != -1:
            out.append(text[i:start])
            depth, j, quoted = 1, start + 2, False
            while j < len(text) and depth:
                ch = text[j]
                if ch == "'":
                    quoted = not quoted
                elif not quoted and ch == "{":
                    depth += 1
                elif not quoted and ch == "}":
                    depth -= 1
                j += 1
            inner = text[start + 2 : j - 1]
            doc = _parser().parse(text=f"var interpolation = {inner}\n")
            out.append(_text(self.eval(doc["variables"]["interpolation"]["value"])))
            i = j
        out.append(text[i:])
        return "".join(out)

    def _function(self, fn: dict[str, Any]) -> Any:
        name = fn["type"]
        raw = [a for a in fn.get("parameters", {}).values() if a is not None]
        if name == "if":  # never reached: conditions are operators
            raise Unsupported("if()")
        args = [self.eval(a) for a in raw]
        if name == "string":
            return _text(args[0])
        if name == "empty":
            return not args[0]
        if name == "concat":
            if all(isinstance(a, list) for a in args):
                return [item for a in args for item in a]
            return "".join(_text(a) for a in args)
        if name == "json":
            import json

            return json.loads(args[0])
        if name in ("min", "max"):
            return (min if name == "min" else max)(args)
        if name == "union":
            merged: dict[str, Any] = {}
            for a in args:
                merged |= a
            return merged
        if name in ("to_lower", "toLower"):
            return _text(args[0]).lower()
        if name in ("unique_string", "uniqueString"):
            return hashlib.sha256("|".join(map(_text, args)).encode()).hexdigest()[:13]
        if name in ("subscription", "tenant", "resource_group", "resourceGroup", "guid", "subscription_resource_id"):
            return Runtime(f"<runtime:{name}()>")
        raise Unsupported(f"{self.file}: function {name}() is not supported by the evaluator")

    def _operator(self, op: dict[str, Any]) -> Any:
        kind, operands = op["type"], op["operands"]
        if kind == "property_accessor":
            return self._access(operands["operand_1"], operands["operand_2"])
        if kind == "conditional":
            branch = "true_value" if self.eval(operands["condition"]) else "false_value"
            return self.eval(operands[branch])
        values = [self.eval(v) for v in operands.values()]
        if kind == "not":
            return not values[0]
        if kind == "equals":
            return values[0] == values[1]
        if kind == "not_equals":
            return values[0] != values[1]
        if kind == "and":
            return all(values)
        if kind == "or":
            return any(values)
        if kind == "coalesce":
            return next((v for v in values if v is not None), None)
        if kind == "add":
            return values[0] + values[1]
        if kind == "index_accessor":
            return values[0][values[1]]
        raise Unsupported(f"{self.file}: operator {kind} is not supported by the evaluator")

    def _access(self, base_expr: Any, rest: Any) -> Any:
        """`a.b.c`: pycep nests to the right (`a.(b.c)`); walk the chain of plain names."""
        names = _chain(rest)
        base = self.eval(base_expr)
        for index, name in enumerate(names):
            if isinstance(base, _ModuleRef) and name == "outputs":
                base = _Outputs(base)
            elif isinstance(base, _Outputs):
                base = self.evaluator.output(base.module, name)
            elif isinstance(base, _ResourceRef):
                return self.evaluator.resource_property(base, names[index:])
            elif isinstance(base, dict) and name in base:
                base = base[name]
            elif isinstance(base, Runtime):
                base = Runtime(f"{base}.{name}")
            else:
                raise Unsupported(f"{self.file}: cannot read .{name} of {render(base_expr)}")
        return base


def _chain(expr: Any) -> list[str]:
    if is_symbol(expr) or isinstance(expr, str):
        return [str(expr)]
    if isinstance(expr, dict) and "operator" in expr and expr["operator"]["type"] == "property_accessor":
        ops = expr["operator"]["operands"]
        return _chain(ops["operand_1"]) + _chain(ops["operand_2"])
    raise Unsupported(f"property chain {render(expr)}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise Unsupported(f"cannot turn {value!r} into a string")


@dataclass(frozen=True)
class Container:
    """A container of an app or job as Azure would run it."""

    command: list[str]
    env: dict[str, str]
    """Plain values; a `secretRef` entry maps to `Runtime('<secret:NAME>')`."""
    probes: list[dict[str, Any]]

    @property
    def argv(self) -> list[str]:
        return list(self.command)


class Evaluator:
    def __init__(
        self, params: dict[str, Any], runtime: dict[str, Any] | None = None, deployment: Deployment | None = None
    ) -> None:
        self.deployment = deployment or load_deployment()
        self.runtime = runtime or {}
        self.main = _Scope(self, self.deployment.main, params)
        self._scopes: dict[tuple[str, str], _Scope] = {}

    def module_scope(self, module: _ModuleRef) -> _Scope:
        key = (module.scope.file, module.symbol)
        if key not in self._scopes:
            parent = module.scope
            callee = self.deployment.module_of(parent.template, module.symbol)
            given = parent.template.module(module.symbol).params
            self._scopes[key] = _Scope(self, callee, {name: parent.eval(v) for name, v in given.items()})
        return self._scopes[key]

    def module(self, symbol: str) -> _Scope:
        return self.module_scope(_ModuleRef(self.main, symbol))

    def output(self, module: _ModuleRef, name: str) -> Any:
        scope = self.module_scope(module)
        if name not in scope.template.outputs:
            raise Unsupported(f"{scope.file} has no output {name}")
        return scope.eval(scope.template.outputs[name]["value"])

    def resource_property(self, ref: _ResourceRef, path: list[str]) -> Any:
        key = f"{ref.scope.file}:{ref.symbol}.{'.'.join(path)}"
        if key in self.runtime:
            return self.runtime[key]
        if path == ["name"]:
            return ref.scope.eval(ref.scope.template.resource(ref.symbol).config["name"])
        return Runtime(f"<runtime:{key}>")

    def resource_names(self, module: str, type_: str) -> list[str]:
        """Names of the resources of a type a module creates (e.g. its blob containers)."""
        scope = self.module(module)
        return [
            _text(scope.eval(r.config["name"]))
            for r in scope.template.resources_of_type(type_)
            if not r.existing and r.condition is None
        ]

    def main_output(self, name: str) -> Any:
        return self.main.eval(self.deployment.main.outputs[name]["value"])

    def container(self, module: str, resource: str, index: int = 0) -> Container:
        scope = self.module(module)
        body = scope.template.resource(resource).get("properties.template.containers")[index]
        env: dict[str, str] = {}
        for entry in scope.eval(body.get("env", [])):
            if "secretRef" in entry:
                env[entry["name"]] = Runtime(f"<secret:{entry['secretRef']}>")
            else:
                env[entry["name"]] = _text(entry["value"])
        command = [_text(x) for x in scope.eval(body.get("command", []) + body.get("args", []))]
        return Container(command, env, scope.eval(body.get("probes", [])))
