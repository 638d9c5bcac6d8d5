"""Generate the C# source of a policy's expressions: one static method per expression."""

from __future__ import annotations

from producer_policy.harness.scanner import Expression

USINGS = (
    "System",
    "System.Collections.Generic",
    "System.Linq",
    "System.Text",
    "System.Text.RegularExpressions",
    "System.Security.Cryptography",
    "System.Xml.Linq",
    "Newtonsoft.Json",
    "Newtonsoft.Json.Linq",
    "Apim.Fake",
)


def _method(expr: Expression) -> str:
    head = f"        public static object E{expr.index}(IExpressionContext context)\n"
    line = f'#line {expr.line} "{expr.source}"\n'
    if expr.block:
        return f"{head}{line}        {{{expr.code}}}\n#line default\n"
    return f"{head}        {{\n{line}            return ({expr.code});\n#line default\n        }}\n"


def generate_source(expressions: list[Expression]) -> str:
    usings = "".join(f"using {name};\n" for name in USINGS)
    table = ", ".join(f"E{e.index}" for e in expressions)
    methods = "\n".join(_method(e) for e in expressions)
    return (
        f"{usings}\nnamespace Apim.Compiled\n{{\n    public static class CompiledPolicy\n    {{\n"
        f"        public static readonly Func<IExpressionContext, object>[] Expressions =\n"
        f"            new Func<IExpressionContext, object>[] {{ {table} }};\n\n{methods}    }}\n}}\n"
    )
