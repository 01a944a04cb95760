"""Why a number moved, exactly: Shapley attribution over a formula, and slices of a dimension.

Everything here is plain arithmetic on values already fetched; nothing touches a warehouse. Values
are carried as `fractions.Fraction` (a float from the warehouse converts to a Fraction exactly), so
the parts of a change add up to the change with no rounding at all; floats appear only at output.

**Along a formula (Shapley).** A formula f of inputs x_1..x_n moves from f(base) to f(new). Input i
gets

    phi_i = sum over subsets S of the other inputs of |S|! (n-|S|-1)! / n! * (f(S + i) - f(S))

where f(S) evaluates the formula with the inputs in S at their new value and all others at their
base value. The phi_i sum to f(new) - f(base) for any formula (efficiency), an input that did not move
gets 0, and inputs that play symmetric roles get equal shares. A sum gives each input its own change;
a product a*b gives a: (a1-a0)(b0+b1)/2; a ratio a/b gives a: (a1-a0)/2 * (1/b0 + 1/b1). The formula
is a derived metric's SQL expression, evaluated in Python (+ - * / unary minus, parentheses,
COALESCE, NULLIF, CAST, ABS, GREATEST, LEAST, POWER, SQRT, LN, EXP, ROUND, CASE/IF with comparisons);
a division by zero is NULL, and a NULL anywhere makes the attribution undefined (reported, not
guessed). All 2^n subsets are evaluated: n is limited to 16.

**Nested formulas.** An input that is itself a formula passes its contribution down: its inputs share
it in proportion to their own Shapley values for the input's own change, so the contributions of an
input's children add up to the input's contribution (and the leaves to the total). When the input's own
change is zero, its children keep their own Shapley values (which then add up to zero).

**Along a dimension.** For an additive metric (a sum or count; a linear combination of such) each
slice contributes its own change, N1_k - N0_k; a slice missing in a period counts as 0. For a ratio
R = N/D of additive parts, with shares s_k = D_k / D and rates r_k = N_k / D_k (so R = sum s_k r_k):

    mix_k  = (s1_k - s0_k) * (rbar_k - Rbar)      rbar_k = (r0_k + r1_k)/2,  Rbar = (R0 + R1)/2
    rate_k = sbar_k * (r1_k - r0_k)                sbar_k = (s0_k + s1_k)/2

Summed over slices, mix + rate = R1 - R0 exactly: (s1-s0) rbar + sbar (r1-r0) = s1 r1 - s0 r0, and the
Rbar term adds up to zero because the shares of each period add up to 1. Centering on Rbar makes a
slice's mix effect mean something on its own: gaining share raises the ratio only if the slice's rate
is above the average. A slice with no denominator in one period takes the other period's rate, so its
arrival or departure is pure mix; numerator in a slice with no denominator at all (N_k / D, which has
no rate) is counted as rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import sqlglot
from sqlglot import exp

from metricsctl.errors import MetricsctlError, QueryError

Number = Fraction | float
Value = Number | None
MAX_INPUTS = 16


class UndefinedAttribution(MetricsctlError):
    """The change cannot be attributed: a value is missing (NULL) or a division by zero occurs."""


def number(value: Any) -> Value:
    """A warehouse value as an exact number; NULL, NaN and infinities become None (undefined)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise QueryError(f"expected a number, got the boolean {value}")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Decimal):
        return Fraction(value) if value.is_finite() else None
    if isinstance(value, float):
        return Fraction(value) if math.isfinite(value) else None
    raise QueryError(f"expected a number, got {value!r}")


def as_float(value: Value) -> float | None:
    return None if value is None else float(value)


# --- formulas ----------------------------------------------------------------------------------
def parse_formula(text: str, dialect: str = "duckdb") -> exp.Expr:
    """One SQL expression (a derived metric's `expr`), refusing statements and subqueries."""
    try:
        parsed = sqlglot.parse(text, read=dialect)
    except sqlglot.errors.ParseError as exc:
        raise QueryError(f"formula {text!r} is not valid SQL: {exc.errors[0]['description']}") from None
    if len(parsed) != 1 or parsed[0] is None or isinstance(parsed[0], (exp.Query, exp.Command, exp.DDL, exp.DML)):
        raise QueryError(f"formula {text!r} must be exactly one expression")
    return parsed[0]


def formula_inputs(expression: exp.Expr) -> list[str]:
    """The input names a formula reads, in order of first appearance."""
    return list(dict.fromkeys(c.name for c in expression.find_all(exp.Column) if not c.table))


def _binary(node: exp.Binary, values: Mapping[str, Value]) -> Value:
    left, right = evaluate(node.this, values), evaluate(node.expression, values)
    if left is None or right is None:
        return None
    if isinstance(node, exp.Add):
        return left + right
    if isinstance(node, exp.Sub):
        return left - right
    if isinstance(node, exp.Mul):
        return left * right
    if isinstance(node, exp.Div):
        return None if right == 0 else left / right
    if isinstance(node, exp.Mod):
        return None if right == 0 else left % right
    if isinstance(node, exp.Pow):
        if isinstance(right, Fraction) and right.denominator == 1 and isinstance(left, Fraction):
            if left == 0 and right < 0:
                return None
            return left ** int(right)
        try:
            result = float(left) ** float(right)
        except (OverflowError, ZeroDivisionError):
            return None
        return result if isinstance(result, float) and math.isfinite(result) else None
    raise QueryError(f"cannot evaluate the operator {node.key!r} in a formula")


_COMPARE: dict[type[exp.Expr], Callable[[Any, Any], bool]] = {
    exp.EQ: lambda a, b: a == b, exp.NEQ: lambda a, b: a != b, exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b, exp.LT: lambda a, b: a < b, exp.LTE: lambda a, b: a <= b}


def _condition(node: exp.Expr, values: Mapping[str, Value]) -> bool | None:
    """SQL three-valued logic: None is UNKNOWN."""
    if isinstance(node, exp.Paren):
        return _condition(node.this, values)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    for kind, compare in _COMPARE.items():
        if isinstance(node, kind):
            left, right = evaluate(node.this, values), evaluate(node.expression, values)
            return None if left is None or right is None else bool(compare(left, right))
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        return evaluate(node.this, values) is None
    if isinstance(node, exp.Not):
        inner = _condition(node.this, values)
        return None if inner is None else not inner
    if isinstance(node, (exp.And, exp.Or)):
        left, right = _condition(node.this, values), _condition(node.expression, values)
        if isinstance(node, exp.And):
            return False if left is False or right is False else (None if None in (left, right) else True)
        return True if left is True or right is True else (None if None in (left, right) else False)
    raise QueryError(f"cannot evaluate the condition {node.sql()!r} in a formula")


def evaluate(node: exp.Expr, values: Mapping[str, Value]) -> Value:
    """The formula's value for the given inputs, with SQL's NULL semantics (division by zero: NULL)."""
    if isinstance(node, exp.Paren):
        return evaluate(node.this, values)
    if isinstance(node, exp.Literal):
        if node.is_string:
            raise QueryError(f"a formula cannot use the string {node.sql()!r}")
        return Fraction(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Column):
        if node.name not in values:
            raise QueryError(f"the formula reads '{node.name}', which is not one of its inputs "
                             f"({', '.join(sorted(values))})")
        return values[node.name]
    if isinstance(node, exp.Neg):
        value = evaluate(node.this, values)
        return None if value is None else -value
    if isinstance(node, exp.Binary) and not isinstance(node, (exp.Connector, *_COMPARE)):
        return _binary(node, values)
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return evaluate(node.this, values)
    if isinstance(node, exp.Coalesce):
        for part in [node.this, *node.expressions]:
            value = evaluate(part, values)
            if value is not None:
                return value
        return None
    if isinstance(node, exp.Nullif):
        value, other = evaluate(node.this, values), evaluate(node.expression, values)
        return None if value is not None and other is not None and value == other else value
    if isinstance(node, exp.Abs):
        value = evaluate(node.this, values)
        if value is None:
            return None
        return abs(value) if isinstance(value, Fraction) else abs(float(value))
    if isinstance(node, (exp.Greatest, exp.Least)):
        found = [v for v in (evaluate(p, values) for p in [node.this, *node.expressions]) if v is not None]
        if not found:
            return None
        return max(found, key=float) if isinstance(node, exp.Greatest) else min(found, key=float)
    if isinstance(node, (exp.Sqrt, exp.Ln, exp.Exp)):
        value = evaluate(node.this, values)
        if value is None:
            return None
        function: Callable[[float], float] = (
            math.sqrt if isinstance(node, exp.Sqrt) else math.log if isinstance(node, exp.Ln) else math.exp)
        try:
            return function(float(value))
        except (ValueError, OverflowError):
            return None
    if isinstance(node, exp.Round):
        value = evaluate(node.this, values)
        places = evaluate(node.args["decimals"], values) if node.args.get("decimals") else Fraction(0)
        if value is None or places is None:
            return None
        return Fraction(round(Fraction(value), int(places)))
    if isinstance(node, exp.Case):
        for branch in node.args.get("ifs") or []:
            if _condition(branch.this, values):
                return evaluate(branch.args["true"], values)
        default = node.args.get("default")
        return evaluate(default, values) if default is not None else None
    if isinstance(node, exp.If):
        chosen = node.args["true"] if _condition(node.this, values) else node.args.get("false")
        return evaluate(chosen, values) if chosen is not None else None
    raise QueryError(f"cannot attribute through {node.sql()!r}: metricsctl evaluates arithmetic, COALESCE, "
                     "NULLIF, CAST, ABS, GREATEST, LEAST, POWER, SQRT, LN, EXP, ROUND and CASE in formulas")


def _as_expression(formula: exp.Expr | str) -> exp.Expr:
    return parse_formula(formula) if isinstance(formula, str) else formula


# --- Shapley -----------------------------------------------------------------------------------
def shapley(formula: exp.Expr | str, base: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Number]:
    """Each input's exact Shapley share of f(new) - f(base); raises UndefinedAttribution on NULLs."""
    expression = _as_expression(formula)
    players = list(base)
    if set(players) != set(new):
        raise QueryError(f"base and new values name different inputs: {sorted(base)} vs {sorted(new)}")
    if len(players) > MAX_INPUTS:
        raise QueryError(f"a formula with {len(players)} inputs is too large to attribute exactly "
                         f"(at most {MAX_INPUTS})")
    base_values = {k: number(v) for k, v in base.items()}
    new_values = {k: number(v) for k, v in new.items()}
    missing = [k for k in players if base_values[k] is None or new_values[k] is None]
    if missing:
        raise UndefinedAttribution(f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no value "
                                   "in one of the periods")
    n = len(players)
    results: list[Number] = []
    for mask in range(1 << n):
        point = {p: (new_values[p] if mask >> i & 1 else base_values[p]) for i, p in enumerate(players)}
        value = evaluate(expression, point)
        if value is None:
            mixed = ", ".join(p for i, p in enumerate(players) if mask >> i & 1) or "none"
            raise UndefinedAttribution(f"the formula {expression.sql()} is undefined (NULL or a division by "
                                       f"zero) with these inputs at their new value: {mixed}")
        results.append(value)
    weights = [Fraction(math.factorial(s) * math.factorial(n - s - 1), math.factorial(n)) for s in range(n)]
    shares: dict[str, Number] = {}
    for i, player in enumerate(players):
        bit = 1 << i
        total: Number = Fraction(0)
        for mask in range(1 << n):
            if not mask & bit:
                total += weights[bin(mask).count("1")] * (results[mask | bit] - results[mask])
        shares[player] = total
    return shares


# --- nested formulas ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FormulaNode:
    """A value in two periods; with a formula, computed from its children (named as the formula names them)."""

    name: str
    base: Value
    new: Value
    formula: exp.Expr | None = None
    children: tuple[FormulaNode, ...] = ()
    metric: str | None = None  # what the name stands for, when it is an alias

    @classmethod
    def leaf(cls, name: str, base: Any, new: Any, metric: str | None = None) -> FormulaNode:
        return cls(name, number(base), number(new), metric=metric)

    @classmethod
    def of(cls, name: str, formula: exp.Expr | str, children: Sequence[FormulaNode],
           metric: str | None = None) -> FormulaNode:
        """A node whose two values are its formula evaluated over its children."""
        expression = _as_expression(formula)
        base = evaluate(expression, {c.name: c.base for c in children})
        new = evaluate(expression, {c.name: c.new for c in children})
        return cls(name, base, new, expression, tuple(children), metric)


@dataclass(frozen=True)
class Attribution:
    """A node's own change and its share of the root's change; children's shares add up to it."""

    name: str
    base: Value
    new: Value
    contribution: Value
    children: tuple[Attribution, ...] = ()
    note: str | None = None
    metric: str | None = None

    @property
    def change(self) -> Value:
        return None if self.base is None or self.new is None else self.new - self.base

    def leaves(self) -> list[Attribution]:
        if not self.children:
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]


def attribute(root: FormulaNode) -> Attribution:
    """Split the root's change (new - base) among its inputs, recursively, exactly."""
    base, new = number(root.base), number(root.new)
    change = None if base is None or new is None else new - base
    return _attribute(root, change)


def _attribute(node: FormulaNode, contribution: Value) -> Attribution:
    base, new = number(node.base), number(node.new)
    if not node.children or node.formula is None:
        return Attribution(node.name, base, new, contribution, metric=node.metric)
    note: str | None = None
    try:
        shares = shapley(node.formula, {c.name: c.base for c in node.children},
                         {c.name: c.new for c in node.children})
    except UndefinedAttribution as exc:
        shares, note = {}, str(exc)
    parts: dict[str, Value] = {c.name: None for c in node.children}
    if shares and contribution is not None:
        total = sum(shares.values(), Fraction(0))
        if total != 0:
            parts = {k: v * contribution / total for k, v in shares.items()}
        elif contribution == 0:
            parts = dict(shares)
        else:
            note = (f"its inputs' changes cancel out, yet its value moved by {float(contribution):g}; "
                    "the values are inconsistent")
    elif shares:
        note = note or "the change itself is undefined (a value is missing)"
    children = tuple(_attribute(c, parts[c.name]) for c in node.children)
    return Attribution(node.name, base, new, contribution, children, note, node.metric)


# --- slices of a dimension ---------------------------------------------------------------------
@dataclass(frozen=True)
class SliceChange:
    """One slice (a store, a channel, ...): its values, and its share of the total change."""

    key: Any
    base: Value
    new: Value
    contribution: Number
    mix: Number | None = None
    rate: Number | None = None
    extra: dict[str, Value] = field(default_factory=dict)  # ratio parts: shares and rates per period

    @property
    def change(self) -> Value:
        return None if self.base is None or self.new is None else self.new - self.base


def additive_slices(values: Mapping[Any, tuple[Any, Any]]) -> list[SliceChange]:
    """Each slice's own change (a missing value counts as 0): they add up to the total's change."""
    rows = []
    for key, (base, new) in values.items():
        b, n = number(base), number(new)
        rows.append(SliceChange(key, b, n, (n or Fraction(0)) - (b or Fraction(0))))
    return rows


def mix_rate(values: Mapping[Any, tuple[Any, Any, Any, Any]]) -> list[SliceChange]:
    """Mix and rate effects per slice of R = sum N / sum D, from (N0, D0, N1, D1) per slice (see module doc)."""
    zero = Fraction(0)
    parts = {k: tuple(number(v) or zero for v in four) for k, four in values.items()}
    d0 = sum((p[1] for p in parts.values()), zero)
    d1 = sum((p[3] for p in parts.values()), zero)
    if d0 == 0 or d1 == 0:
        raise UndefinedAttribution("the denominator is zero in one of the periods, so the ratio is undefined")
    r_total0 = sum((p[0] for p in parts.values()), zero) / d0
    r_total1 = sum((p[2] for p in parts.values()), zero) / d1
    r_mid = (r_total0 + r_total1) / 2
    rows = []
    for key, (num0, den0, num1, den1) in parts.items():
        s0, s1 = den0 / d0, den1 / d1
        r0 = num0 / den0 if den0 else None
        r1 = num1 / den1 if den1 else None
        # a slice without a denominator has no rate: it takes the other period's (or none at all)
        r0_used = r0 if r0 is not None else (r1 if r1 is not None else zero)
        r1_used = r1 if r1 is not None else r0_used
        stray = (zero if den1 else num1 / d1) - (zero if den0 else num0 / d0)
        mix = (s1 - s0) * ((r0_used + r1_used) / 2 - r_mid)
        rate = (s0 + s1) / 2 * (r1_used - r0_used) + stray
        rows.append(SliceChange(key, r0, r1, mix + rate, mix, rate, {
            "base_numerator": num0, "base_denominator": den0, "new_numerator": num1,
            "new_denominator": den1, "base_share": s0, "new_share": s1}))
    return rows
