"""The local runner: cells one after another, or in ``workers`` spawned processes.

Processes are spawned (never forked): a forked child of a process that rendered with EGL deadlocks.
Each worker gets ``cpu_count // workers`` torch threads (at least one), with ``OMP_WAIT_POLICY=PASSIVE``
unless the user set it (idle threads sleep rather than spin; it must be set before torch loads, so
``bench.cli`` sets it too). The choice is recorded in each manifest (``threads``). Throughput figures
of 1 vs 2 threads per agent, quiet and loaded, are still to be measured (issue 14, item 6).
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from results.store import Cell, Store
from runners.sinks import WandbSettings, WandbSink

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


def run_cell(cell: Cell, root: str, agent_steps: int | None, device: str, threads: int, progress: bool,
             config_overrides: dict | None = None, wandb: WandbSettings | None = None) -> dict[str, Any]:
    """Entry point of one cell (in this process, a worker process or a Ray trial); returns the final manifest."""
    import torch

    from runners.loop import train

    torch.set_num_threads(threads)
    return train(cell, Store(root), agent_steps=agent_steps, device=device, progress=progress,
                 config_overrides=config_overrides, sink=WandbSink(wandb) if wandb else None)


def run_local(cells: list[Cell], store: Store, *, agent_steps: int | None, device: str, workers: int = 1,
              progress: bool = True, config_overrides: dict | None = None, wandb: WandbSettings | None = None) -> Summary:
    summary = Summary()

    record = summary.record

    if workers <= 1:
        threads = _threads_per_worker(1)
        for cell in cells:
            try:
                record(cell, run_cell(cell, str(store.root), agent_steps, device, threads, progress, config_overrides, wandb))
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001  (the loop already stored the cell as failed)
                summary.failed.append((cell, f"{type(exc).__name__}: {exc}"))
                print(f"FAILED {cell.label}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return summary

    threads = _threads_per_worker(workers)
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(run_cell, cell, str(store.root), agent_steps, device, threads, False, config_overrides, wandb): cell for cell in cells}
        for future in cf.as_completed(futures):
            cell = futures[future]
            try:
                record(cell, future.result())
            except Exception as exc:  # noqa: BLE001
                summary.failed.append((cell, f"{type(exc).__name__}: {exc}"))
                print(f"FAILED {cell.label}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return summary
