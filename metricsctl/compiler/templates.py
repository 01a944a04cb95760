"""MetricFlow's `{{ Dimension('x') }}` templates, read as data: no template engine ever runs them.

A filter or group-by item comes from YAML, a BI tool, a bot or a CI parameter, so it is untrusted text.
Each `{{ ... }}` block must be one call of a known function (`Dimension`, `TimeDimension`, `Entity`,
`Metric`), optionally followed by the methods MetricFlow allows (`.grain('month')`, `.date_part('year')`,
`.descending(True)`), with literal arguments only. The block is parsed with Python's `ast` and walked by
hand: names, attributes, subscripts, operators and anything else are refused, so nothing in the text can
reach an object it was not given. `{% %}` statements and `{# #}` comments are refused too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

from metricsctl.errors import QueryError

#: A template longer than this is refused: filters are one boolean expression, not a program.
MAX_TEMPLATE_CHARS = 10_000
#: At most this many `{{ }}` blocks in one template.
MAX_CALLS = 200
#: Parentheses nested deeper than this are refused before any parser recurses into them.
MAX_NESTING = 32

_BLOCK = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_LITERAL_TYPES = (str, int, float, bool, type(None))
#: The methods a call's result may have called on it, and nothing else.
ALLOWED_METHODS = frozenset({"grain", "date_part", "descending"})

HINT = ("write items as {{ Dimension('entity__name') }}, {{ TimeDimension('metric_time', 'month') }}, "
        "{{ Entity('name') }} or {{ Metric('name', group_by=['entity']) }}")


class TemplateError(QueryError):
    """A template that is not a plain use of the item functions."""


def quote(text: str, limit: int = 100) -> str:
    """`text` quoted for a message, cut to `limit` characters so a huge input cannot flood the terminal."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def check_nesting(text: str, what: str) -> None:
    """Refuse text whose parentheses nest deeper than MAX_NESTING (parsers recurse per level)."""
    depth = deepest = 0
    for char in text:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    if deepest > MAX_NESTING:
        raise TemplateError(f"{what} nests parentheses {deepest} deep; at most {MAX_NESTING} are allowed")


def _literal(node: ast.expr, template: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, _LITERAL_TYPES):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(element, template) for element in node.elts]
    raise TemplateError(f"{quote(template)}: arguments must be literal strings, numbers, booleans or lists of "
                        f"them, not `{ast.unparse(node)[:60]}`; {HINT}")


def _evaluate(node: ast.expr, functions: Mapping[str, Callable[..., Any]], template: str) -> Any:
    if not isinstance(node, ast.Call):
        raise TemplateError(f"{quote(template)}: `{ast.unparse(node)[:60]}` is not a call of "
                            f"{', '.join(sorted(functions))}; {HINT}")
    args = [_literal(a, template) for a in node.args]
    if any(k.arg is None for k in node.keywords):
        raise TemplateError(f"{quote(template)}: `**` arguments are not allowed; {HINT}")
    kwargs = {str(k.arg): _literal(k.value, template) for k in node.keywords}
    func = node.func
    if isinstance(func, ast.Name):
        if func.id not in functions:
            raise TemplateError(f"{quote(template)}: unknown function `{func.id}`; {HINT}")
        target: Any = functions[func.id]
    elif isinstance(func, ast.Attribute) and func.attr in ALLOWED_METHODS:
        receiver = _evaluate(func.value, functions, template)
        target = getattr(receiver, func.attr, None)
        if target is None or not callable(target):
            raise TemplateError(f"{quote(template)}: `.{func.attr}()` does not apply here; {HINT}")
    else:
        name = func.attr if isinstance(func, ast.Attribute) else ast.unparse(func)[:60]
        raise TemplateError(f"{quote(template)}: `{name}` is not allowed; only "
                            f"{', '.join(sorted(ALLOWED_METHODS))} may follow a call; {HINT}")
    try:
        return target(*args, **kwargs)
    except TypeError as exc:
        raise TemplateError(f"{quote(template)}: {exc}; {HINT}") from None
    except ValueError as exc:
        raise TemplateError(f"{quote(template)}: {exc}") from None


def evaluate_call(text: str, functions: Mapping[str, Callable[..., Any]], template: str | None = None) -> Any:
    """The value of one `Dimension(...)`-style call expression (the inside of a `{{ }}` block)."""
    shown = template if template is not None else text
    check_nesting(text, quote(shown))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise TemplateError(f"{quote(shown)}: `{text.strip()[:80]}` is not a call; {HINT}") from None
    return _evaluate(tree.body, functions, shown)


def render(template: str, functions: Mapping[str, Callable[..., Any]]) -> str:
    """Replace each `{{ call }}` block by the text of its value; everything else is kept as written."""
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"a template of {len(template):,} characters is longer than the "
                            f"{MAX_TEMPLATE_CHARS:,} allowed")
    if "{%" in template or "{#" in template:
        raise TemplateError(f"{quote(template)}: template statements and comments ({{% %}}, {{# #}}) are not "
                            f"allowed; {HINT}")
    blocks = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal blocks
        blocks += 1
        if blocks > MAX_CALLS:
            raise TemplateError(f"{quote(template)}: more than {MAX_CALLS} items in one template")
        return str(evaluate_call(match.group(1), functions, template))

    rendered = _BLOCK.sub(replace, template)
    if "{{" in rendered or "}}" in rendered:
        raise TemplateError(f"{quote(template)}: an unclosed or stray `{{{{` / `}}}}`; {HINT}")
    return rendered
