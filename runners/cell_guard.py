"""What every training cell runs under, whichever runner starts it: its lock, and failures recorded.

``guarded(train_run)`` wraps ``loop.train_run(spec, store)``: it takes the cell's lock (``results.lock``;
``spec.wait`` waits for another writer instead of raising ``CellBusy``), removes temporary files a
killed writer left, and records an OS error (disk full, permission, ...) as the cell's failure reason
even when the loop itself could not write it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from results.lock import CellLock
from results.store import Cell, Store


def guarded(train_run: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    @functools.wraps(train_run)
    def run(spec: Any, store: Store, *args: Any, **kwargs: Any) -> dict[str, Any]:  # spec: runners.grid.RunSpec
        cell: Cell = spec.cell
        with CellLock(store.cell_dir(cell), wait=spec.wait):
            store.remove_stale_temp_files(cell)
            try:
                return train_run(spec, store, *args, **kwargs)
            except OSError as exc:
                store.mark_failed(cell, f"{type(exc).__name__}: {exc}")
                raise

    return run
