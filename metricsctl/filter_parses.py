"""Each `where` filter's Jinja text parsed once per validation, however many rules read it.

dbt-semantic-interfaces' validation reads a metric's or a saved query's filter in several rules, and each
reading compiles the filter's text as a fresh Jinja template (`JinjaObjectParser.parse_item_descriptions`)
to learn which dimensions, entities and metrics it names. At 1,000 metrics that is 735 compilations of 17
distinct texts, a third of the validation (bench/compile_bench.py, BENCHMARKS.md section 3). The parse is a
function of the text and of the methods the filter may call, and its result (frozen descriptions) is never
changed by its readers, so inside `parsed_once()` each distinct pair is parsed once and the same
descriptions are handed to every rule. A text that fails to parse fails every time, as before: only
results are kept, and only while a block is open.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

_LOCK = threading.Lock()
_open = 0  # blocks open, in any thread
_original: Any = None  # the parser's own staticmethod while a block is open


def _memoized(parse: Callable[..., Sequence[Any]], default: Mapping[Any, Any]) -> Callable[..., Sequence[Any]]:
    results: dict[tuple[str, frozenset[tuple[Any, Any]]], tuple[Any, ...]] = {}

    def parse_item_descriptions(where_sql_template: str,
                                valid_method_mapping: Mapping[Any, Any] = default) -> Sequence[Any]:
        key = (where_sql_template, frozenset(valid_method_mapping.items()))
        found = results.get(key)
        if found is None:
            found = results[key] = tuple(parse(where_sql_template, valid_method_mapping=valid_method_mapping))
        return list(found)

    return parse_item_descriptions


@contextlib.contextmanager
def parsed_once() -> Iterator[None]:
    """Within the block, dbt-semantic-interfaces parses each distinct filter text once. Blocks may nest or
    overlap across threads: the parser is restored when the last open block ends."""
    from dbt_semantic_interfaces.parsing.text_input.valid_method import ConfiguredValidMethodMapping
    from dbt_semantic_interfaces.parsing.where_filter.jinja_object_parser import JinjaObjectParser

    global _open, _original
    with _LOCK:
        if _open == 0:
            _original = JinjaObjectParser.__dict__["parse_item_descriptions"]
            JinjaObjectParser.parse_item_descriptions = staticmethod(  # type: ignore[method-assign,assignment]
                _memoized(_original.__func__, ConfiguredValidMethodMapping.DEFAULT_MAPPING))
        _open += 1
    try:
        yield
    finally:
        with _LOCK:
            _open -= 1
            if _open == 0:
                JinjaObjectParser.parse_item_descriptions = _original  # type: ignore[method-assign]
                _original = None
