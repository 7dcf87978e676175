"""glibc's malloc, set for training on the CPU: freed tensors' memory stays with the process.

A training step frees and reallocates the same tensors every time (activations, gradients, the
optimiser's temporaries). glibc's defaults hand much of that memory back to the kernel between
steps: a freed block above its dynamic ``mmap`` threshold is unmapped, and free memory at the top
of the heap beyond the trim threshold is released. The next step then touches fresh pages, and
every page is a fault that the kernel zeroes. On the bench's MLP (784-1024×4-10, batch 256) that
was 2,000 to 3,800 page faults an ordinary step for bp through the Trainer, and a few percent of
each step (README, "Benchmark": "Where the time goes").

`keep_freed_memory` fixes the mmap threshold at glibc's largest (32 MiB: tensors below it come
from the heap and return there) and keeps up to `TRIM_BYTES` free at the heap's top. The process
then holds its high-water mark instead of shrinking back after each step; a large tensor (above
32 MiB) is still mapped and unmapped as before. It does nothing where the C library is not glibc
(macOS, musl) or where ``EXPLORER_KEEP_FREED_MEMORY`` is ``0`` (or ``false``, ``off``, ``no``), and
acts once per process. When training ends (`Trainer.run`, a job manager gone idle, a sweep's task),
`release_freed_memory` hands what malloc holds free back to the kernel, so an idle app does not
keep its last run's high-water mark. `held_free_bytes` says how much freed memory the process holds that way, for a new run to count as
free (`explorer.engine.footprint.free_memory`, as PyTorch's cached memory counts on a GPU).

Example:
    >>> isinstance(keep_freed_memory(), bool)   # False where glibc is absent or it was turned off
    True
"""

from __future__ import annotations

import ctypes
import os
import threading

M_TRIM_THRESHOLD = -1   # mallopt parameters, from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_BYTES = 32 * 2**20  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems
TRIM_BYTES = 512 * 2**20
ENV = "EXPLORER_KEEP_FREED_MEMORY"
OFF = ("0", "false", "off", "no")

_lock = threading.Lock()
_applied: bool | None = None


def _glibc():
    """glibc, as the running process has it loaded, or None where the C library is another."""
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols (dlopen(NULL)): no search, no subprocess
    except (OSError, TypeError):  # TypeError: Windows, where a library needs a name
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None


def keep_freed_memory() -> bool:
    """Set glibc's malloc thresholds (see the module) once per process; True where they are set.

    Example:
        >>> keep_freed_memory() == keep_freed_memory()   # the second call repeats the first's answer
        True
    """
    global _applied
    with _lock:
        if _applied is None:
            _applied = False
            libc = None if os.environ.get(ENV, "1").strip().lower() in OFF else _glibc()
            if libc is not None:
                # mallopt returns 1 on success; a fixed mmap threshold also turns off glibc's
                # dynamic one, which is what lets the trim threshold hold. Both are tried: True
                # only where both took.
                mmap_set = libc.mallopt(M_MMAP_THRESHOLD, MMAP_BYTES) == 1
                trim_set = libc.mallopt(M_TRIM_THRESHOLD, TRIM_BYTES) == 1
                _applied = mmap_set and trim_set
        return _applied


def release_freed_memory() -> bool:
    """Hand the memory malloc holds free back to the kernel (glibc's ``malloc_trim``), where
    `keep_freed_memory` kept it; True where anything was released.

    Example:
        >>> isinstance(release_freed_memory(), bool)
        True
    """
    libc = _glibc() if _applied else None
    return bool(libc.malloc_trim(0)) if libc is not None and hasattr(libc, "malloc_trim") else False


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (2.33 and later): every field a size_t."""
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def held_free_bytes() -> int:
    """Bytes that malloc holds free in this process's heaps (glibc's ``mallinfo2().fordblks``):
    memory a new tensor can reuse without asking the kernel, at most (free blocks scattered
    between used ones, or kept by another thread's arena, may not fit a large tensor; PyTorch's
    cached memory on a GPU is counted the same way); 0 where glibc (2.33+) is absent.

    Example:
        >>> held_free_bytes() >= 0
        True
    """
    libc = _glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return 0
    libc.mallinfo2.restype = _MallInfo2
    return int(libc.mallinfo2().fordblks)
