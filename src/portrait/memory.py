"""The process's resident memory (RSS), and its peak while a block runs.

Each run in ``runs`` records the peak RSS of the process while it ran
(:meth:`portrait.workspace.Workspace.run`). The peak is sampled by a background thread every
``interval`` seconds from ``/proc/self/statm`` (Linux); where that file does not exist it
falls back to ``getrusage``'s lifetime maximum, which only says that the peak was at most
that. A spike shorter than the interval can be missed.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from types import TracebackType

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_MB = 2**20


def rss_mb() -> float:
    """The process's resident memory now, in MB (2**20 bytes)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE / _MB
    except OSError:  # not Linux: the lifetime peak is the best available
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / _MB if sys.platform == "darwin" else peak * 1024 / _MB


class PeakMemory:
    """A context manager that samples :func:`rss_mb` in a daemon thread; ``peak_mb`` is the
    highest sample, the first taken on entry and the last on exit.

    Examples
    --------
    >>> with PeakMemory() as peak:
    ...     data = bytearray(50 * 2**20)
    >>> peak.peak_mb > 50
    True
    """

    def __init__(self, *, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        self.peak_mb = max(self.peak_mb, rss_mb())

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="portrait-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
