"""Give freed heap memory back to the operating system (glibc `malloc_trim`).

Decoding grows every KV-cache tensor by one token per step: each step allocates slightly larger
blocks than it frees, and glibc keeps the freed ones in its heap instead of returning them. A
process that decodes batch after batch then holds several times the memory it uses (measured on
the shapes experiment's reasoner sampling: one process grew to ~3.8 GB where its largest batch
needs ~2.5). Trimming after each batch returns what the batch freed; it changes no result.
Elsewhere (macOS, musl, Windows) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        fn = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # no such C library, or not glibc
        return None
    if fn is not None:
        fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn


def release_free_memory() -> bool:
    """Return freed heap pages to the OS; True when the C library can (glibc), else False."""
    fn = _malloc_trim()
    if fn is None:
        return False
    fn(0)
    return True
