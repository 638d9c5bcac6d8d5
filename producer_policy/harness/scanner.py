"""Lift policy expressions out of a rawxml policy document.

APIM's raw format is not well-formed XML: `@(...)` and `@{...}` may contain `"`, `<` and `&&` unescaped. The
scanner finds each expression that starts an attribute value or an element's text, skips C# literals and
comments to find its end, and replaces it with a placeholder so an XML parser can read the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from producer_policy.errors import PolicySyntaxError

PLACEHOLDER = "__cb_expr_{}__"


@dataclass(frozen=True, slots=True)
class Expression:
    index: int
    code: str
    """The C# between the delimiters."""
    block: bool
    """True for `@{ statements }`, False for `@( expression )`."""
    line: int
    """1-based line of the `@` in the source document."""
    source: str
    """Name of the document it came from (for compile errors)."""


def _skip_string(text: str, pos: int) -> int:
    """pos at the opening quote of a regular, verbatim or interpolated C# string; return the index after it."""
    verbatim = interpolated = False
    while text[pos] in "@$":
        verbatim |= text[pos] == "@"
        interpolated |= text[pos] == "$"
        pos += 1
    pos += 1  # the quote
    while pos < len(text):
        ch = text[pos]
        if verbatim and ch == '"':
            if text.startswith('""', pos):
                pos += 2
                continue
            return pos + 1
        if not verbatim and ch == "\\":
            pos += 2
            continue
        if ch == '"':
            return pos + 1
        if interpolated and ch == "{":
            if text.startswith("{{", pos):
                pos += 2
                continue
            pos = _skip_balanced(text, pos, "{", "}")
            continue
        if not verbatim and ch == "\n":
            raise PolicySyntaxError("newline in a C# string literal")
        pos += 1
    raise PolicySyntaxError("unterminated C# string literal")


def _skip_char(text: str, pos: int) -> int:
    pos += 1
    while pos < len(text):
        if text[pos] == "\\":
            pos += 2
            continue
        if text[pos] == "'":
            return pos + 1
        pos += 1
    raise PolicySyntaxError("unterminated C# character literal")


def _skip_balanced(text: str, pos: int, open_ch: str, close_ch: str) -> int:
    """pos at an opening delimiter; return the index after its matching close."""
    depth = 0
    while pos < len(text):
        ch = text[pos]
        if ch == '"' or (ch in "@$" and text[pos + 1 : pos + 3].lstrip("@$").startswith('"')):
            pos = _skip_string(text, pos)
            continue
        if ch == "'":
            pos = _skip_char(text, pos)
            continue
        if text.startswith("//", pos):
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
            continue
        if text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            if end < 0:
                raise PolicySyntaxError("unterminated C# comment")
            pos = end + 2
            continue
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
            if depth == 0:
                if ch != close_ch:
                    raise PolicySyntaxError(f"expected {close_ch!r}, found {ch!r}")
                return pos + 1
        pos += 1
    raise PolicySyntaxError(f"unterminated expression (missing {close_ch!r})")


def lift_expressions(text: str, source: str, start_index: int = 0) -> tuple[str, list[Expression]]:
    """Return the document with each expression replaced by a placeholder, and the expressions in order."""
    out: list[str] = []
    found: list[Expression] = []
    pos = 0
    while True:
        at = _next_expression(text, pos)
        if at < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:at])
        open_ch = text[at + 1]
        try:
            end = _skip_balanced(text, at + 1, open_ch, ")" if open_ch == "(" else "}")
        except PolicySyntaxError as exc:
            line = text.count("\n", 0, at) + 1
            raise PolicySyntaxError(f"{source}:{line}: {exc}") from None
        index = start_index + len(found)
        found.append(
            Expression(
                index=index,
                code=text[at + 2 : end - 1],
                block=open_ch == "{",
                line=text.count("\n", 0, at) + 1,
                source=source,
            )
        )
        out.append(PLACEHOLDER.format(index))
        pos = end
    return "".join(out), found


def _next_expression(text: str, pos: int) -> int:
    """Index of the next `@(` / `@{` that opens an attribute value or element text, skipping XML comments."""
    while True:
        candidates = [i for i in (text.find("@(", pos), text.find("@{", pos)) if i >= 0]
        comment = text.find("<!--", pos)
        if not candidates:
            return -1
        at = min(candidates)
        if 0 <= comment < at:
            end = text.find("-->", comment)
            if end < 0:
                raise PolicySyntaxError("unterminated XML comment")
            pos = end + 3
            continue
        before = text[:at].rstrip()
        if before.endswith(('"', ">", "'")):
            return at
        pos = at + 2
