"""One BLAS thread while any t-SNE runs, held once for all the threads that compute maps at once.

Why: openTSNE finds each point's neighbours with scikit-learn (``ArgKmin``), whose OpenMP loop
calls OpenBLAS's matrix product from every OpenMP thread. scikit-learn limits OpenBLAS to one
thread around that loop with threadpoolctl, but that limit is process-wide: with two maps computed
in two threads (one per run), the first to finish puts OpenBLAS back to several threads while the
second is still inside its OpenMP loop. OpenBLAS (its pthreads build, as numpy and scipy ship it)
then sees a threaded call inside an OpenMP region and prints ``OpenBLAS Warning : Detect OpenMP
Loop and this application may hang`` -- and it may indeed hang. `one_blas_thread` keeps OpenBLAS
at one thread from the first t-SNE that starts until the last one ends, whichever thread it is on.

Example:
    >>> from threadpoolctl import threadpool_info
    >>> def blas_threads():
    ...     return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    >>> with one_blas_thread():
    ...     with one_blas_thread():   # a second thread's t-SNE, begun meanwhile
    ...         pass
    ...     blas_threads()            # the first still runs: still one thread
    {1}
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_holders = 0
_limit = None  # the threadpoolctl limit while any holder is inside


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS libraries limited to one thread while any caller, on any thread, is inside."""
    global _holders, _limit
    from threadpoolctl import threadpool_limits

    with _lock:
        if _holders == 0:
            _limit = threadpool_limits(limits=1, user_api="blas")
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                _limit.restore_original_limits()
                _limit = None
