"""Python's cyclic garbage collection on the GUI thread only.

CPython collects cycles in whichever thread happens to be allocating. When that is a worker thread (an
upscale or training job) and a cycle holds Qt objects, they are destroyed on the wrong thread and Qt
crashes: seen here as segfaults in an upscale job's thread, "Garbage-collecting", at about one test run in
six. pyqtgraph's GarbageCollector turns automatic collection off and collects on a QTimer instead, so
collection only ever happens on the thread that runs the event loop.

That collector forces a full collection whenever the oldest generation's count passes its threshold (CPython's
own rule would skip most of them), and a full collection of the ~390k objects torch, numpy and Qt bring took
226 ms here: a visible freeze. So what is alive when collection moves (modules, the app's lifelong objects) is
frozen first (gc.freeze), out of every later collection: a full one then takes well under a millisecond.
"""

from __future__ import annotations

import gc

from pyqtgraph.util.garbage_collector import GarbageCollector

_collector: GarbageCollector | None = None


def collect_on_gui_thread() -> GarbageCollector:
    """Start collecting on the calling (GUI) thread's timer, once per process; a QApplication must exist."""
    global _collector
    if _collector is None:
        gc.collect()
        gc.freeze()
        _collector = GarbageCollector(interval=1.0)
    return _collector


def collect_pending() -> None:
    """Collect now, on this thread, what the timer would collect (when collection was moved here)."""
    if _collector is not None:
        _collector.check()
