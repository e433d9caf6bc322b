"""The local runner: cells one after another, or in ``workers`` spawned processes.

Processes are spawned (never forked): a forked child of a process that rendered with EGL deadlocks.
Each worker gets ``cpu_count // workers`` torch threads (at least one), with ``OMP_WAIT_POLICY=PASSIVE``
unless the user set it (idle threads sleep rather than spin; it must be set before torch loads, so
``bench.cli`` sets it too). The choice is recorded in each manifest (``threads``). Throughput figures
of 1 vs 2 threads per agent are in ``algorithms/registry.py`` (``max_torch_threads``). Workers die
with the process that started them (a SIGKILLed ``bench run`` leaves no worker training behind to race
its re-run).
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import dataclasses
import multiprocessing as mp
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from results.lock import CellBusy
from results.store import Cell, Store
from runners.grid import RunSpec

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported here or in spawned workers


@dataclass
class Summary:
    completed: list[Cell] = field(default_factory=list)
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    busy: list[tuple[Cell, str]] = field(default_factory=list)  # another process is writing them: not run
    returns: dict[str, float | None] = field(default_factory=dict)

    def record(self, cell: Cell, manifest: dict[str, Any]) -> None:
        """Count a cell by its stored manifest and print its one-line result."""
        if manifest.get("status") == "busy":
            self.busy.append((cell, manifest["reason"]))
            print(f"busy   {cell.label}: {manifest['reason']}; not run (--wait waits for it)", file=sys.stderr)
        elif manifest.get("status") == "complete":
            self.completed.append(cell)
            self.returns[cell.label] = manifest.get("final_return")
            print(
                f"done   {cell.label}: final eval return {manifest.get('final_return'):.2f} "
                f"({manifest.get('steps_per_sec')} steps/s)",
                file=sys.stderr,
            )
        else:
            self.failed.append((cell, manifest.get("reason") or f"status {manifest.get('status')}"))
            print(f"FAILED {cell.label}: {self.failed[-1][1]}", file=sys.stderr)


def _threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def cell_threads(algo: str, available: int) -> int:
    """Torch threads of one cell: what its runner gives it, capped by the agent's ``max_torch_threads``
    (algorithms.registry; measured by benchmarks/threads.py). Recorded in the manifest (hardware.torch_threads)."""
    from algorithms.registry import info

    cap = info(algo.partition("@")[0]).max_torch_threads
    return max(1, min(available, cap)) if cap else max(1, available)


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this process when ``parent_pid`` dies (Linux: PR_SET_PDEATHSIG; elsewhere a watch
    thread)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # 1 = PR_SET_PDEATHSIG
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):

        def watch() -> None:
            while os.getppid() == parent_pid:
                threading.Event().wait(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


def run_cell(spec: RunSpec, root: str, threads: int) -> dict[str, Any]:
    """Entry point of one run (in this process, a worker process or a Ray trial); returns the final manifest
    (status ``busy`` when another process holds the cell's lock and ``spec.wait`` is off)."""
    import torch

    from runners.loop import train_run

    torch.set_num_threads(cell_threads(spec.cell.algo, threads))
    try:
        return train_run(spec, Store(root))
    except CellBusy as exc:
        return {"status": "busy", "reason": str(exc)}


def seed_groups(specs: list[RunSpec], seed_batch: int) -> list[list[RunSpec]]:
    """Units of work: up to ``seed_batch`` seeds of one (suite, task, algo, config, budget, device) together
    where the algorithm has a seed batch (algorithms.registry), every other spec alone; in plan order."""
    from algorithms.registry import info

    units: list[list[RunSpec]] = []
    open_units: dict[tuple, list[RunSpec]] = {}
    for spec in specs:
        c = spec.cell
        key = (c.suite, c.task, c.algo, c.config_id, spec.agent_steps, spec.device)
        if seed_batch <= 1 or info(c.algo.partition("@")[0]).seed_batch is None:
            units.append([spec])
            continue
        unit = open_units.get(key)
        if unit is None or len(unit) >= seed_batch:
            unit = open_units[key] = []
            units.append(unit)
        unit.append(spec)
    return units


def run_unit(specs: list[RunSpec], root: str, threads: int) -> list[dict[str, Any]]:
    """One unit of work: a cell (``run_cell``), or a seed batch trained in this process (``loop.train_seed_batch``)."""
    if len(specs) == 1:
        return [run_cell(specs[0], root, threads)]
    import torch

    from runners.loop import train_seed_batch

    torch.set_num_threads(cell_threads(specs[0].cell.algo, threads))
    try:
        return train_seed_batch(specs, Store(root))
    except CellBusy as exc:
        return [{"status": "busy", "reason": str(exc)} for _ in specs]


def run_local(specs: list[RunSpec], store: Store, *, workers: int = 1, seed_batch: int = 1) -> Summary:
    """Run ``specs`` one after another here, or in ``workers`` spawned processes (without progress bars);
    with ``seed_batch`` S > 1, up to S seeds of one algorithm and task train in one process (``seed_groups``)."""
    summary = Summary()
    units = seed_groups(specs, seed_batch)

    def record(unit: list[RunSpec], manifests: list[dict[str, Any]] | None, exc: BaseException | None = None) -> None:
        for i, spec in enumerate(unit):
            if exc is None:
                summary.record(spec.cell, manifests[i])
            elif (stored := store.read_manifest(spec.cell)) and stored.get("status") == "complete":
                summary.record(spec.cell, stored)  # a seed of a failed batch that had finished
            else:  # the loop already stored the cell as failed
                summary.failed.append((spec.cell, f"{type(exc).__name__}: {exc}"))
                print(f"FAILED {spec.cell.label}: {type(exc).__name__}: {exc}", file=sys.stderr)

    if workers <= 1:
        threads = _threads_per_worker(1)
        for unit in units:
            try:
                record(unit, run_unit(unit, str(store.root), threads))
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001
                record(unit, None, exc)
        return summary

    threads = _threads_per_worker(workers)
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),)
    ) as pool:
        futures = {
            pool.submit(
                run_unit, [dataclasses.replace(s, progress=False) for s in unit], str(store.root), threads
            ): unit
            for unit in units
        }
        for future in cf.as_completed(futures):
            unit = futures[future]
            try:
                record(unit, future.result())
            except Exception as exc:  # noqa: BLE001
                record(unit, None, exc)
    return summary
