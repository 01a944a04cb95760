"""Dimension chains joined once: the hops past the first joined over the first hop's model, not per fact row.

A transaction's customer segment is two hops away (transactions -> accounts -> customers). Joined hop by
hop, both joins run once per transaction:

    FROM transactions AS src
    LEFT JOIN accounts AS j_account ON src.account_id = j_account.account_id
    LEFT JOIN customers AS j_account__customer ON j_account.customer_id = j_account__customer.customer_id

Joining the chain first, over the accounts (a small table), and that to the transactions once gives the
same rows with half the joins per transaction:

    WITH account_dims AS (
      SELECT j_account.account_id AS account_id, j_account__customer.segment AS customer__segment
      FROM accounts AS j_account
      LEFT JOIN customers AS j_account__customer ON j_account.customer_id = j_account__customer.customer_id)
    ... FROM transactions AS src LEFT JOIN account_dims AS j_account ON src.account_id = j_account.account_id

Every hop goes to a model where its entity is primary, unique or natural, so neither form fans out; a
NULL or unmatched key gives NULL dimensions in both (LEFT JOINs all the way). The chain projects only
the columns the scan reads. A chain with a slowly changing dimension (joined on the fact row's time) is
joined hop by hop, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from metricsctl.compiler.nodes import quoted
from metricsctl.graph import JoinStep

SEP = "__"


@dataclass(frozen=True)
class Chain:
    """A first hop from the fact's rows and the hops joined through it, in join order."""

    root: JoinStep
    hops: tuple[JoinStep, ...]

    @property
    def aliases(self) -> tuple[str, ...]:
        return (self.root.alias, *(h.alias for h in self.hops))

    @property
    def name(self) -> str:
        """The chain's CTE name after its first hop: `account_dims` for the hops through `j_account`."""
        return f"{self.root.alias.removeprefix('j_')}_dims"


def chains(steps: list[JoinStep], source: str) -> list[Chain]:
    """The chains of two or more hops among a scan's joins (in the order they are joined) that can be
    joined once: none of their models is joined on the fact row's time."""
    by_alias = {s.alias: s for s in steps}
    hops: dict[str, list[JoinStep]] = {}
    for step in steps:
        root = step
        while root.left_alias != source:
            root = by_alias[root.left_alias]
        if root is not step:
            hops.setdefault(root.alias, []).append(step)
    found = [Chain(by_alias[root], tuple(rest)) for root, rest in hops.items()]
    return [c for c in found if c.root.validity is None and all(h.validity is None for h in c.hops)]


def _scope(node: exp.Expr) -> list[exp.Column]:
    """The columns `node` reads, without descending into a subquery (its columns are its own)."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if isinstance(current, exp.Subquery):
            continue
        if isinstance(current, exp.Column):
            found.append(current)
            continue
        stack.extend(current.iter_expressions())
    return found


def read_through(select: exp.Select, chain: Chain) -> dict[tuple[str, str], exp.Identifier]:
    """The chain's columns that `select` reads, (table alias, column) -> the chain CTE's column: a first-hop
    column keeps its name (`account_id`), a later hop's is named along its path (`customer__segment`)."""
    aliases = set(chain.aliases)
    names: dict[tuple[str, str], exp.Identifier] = {}
    taken: set[str] = set()
    reads = sorted({(c.table, c.name): c for c in _scope(select) if c.table in aliases}.items(),
                   key=lambda kv: (kv[0][0] != chain.root.alias, kv[0]))  # the first hop's own names first
    for (table, name), col in reads:
        wanted = name if table == chain.root.alias else SEP.join((table[len(chain.root.alias) + len(SEP):], name))
        out, n = wanted, 1
        while out.lower() in taken:
            n += 1
            out = f"{wanted}_{n}"
        taken.add(out.lower())
        names[(table, name)] = exp.Identifier(this=out, quoted=quoted(col.this))
    return names


def projections(names: dict[tuple[str, str], exp.Identifier]) -> list[exp.Expr]:
    """The chain CTE's select list: `j_account__customer.segment AS customer__segment`, ..."""
    return [exp.Alias(this=exp.Column(this=exp.Identifier(this=name, quoted=out.args.get("quoted", False)),
                                      table=exp.Identifier(this=table, quoted=False)),
                      alias=out.copy()) for (table, name), out in names.items()]


def rewrite(select: exp.Select, chain: Chain, names: dict[tuple[str, str], exp.Identifier]) -> None:
    """In place: every read of the chain's columns in `select` reads the chain CTE, aliased as the first hop
    (nodes shared with other lists, such as the group-by keys, see the change too)."""
    aliases = set(chain.aliases)
    for col in _scope(select):
        if col.table in aliases:
            col.set("this", names[(col.table, col.name)].copy())
            col.set("table", exp.Identifier(this=chain.root.alias, quoted=False))
