"""What `bicep build` would reject and pycep-parser lets through: symbols that resolve to nothing, functions
that do not exist, modules called with parameters they do not declare (or without ones they require), and
`module.outputs.X` where the module has no output X.

References are found on the Lark tree, where an identifier (`STRING` token) and a string literal
(`QUOTED_INTERPOLATION`) differ; `${...}` inside string literals is parsed and checked too. The grammar has no
operator precedence (`a.b == c` parses as `a.(b == c)`), so in the right operand of a `.` only the leftmost
leaf is a property name and everything else is still an expression.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark import Token, Tree
from pycep.rules.functions import FUNCTIONS

from tests.support.bicep import Deployment, Template, _parser, is_symbol

# Functions pycep-parser does not list but Bicep has (lambdas, object and CIDR helpers, ...).
EXTRA_FUNCTIONS = {
    "map", "reduce", "sort", "toObject", "items", "objectKeys", "shallowMerge", "mapValues", "groupBy",
    "coalesce", "if", "getSecret", "parseCidr", "cidrSubnet", "cidrHost", "tryGet", "tryIndexFromEnd",
    "indexFromEnd", "buildUri", "parseUri", "loadResourceId", "readEnvironmentVariable", "deployer",
    "externalInput", "managementGroupResourceId", "list", "dateTimeAdd",
}  # fmt: skip
KNOWN_FUNCTIONS = {name.split(".")[-1] for name in FUNCTIONS} | EXTRA_FUNCTIONS


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line or '?'}: {self.message}"


def _declared(tree: Tree) -> dict[str, str]:
    """Top-level symbol -> kind (param, var, resource, module, type, func, import)."""
    names: dict[str, str] = {}
    for element in tree.children:
        if not isinstance(element, Tree):
            continue
        kind = element.data
        tokens = [c for c in element.children if isinstance(c, Token) and c.type == "STRING"]
        if kind in ("param", "var", "resource", "module", "custom_type", "output") and tokens:
            if kind != "output":
                names[str(tokens[0])] = kind
        elif kind == "custom_func" and tokens:
            names[str(tokens[0])] = "func"
        elif kind == "custom_import":
            for alias in element.find_data("import_alias"):
                alias_tokens = [c for c in alias.children if isinstance(c, Token) and c.type == "STRING"]
                if alias_tokens:
                    names[str(alias_tokens[-1])] = "import"
    return names


def _interpolations(literal: str) -> list[str]:
    """The expressions inside `${...}` of a quoted Bicep string (braces and nested quotes balanced)."""
    body = literal[1:-1]
    found = []
    i = 0
    while (start := body.find("${", i)) != -1:
        depth, j, in_quote = 1, start + 2, False
        while j < len(body) and depth:
            ch = body[j]
            if ch == "'" and body[j - 1] != "\\":
                in_quote = not in_quote
            elif not in_quote and ch == "{":
                depth += 1
            elif not in_quote and ch == "}":
                depth -= 1
            j += 1
        found.append(body[start + 2 : j - 1])
        i = j
    return found


class _Checker:
    def __init__(self, template: Template) -> None:
        self.template = template
        self.declared = _declared(template.tree)
        self.problems: list[Problem] = []
        self.module_output_refs: list[tuple[str, str, int | None]] = []

    def problem(self, node: Tree | Token, message: str) -> None:
        line = node.line if isinstance(node, Token) else getattr(node.meta, "line", None)
        self.problems.append(Problem(self.template.path.name, line, message))

    def ref(self, token: Token, bound: frozenset[str]) -> None:
        name = str(token)
        if name in bound or name in self.declared or name in ("az", "sys"):
            return
        self.problem(token, f"unknown symbol {name!r}")

    def leaf_string(self, node: Tree | Token) -> Token | None:
        if isinstance(node, Tree) and node.data == "string" and isinstance(node.children[0], Token):
            return node.children[0]
        return None

    def expr(self, node: Tree | Token | None, bound: frozenset[str], after_dot: bool = False) -> None:
        if node is None or isinstance(node, Token):
            return
        kind = node.data
        if kind == "string":
            token = node.children[0]
            if token.type == "STRING":
                if not after_dot:
                    self.ref(token, bound)
            elif token.type == "QUOTED_INTERPOLATION":
                for inner in _interpolations(str(token)):
                    self.interpolation(inner, token, bound)
        elif kind == "operator":
            self.expr(node.children[0], bound, after_dot)
        elif kind in ("property_accessor", "nested_resource_accessor"):
            left, right = node.children
            self.module_output(left, right, node)
            self.expr(left, bound, after_dot)
            self.expr(right, bound, after_dot=True)
        elif kind == "function_accessor":
            self.expr(node.children[0], bound, after_dot)
            for child in node.children[2:]:
                self.expr(child, bound)
        elif kind == "function":
            name = str(node.children[0]).removesuffix("(").split(".")[-1]
            if name not in KNOWN_FUNCTIONS and self.declared.get(name) != "func":
                self.problem(node.children[0], f"unknown function {name!r}")
            for child in node.children[1:]:
                self.expr(child, bound)
        elif kind in ("not_op", "minus"):
            self.expr(node.children[0], bound)
        elif kind == "loop":
            self.loop(node, bound)
        elif kind == "lambda_expression":
            *params, body = node.children
            names = {str(p.children[0]) for p in params if self.leaf_string(p) is not None}
            self.expr(body, bound | names)
        elif kind == "object":
            for child in node.children:
                if isinstance(child, Tree) and child.data == "pair":
                    self.expr(child.children[1], bound)
                elif isinstance(child, Tree):
                    self.expr(child, bound)
        elif kind == "deploy_condition":
            for child in node.children:
                self.expr(child, bound)
        else:
            # arrays, comparisons, logical and numeric operators, conditionals: the first operand inherits the
            # "after a dot" position (no precedence in the grammar), the others are plain expressions.
            for index, child in enumerate(node.children):
                self.expr(child, bound, after_dot and index == 0)

    def interpolation(self, text: str, token: Token, bound: frozenset[str]) -> None:
        try:
            tree = _parser().lark_parser.parse(f"var interpolation = {text}\n")
        except Exception as exc:
            self.problem(token, f"cannot parse interpolation ${{{text}}}: {type(exc).__name__}")
            return
        var = tree.children[0]
        before = len(self.problems)
        self.expr(var.children[-1], bound)
        for i in range(before, len(self.problems)):
            old = self.problems[i]
            self.problems[i] = Problem(old.file, token.line, f"{old.message} (in '${{{text}}}')")

    def loop(self, node: Tree, bound: frozenset[str]) -> None:
        head, *rest = node.children
        names = [str(c) for c in head.children if isinstance(c, Token)]
        iterable = [c for c in head.children if isinstance(c, Tree)]
        for child in iterable:
            self.expr(child, bound)
        inner = bound | set(names)
        for child in rest:
            self.expr(child, inner)

    def module_output(self, left: Tree | Token, right: Tree | Token, node: Tree) -> None:
        """Record `mod.outputs.X` for the cross-file check."""
        base = self.leaf_string(left)
        if base is None or self.declared.get(str(base)) != "module":
            return
        if not (isinstance(right, Tree) and right.data == "operator"):
            return
        inner = right.children[0]
        if inner.data != "property_accessor":
            return
        head, tail = inner.children
        head_token = self.leaf_string(head)
        if head_token is None or str(head_token) != "outputs":
            return
        while isinstance(tail, Tree) and tail.data != "string":
            tail = tail.children[0]
        if isinstance(tail, Tree) and tail.data == "string":
            self.module_output_refs.append((str(base), str(tail.children[0]), node.meta.line))

    def run(self) -> None:
        for element in self.template.tree.children:
            if not isinstance(element, Tree):
                continue
            for child in element.children:
                if isinstance(child, Tree) and child.data == "decorators":
                    for deco in child.children:
                        for arg in deco.children[1:]:
                            self.expr(arg, frozenset())
                elif isinstance(child, Tree) and child.data not in (
                    "data_type",
                    "type_api_pair",
                    "module_path",
                ):
                    self.expr(child, frozenset())


def reference_problems(template: Template) -> list[Problem]:
    checker = _Checker(template)
    checker.run()
    return checker.problems


def module_output_refs(template: Template) -> list[tuple[str, str, int | None]]:
    checker = _Checker(template)
    checker.run()
    return checker.module_output_refs


def module_contract_problems(deployment: Deployment) -> list[Problem]:
    """Every module call passes only declared parameters, all required ones, and reads only real outputs."""
    problems: list[Problem] = []
    for template in deployment.templates.values():
        for module in template.modules.values():
            callee = deployment.module_of(template, module.symbol)
            declared = callee.parameters
            given = set(module.params)
            for name in sorted(given - set(declared)):
                problems.append(Problem(template.path.name, None, f"module {module.symbol}: unknown param {name!r}"))
            required = callee.required_params()
            for name in sorted(required - given):
                problems.append(
                    Problem(template.path.name, None, f"module {module.symbol}: missing required param {name!r}")
                )
            if not is_symbol(module.config.get("name")) and not isinstance(module.config.get("name"), str):
                problems.append(Problem(template.path.name, None, f"module {module.symbol}: no deployment name"))
        for symbol, output, line in module_output_refs(template):
            callee = deployment.module_of(template, symbol)
            if output not in callee.outputs:
                problems.append(
                    Problem(
                        template.path.name, line, f"{symbol}.outputs.{output}: {callee.path.name} has no such output"
                    )
                )
    return problems
