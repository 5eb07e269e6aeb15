"""Process pools whose workers die with the process that started them.

A worker of a plain :class:`~concurrent.futures.ProcessPoolExecutor` outlives
a parent killed by a signal (``SIGKILL``, or ``SIGTERM`` without a handler)
and keeps computing for nobody. Workers started by :func:`process_pool` ask
the Linux kernel for ``SIGKILL`` when their parent ends
(``prctl(PR_SET_PDEATHSIG)``), and exit at once if the parent already ended
before they started. Elsewhere the pool is an ordinary one.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

__all__ = ["die_with_parent", "process_alive", "process_pool"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker when process ``parent_pid`` ends.

    Parameters
    ----------
    parent_pid : int
        The process that starts the pool (``os.getpid()`` there).

    Examples
    --------
    >>> die_with_parent(os.getppid())  # the caller's parent is alive: nothing happens
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent ended before the request took effect
        os._exit(1)


def process_pool(workers: int, start_method: str | None = None) -> ProcessPoolExecutor:
    """A process pool whose workers die with the calling process.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    start_method : str, optional
        ``"fork"``, ``"spawn"`` or ``"forkserver"``; default: the platform's.

    Returns
    -------
    ProcessPoolExecutor
        Use it as a context manager.

    Examples
    --------
    >>> with process_pool(1) as pool:
    ...     pool.submit(abs, -3).result()
    3
    """
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(start_method),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )


def process_alive(pid: int) -> bool:
    """Tell whether a process with this id runs on this machine (any user).

    Used to tell leftovers of killed runs (temporary names carrying a PID)
    from those of runs still working.

    Examples
    --------
    >>> process_alive(os.getpid())
    True
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, under another user
        return True
    return True
