"""The nodes of a sqlglot tree as a list, in the order of sqlglot's breadth-first `walk()`.

sqlglot's `walk()` and `find_all()` are generators over generators (one per node for its children), which
is most of their cost; the compiler walks every CTE of a 1,000-metric statement several times. The same
nodes, in the same order, gathered in one loop, take about a third of the time.
"""

from __future__ import annotations

from typing import TypeVar

from sqlglot import exp

E = TypeVar("E", bound=exp.Expr)


def walk(root: exp.Expr) -> list[exp.Expr]:
    """`root` and every node under it, breadth first, as `list(root.walk())` gives them."""
    found = [root]
    append, expr = found.append, exp.Expr
    for node in found:  # a list's iterator goes on to what is appended while it runs
        for value in node.args.values():
            if isinstance(value, expr):
                append(value)
            elif type(value) is list:
                for item in value:
                    if isinstance(item, expr):
                        append(item)
    return found


def quoted(part: object) -> bool:
    """Whether a name part of a node (a column's name or table, an alias) is a quoted identifier; a part kept as
    text is written as it is, unquoted (`render.column`)."""
    return isinstance(part, exp.Identifier) and bool(part.args.get("quoted"))


def find_all(root: exp.Expr, *types: type[E]) -> list[E]:
    """The nodes of `walk(root)` that are of one of `types`, in its order, as `list(root.find_all(*types))`."""
    return [node for node in walk(root) if isinstance(node, types)]  # type: ignore[misc]
