"""Allocator settings that keep the process's resident memory close to what it actually holds.

Chunk strings (about 200 KB) and bodies (up to about 1 MB) are allocated and freed all the time. glibc raises its
mmap threshold dynamically after such frees and then serves them from the heap, which it rarely returns to the
OS; Arrow's default pool (mimalloc) keeps freed segments too. A fixed 64 KiB threshold (set here) and Arrow's
system pool make freed large blocks go back to the OS at once (bench/README.md, "consumer": peak RSS). Arrow reads
its pool from `ARROW_DEFAULT_MEMORY_POOL=system` before it is first imported: the Dockerfile sets it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

import pyarrow as pa

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 64 * 1024


def arrow_pool() -> str:
    return pa.default_memory_pool().backend_name


def tune_allocators() -> bool:
    """Returns whether glibc accepted the mmap threshold (False on other C libraries: harmless)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


GC_YOUNG_THRESHOLD = 50_000
"""Allocations between young-generation collections (CPython's default is 700)."""


def tune_gc() -> None:
    """Collect the young generation every 50,000 allocations instead of 700, and move what start-up built into the
    permanent generation.

    A batch holds tens of thousands of records until it is flushed, and the SDK allocates several objects per
    event: with the defaults the collector ran ~1,200 times per 40,000 events, including full passes over the
    growing batch, about 0.6 s of every ~5 s (bench/README.md, "consumer"). Reference counting still frees
    everything that is not in a cycle at once, so memory does not grow with the threshold; cyclic garbage waits
    at most 50,000 allocations. Start-up objects (modules, settings, the SDK's clients) are never garbage:
    `gc.freeze` keeps full collections from walking them."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
