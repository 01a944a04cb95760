"""Python's cyclic garbage collector, held off while one model or one spec is built.

Compiling a model allocates hundreds of thousands of small objects (sqlglot nodes, each pointing to its
parent), and most of them live until the model's SQL is written. With the collector on, those objects
are traversed again at every collection of the older generations while the tree grows: a quarter of
compiling a large project (bench/compile_bench.py, BENCHMARKS.md section 3). Held off for one model, the
objects are traversed once, by a collection of the youngest generation alone at the end of the block;
what the model left behind is freed then, so memory grows by one model's garbage at most. An automatic
collection at that point could take the older generations too (every eleventh time), traversing the loaded
spec, dbt's manifest and every earlier model's survivors again: 0.05-0.1 s at 1,000 metrics.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block, then one of the youngest generation; nested blocks, and
    a collector someone else turned off, are left as they are."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.collect(0)
        gc.enable()


@contextmanager
def older_objects_frozen() -> Iterator[None]:
    """Every object alive when the block starts is left out of the collections inside it (`gc.freeze`), then
    handed back to the oldest generation. A render allocates enough to trigger full collections now and then,
    and each walked everything the process held before it (after an edit, in the same process, dbt's parse:
    about 0.2 s at 1,000 metrics) though none of it becomes garbage during the render. Left as it is when the
    collector is off or someone else froze objects."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
