"""The local runner: cells one after another, or in ``workers`` spawned processes.

Processes are spawned (never forked): a forked child of a process that rendered with EGL deadlocks.
Each worker gets ``cpu_count // workers`` torch threads (at least one), with ``OMP_WAIT_POLICY=PASSIVE``
unless the user set it (idle threads sleep rather than spin; it must be set before torch loads, so
``bench.cli`` sets it too). The choice is recorded in each manifest (``threads``). Throughput figures
of 1 vs 2 threads per agent, quiet and loaded, are still to be measured (issue 14, item 6).
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing as mp
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from results.store import Cell, Store
from runners.grid import RunSpec

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported here or in spawned workers


@dataclass
class Summary:
    completed: list[Cell] = field(default_factory=list)
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    returns: dict[str, float | None] = field(default_factory=dict)

    def record(self, cell: Cell, manifest: dict[str, Any]) -> None:
        """Count a cell by its stored manifest and print its one-line result."""
        if manifest.get("status") == "complete":
            self.completed.append(cell)
            self.returns[cell.label] = manifest.get("final_return")
            print(f"done   {cell.label}: final eval return {manifest.get('final_return'):.2f} "
                  f"({manifest.get('steps_per_sec')} steps/s)", file=sys.stderr)
        else:
            self.failed.append((cell, manifest.get("reason") or f"status {manifest.get('status')}"))
            print(f"FAILED {cell.label}: {self.failed[-1][1]}", file=sys.stderr)


def _threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def run_cell(spec: RunSpec, root: str, threads: int) -> dict[str, Any]:
    """Entry point of one run (in this process, a worker process or a Ray trial); returns the final manifest."""
    import torch

    from runners.loop import train_run

    torch.set_num_threads(threads)
    return train_run(spec, Store(root))


def run_local(specs: list[RunSpec], store: Store, *, workers: int = 1) -> Summary:
    """Run ``specs`` one after another here, or in ``workers`` spawned processes (without progress bars)."""
    summary = Summary()

    record = summary.record

    if workers <= 1:
        threads = _threads_per_worker(1)
        for spec in specs:
            try:
                record(spec.cell, run_cell(spec, str(store.root), threads))
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001  (the loop already stored the cell as failed)
                summary.failed.append((spec.cell, f"{type(exc).__name__}: {exc}"))
                print(f"FAILED {spec.cell.label}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return summary

    threads = _threads_per_worker(workers)
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(run_cell, dataclasses.replace(spec, progress=False), str(store.root), threads): spec.cell
                   for spec in specs}
        for future in cf.as_completed(futures):
            cell = futures[future]
            try:
                record(cell, future.result())
            except Exception as exc:  # noqa: BLE001
                summary.failed.append((cell, f"{type(exc).__name__}: {exc}"))
                print(f"FAILED {cell.label}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return summary
