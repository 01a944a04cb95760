"""Where filters in MetricFlow's Jinja form, turned into sqlglot expressions.

`{{ Dimension('order__channel') }} = 'online'` renders to a placeholder column per referenced item;
the SQL is then parsed and checked: exactly one boolean expression, no subquery, no statement, no
column that is not a referenced item. The placeholders are bound to real columns per scan later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from metricsctl.compiler.templates import check_nesting, quote, render
from metricsctl.errors import QueryError
from metricsctl.names import SEP, ItemName, parse_item_name

PLACEHOLDER = "__mctl_item_{}"
# sqlglot reads some quoted texts as SQL words, written unquoted in every dialect or cut: a date function's unit
# (`date_trunc('month', ...)` -> MONTH) and an interval's (`interval '7 days'` -> '7' DAYS). Such a text must be a
# word, or a number and a word; anything more would reach the warehouse as SQL, or be dropped without a word.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_AMOUNT = re.compile(r"\s*(?:-\s*)?[0-9]+(\.[0-9]+)?\s*[A-Za-z_]+\s*")  # no two ways to read a space

# The node types a filter may contain: comparisons, boolean logic, arithmetic, literals, casts and the
# plain scalar functions of dates and text. Anything else (subqueries, statements, table functions that
# read files such as read_csv or read_text, unknown functions, variables) is refused.
SCALAR_NODES: tuple[type[exp.Expr], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple, exp.Not, exp.And,
    exp.Or, exp.Xor, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Is,
    exp.In, exp.Between, exp.Like, exp.ILike, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg,
    exp.Cast, exp.TryCast, exp.DataType, exp.DataTypeParam, exp.Interval, exp.Var, exp.Case, exp.If,
    exp.Coalesce, exp.Nullif, exp.Lower, exp.Upper, exp.Trim, exp.Length, exp.Substring, exp.Concat, exp.DPipe,
    exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Extract, exp.DateTrunc, exp.TimestampTrunc, exp.DateAdd,
    exp.DateSub, exp.DateDiff, exp.CurrentDate, exp.CurrentTimestamp, exp.Date, exp.TsOrDsToDate,
    exp.StrToDate, exp.Year, exp.Month, exp.Day, exp.Quarter, exp.DayOfWeek, exp.DayOfYear, exp.Week,
    exp.StartsWith, exp.Greatest, exp.Least, exp.Placeholder,
)


@dataclass(frozen=True)
class MetricCall:
    """`{{ Metric('revenue', group_by=['customer']) }}`: a metric value joined on an entity."""

    metric: str
    group_by: tuple[str, ...]


@dataclass(frozen=True)
class ParsedFilter:
    """One where filter: a boolean expression over placeholders, and what each placeholder is."""

    source: str
    expression: exp.Expr
    items: tuple[tuple[str, ItemName], ...]
    metrics: tuple[tuple[str, MetricCall], ...] = ()


class _Ref:
    """What a Jinja call returns: renders as its placeholder, and supports `.grain()` / `.date_part()`."""

    def __init__(self, registry: _Registry, item: ItemName) -> None:
        self._registry, self._item = registry, item

    def grain(self, grain: str) -> _Ref:
        return _Ref(self._registry, self._item.with_grain(grain.lower()))

    def date_part(self, part: str) -> _Ref:
        it = self._item
        return _Ref(self._registry, ItemName(it.element, it.entity_path, None, part.lower()))

    def descending(self, _flag: bool = True) -> _Ref:
        return self

    def __str__(self) -> str:
        return self._registry.add_item(self._item)


class _Registry:
    def __init__(self, custom_grains: frozenset[str]) -> None:
        self.custom_grains = custom_grains
        self.items: dict[str, ItemName] = {}
        self.metrics: dict[str, MetricCall] = {}

    def add_item(self, item: ItemName) -> str:
        for key, known in self.items.items():
            if known == item:
                return key
        key = PLACEHOLDER.format(len(self.items) + len(self.metrics))
        self.items[key] = item
        return key

    def name(self, text: str, entity_path: Any = None, grain: str | None = None,
             date_part: str | None = None) -> ItemName:
        item = parse_item_name(str(text), self.custom_grains)
        if entity_path:
            item = ItemName(item.element, (*[str(e) for e in entity_path], *item.entity_path),
                            item.grain, item.date_part)
        if grain:
            item = item.with_grain(str(grain).lower())
        if date_part:
            item = ItemName(item.element, item.entity_path, None, str(date_part).lower())
        return item

    def dimension(self, name: str, entity_path: Any = None) -> _Ref:
        return _Ref(self, self.name(name, entity_path))

    def time_dimension(self, name: str, time_granularity_name: str | None = None,
                       entity_path: Any = None, descending: bool | None = None,
                       date_part_name: str | None = None) -> _Ref:
        return _Ref(self, self.name(name, entity_path, time_granularity_name, date_part_name))

    def entity(self, name: str, entity_path: Any = None) -> _Ref:
        return _Ref(self, self.name(name, entity_path))

    def functions(self) -> dict[str, Any]:
        """The only names a filter template may call."""
        return {"Dimension": self.dimension, "TimeDimension": self.time_dimension, "Entity": self.entity,
                "Metric": self.metric}

    def metric(self, metric: str, group_by: Any = None) -> str:
        call = MetricCall(str(metric), tuple(str(g) for g in (group_by or ())))
        key = PLACEHOLDER.format(len(self.items) + len(self.metrics))
        self.metrics[key] = call
        return key


def parse_filter(template: str, dialect: str, custom_grains: frozenset[str] = frozenset()) -> ParsedFilter:
    """Read the item calls (no template engine runs), parse the SQL, and refuse anything but one
    boolean expression over items."""
    registry = _Registry(custom_grains)
    rendered = render(template, registry.functions())
    check_nesting(rendered, f"filter {quote(template)}")
    try:
        statements = [s for s in sqlglot.parse(rendered, read=dialect) if s is not None]
    except RecursionError:
        raise QueryError(f"filter {quote(template)} is nested too deeply to read") from None
    except sqlglot.errors.ParseError as exc:
        raise QueryError(f"filter {quote(template)} is not valid SQL: {exc.errors[0]['description']}") from None
    if len(statements) != 1:
        raise QueryError(f"filter {quote(template)} must be exactly one SQL boolean expression, "
                         f"found {len(statements)} statements")
    expression = statements[0]
    refused = next((n for n in expression.walk() if not isinstance(n, SCALAR_NODES)), None)
    if refused is not None:
        raise QueryError(f"filter {quote(template)} may only compare items and values with operators, casts and "
                         f"date or text functions; `{refused.sql(dialect)[:60]}` is not allowed (subqueries, "
                         "statements and table or file functions never are)")
    _check_texts_read_as_words(template, rendered, expression, dialect)
    known = set(registry.items) | set(registry.metrics)
    for column in expression.find_all(exp.Column):
        if column.table or column.name not in known:
            raise QueryError(
                f"filter {quote(template)} reads column '{column.sql(dialect)}' directly; reference items "
                "as {{ Dimension('entity__name') }}, {{ TimeDimension('metric_time', 'day') }} or "
                "{{ Entity('name') }}")
    return ParsedFilter(template, expression, tuple(registry.items.items()), tuple(registry.metrics.items()))


def equality_filter(group_by: str, value: str, dialect: str) -> str:
    """A filter keeping the rows whose `group_by` item is `value`, the value written as a string literal of
    `dialect` (the dialect filters are read in): quotes doubled in most, backslashes escaped too where a backslash
    escapes (Spark, BigQuery, Snowflake). A value holding `{{`, `{%` or `{#` is refused: in a filter that is an
    item or a statement, wherever it stands, as in MetricFlow's."""
    if re.search(r"\{[{%#]", value):
        raise QueryError(f"'{value[:60]}' holds '{{{{', '{{%' or '{{#', which a filter reads as an item or a "
                         "statement even inside quotes; it cannot be compared with")
    return "{{ Dimension('" + group_by + "') }} = " + exp.Literal.string(value).sql(dialect)


def _check_texts_read_as_words(template: str, rendered: str, expression: exp.Expr, dialect: str) -> None:
    """Refuse a quoted text that sqlglot took for SQL words (a unit, an interval) when it is more than a unit or
    an amount and a unit: written unquoted it would run as SQL on some engines (Spark, Snowflake, BigQuery), and
    cut it would change the filter's meaning."""
    for var in expression.find_all(exp.Var):
        if not _WORD.fullmatch(var.name):
            raise QueryError(f"filter {quote(template)}: `{var.name[:60]}` stands where SQL takes one word (a unit "
                             "such as 'day' or 'month'); write one word there")
    kept = {node.this for node in expression.find_all(exp.Literal) if node.is_string}
    for token in sqlglot.tokenize(rendered, read=dialect):
        if token.token_type.name.endswith("STRING") and token.text not in kept \
                and not (_WORD.fullmatch(token.text) or _AMOUNT.fullmatch(token.text)):
            raise QueryError(f"filter {quote(template)}: the text '{token.text[:60]}' is read as a unit or an "
                             "interval there, and it is neither; write a unit ('day') or an amount and a unit "
                             "('7 days')")


def item_key(item: ItemName) -> str:
    return SEP.join([*item.entity_path, item.element])
