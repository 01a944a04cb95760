"""Python's cyclic garbage collector, held off while one model or one spec is built.

Compiling a model allocates hundreds of thousands of small objects (sqlglot nodes, each pointing to its
parent), and most of them live until the model's SQL is written. With the collector on, those objects
are traversed again at every collection of the older generations while the tree grows: a quarter of
compiling a large project (bench/compile_bench.py, BENCHMARKS.md section 3). Held off for one model, the
objects are traversed once, by the first collection after it; what the model left behind is freed then,
so memory grows by one model's garbage at most.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block; nested blocks, and a collector someone else turned
    off, are left as they are."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
