"""sqlglot's SQL writer with the text of the smallest nodes remembered: the same SQL, written faster.

A compiled project repeats a few hundred names thousands of times: 1,000 metrics write 137,000 identifiers,
49,000 columns, 8,000 tables and 11,000 casts to a handful of types into 3.2 MB of SQL
(bench/compile_bench.py). sqlglot, installed as pure Python, writes each anew; for a cast its DuckDB writer
builds five type objects to compare the type with (BENCHMARKS.md, section 3). The writer here is the
dialect's own generator with the text of an identifier, a plain column, a plain table and a plain type
remembered per dialect and writer setting: the first occurrence is written by sqlglot itself, every later
one is that text. A node whose text could depend on more than its key holds (comments, a nested or
parametrized type, a column or table with more than names, a dialect that writes such nodes its own way)
is always written by sqlglot. Pretty text is indented as sqlglot indents it, in one pass over the text instead
of one per line: a nested query's text is indented again at every level it is nested in.

With sqlglot's compiled build (the `fast` extra) a generator class cannot be subclassed from Python, and
writes these nodes fast anyway: `write` then uses the dialect's generator unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.generator import Generator

# dialect (as named to `write`) -> its generator with remembered texts, None where sqlglot is compiled, and
# the texts it remembers; forgotten past a bound, for a long-running process that writes many queries
_CLASSES: dict[str, type[Generator] | None] = {}
_TEXTS: dict[str, dict[tuple[Any, ...], str]] = {}
_MOST_TEXTS = 200_000
_COLUMN_PARTS = frozenset({"catalog", "db", "table", "this"})
_TABLE_PARTS = frozenset({"catalog", "db", "this", "alias"})
_ALIAS_PARTS = frozenset({"this"})
_TEXT = "text"  # in a column's key, a name part kept as text, which no identifier's `quoted` equals


def _names_key(expression: exp.Expr, parts: frozenset[str]) -> tuple[Any, ...] | None:
    """The names a node consists of, when it is nothing but `parts` each a plain identifier (an `alias` part is
    checked by the caller); None otherwise."""
    key: list[Any] = []
    for name, value in expression.args.items():
        if not value:
            continue
        if name not in parts:
            return None
        if name == "alias":
            continue
        if type(value) is not exp.Identifier or value.comments:
            return None
        names = value.args
        key += (name, names.get("this"), names.get("quoted"))
    return tuple(key)


def _column_key(expression: exp.Expr) -> tuple[Any, ...] | None:
    """`_names_key` of a column, with a shorter key for the common one (a name, qualified or not, and no
    schema or catalog): its four parts, which no key of `_names_key` (three values per part) can equal."""
    args = expression.args
    this, table = args.get("this"), args.get("table")
    if len(args) > 4 or not args.keys() <= _COLUMN_PARTS or args.get("db") or args.get("catalog"):
        return _names_key(expression, _COLUMN_PARTS)
    if type(this) is str and (table is None or type(table) is str):  # names kept as text (render.column)
        return this, _TEXT, table, _TEXT
    if (type(this) is exp.Identifier and not this.comments
            and (table is None or type(table) is exp.Identifier and not table.comments)):
        names = this.args
        if table is None:
            return names.get("this"), names.get("quoted"), None, None
        return names.get("this"), names.get("quoted"), table.args.get("this"), table.args.get("quoted")
    return _names_key(expression, _COLUMN_PARTS)


def _compiled(base: type[Generator]) -> bool:
    """Whether `base` comes from sqlglot's compiled build: a Python subclass of it can be defined, but not
    instantiated ("interpreted classes cannot inherit from compiled")."""
    return any(not (getattr(sys.modules.get(cls.__module__), "__file__", None) or ".py").endswith(".py")
               for cls in base.__mro__ if cls is not object)


def _remembering(base: type[Generator], texts: dict[tuple[Any, ...], str]) -> type[Generator] | None:
    """`base` with the text of identifiers, plain columns, plain tables and plain types remembered in `texts`;
    None where sqlglot is compiled."""
    if _compiled(base):
        return None
    overrides: dict[str, Callable[..., str]] = {}

    if base.identifier_sql is Generator.identifier_sql:
        written_identifier = Generator.identifier_sql

        def identifier_sql(self: Generator, expression: exp.Identifier) -> str:
            if self.identify:  # quoting may then depend on the parent
                return written_identifier(self, expression)
            key = ("identifier", self.pretty, self.normalize, expression.this, expression.args.get("quoted"))
            text = texts.get(key)
            if text is None:
                text = texts[key] = written_identifier(self, expression)
            return text

        overrides["identifier_sql"] = identifier_sql

    plain_identifiers = base.identifier_sql is Generator.identifier_sql
    if plain_identifiers and base.column_sql is Generator.column_sql and base.column_parts is Generator.column_parts:
        written_column = Generator.column_sql

        def column_sql(self: Generator, expression: exp.Column) -> str:
            name = None if self.identify else _column_key(expression)
            if name is None:  # a star, a join mark, a shadowed name, a comment
                return written_column(self, expression)
            key = ("column", self.pretty, self.normalize, name)
            text = texts.get(key)
            if text is None:
                text = texts[key] = written_column(self, expression)
            return text

        overrides["column_sql"] = column_sql

    if (plain_identifiers and base.table_sql is Generator.table_sql and base.table_parts is Generator.table_parts
            and base.tablealias_sql is Generator.tablealias_sql):
        written_table = Generator.table_sql

        def table_sql(self: Generator, expression: exp.Table, sep: str = " AS ") -> str:
            alias = expression.args.get("alias")
            name = None if self.identify else _names_key(expression, _TABLE_PARTS)
            # an alias only as a plain name (no columns, no comment)
            own = _names_key(alias, _ALIAS_PARTS) if alias is not None and not alias.comments else ()
            if name is None or own is None:  # sample, joins, pivots, hints, ...: as sqlglot writes them
                return written_table(self, expression, sep)
            key = ("table", self.pretty, self.normalize, sep, name, own)
            text = texts.get(key)
            if text is None:
                text = texts[key] = written_table(self, expression, sep)
            return text

        overrides["table_sql"] = table_sql

    written_type = base.datatype_sql

    def datatype_sql(self: Generator, expression: exp.DataType) -> str:
        this = expression.this
        if (not isinstance(this, exp.DType) or isinstance(expression.parent, exp.DataType)
                or any(value for name, value in expression.args.items() if name != "this")):
            return written_type(self, expression)  # nested, parametrized, user-defined: as sqlglot writes it
        key = ("type", self.pretty, this)
        text = texts.get(key)
        if text is None:
            before = len(self.unsupported_messages)
            text = written_type(self, expression)
            if len(self.unsupported_messages) == before:  # a type the dialect lacks is reported each time
                texts[key] = text
        return text

    overrides["datatype_sql"] = datatype_sql

    if base.indent is Generator.indent:
        def indent(self: Generator, sql: str, level: int = 0, pad: int | None = None, skip_first: bool = False,
                   skip_last: bool = False) -> str:
            """sqlglot's indentation in one pass over the text: every nested query's text is indented again at
            each level it is nested in, so splitting it into lines and joining them each time is a sixth of
            the writing."""
            if not self.pretty or not sql:
                return sql
            prefix = " " * (level * self._indent + (self.pad if pad is None else pad))
            head, newline, last = sql.rpartition("\n")
            if not newline:  # one line: both first and last
                return sql if skip_first or skip_last else prefix + sql
            head = head.replace("\n", "\n" + prefix)
            return f"{'' if skip_first else prefix}{head}\n{'' if skip_last else prefix}{last}"

        overrides["indent"] = indent
    return type(base.__name__, (base,), overrides)


def write(expression: exp.Expr, dialect: str, pretty: bool, copy: bool) -> str:
    """The SQL text of `expression` in `dialect`, exactly as `expression.sql(dialect, pretty=..., copy=...)`."""
    language = Dialect.get_or_raise(dialect)
    if dialect not in _CLASSES:  # one memory per dialect as named: a name may carry settings of its own
        _TEXTS[dialect] = {}
        _CLASSES[dialect] = _remembering(language.generator_class, _TEXTS[dialect])
    remembering = _CLASSES[dialect]
    if remembering is None:
        return language.generate(expression, copy=copy, pretty=pretty)
    texts = _TEXTS[dialect]
    if len(texts) > _MOST_TEXTS:
        texts.clear()
    return remembering(dialect=language, pretty=pretty).generate(expression, copy=copy)


def text(expression: exp.Expr, copy: bool = True) -> str:
    """`expression.sql(copy=copy)`: the text of sqlglot's own dialect, flat, to tell trees apart by; written with
    the texts of small nodes remembered. `copy=False` for a tree of the caller's own, since writing may change it."""
    return write(expression, "", pretty=False, copy=copy)
