"""Cyclic garbage is collected on the GUI thread, never on a worker's, and full collections skip the modules."""

from __future__ import annotations

import gc
import threading
from typing import Any

from gui.common.gui_thread_gc import collect_on_gui_thread, collect_pending


class Cycle:
    """Garbage only the cycle collector can free; records the thread that freed it."""

    freed_on: list[int] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        Cycle.freed_on.append(threading.get_ident())


def test_cycles_made_and_dropped_on_a_worker_are_freed_on_the_gui_thread(qapp: Any) -> None:
    collect_on_gui_thread()
    Cycle.freed_on.clear()

    def worker() -> None:
        for _ in range(20_000):  # far past every generation's threshold: automatic collection would run here
            Cycle()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert Cycle.freed_on == []
    collect_pending()
    gc.collect()
    assert set(Cycle.freed_on) == {threading.get_ident()}
    assert len(Cycle.freed_on) == 20_000


def test_what_was_alive_at_start_is_out_of_every_collection(qapp: Any) -> None:
    collect_on_gui_thread()
    assert not gc.isenabled()
    assert gc.get_freeze_count() > 10_000  # torch, numpy, Qt and the test modules: never scanned again
