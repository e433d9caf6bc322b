"""The results store: ``<root>/runs/<suite>/<task>/<algo>[+<config_id>]/<seed>/`` per cell.

``<algo>`` is ``td3`` or ``td3@paper2018``; ``+<config_id>`` (8 hex digits, see ``runners/config.py``)
is added when ``--set`` changed the config, so two configs never share a folder. Stores written
before config ids existed have no ``+`` folders and read the same way: their runs are default-config runs.

- ``manifest.json``: cell, resolved config, protocol, provenance (git, packages, hardware), timing,
  throughput, parameter count and status (``running`` / ``complete`` / ``failed`` with reason).
- ``evals.csv``: one row per evaluation, appended and flushed as it happens.
- ``checkpoint/state.pt``: the latest resumable state (agent + loop), replaced atomically.

Every whole-file write goes to a temporary file in the same folder and is renamed over the old
one, so a kill at any moment leaves either the old or the new file, never half of one. This
module does not import torch (analysis reads the store too); checkpoint bytes come in as
callables that write to a path.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

EVAL_COLUMNS = ["step", "env_frames", "return_mean", "return_std", "returns", "wall_time"]
DIAGNOSTIC_COLUMNS = ["step", "env_frames", "metric", "value"]  # long format: one row per metric per evaluation


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp_path)`` then rename tmp over ``path`` (same folder, so the rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text))


def atomic_write_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, default=str, allow_nan=False)  # serialise first: a bad value writes nothing
    atomic_write_text(path, text + "\n")


def overrides_label(overrides: dict[str, Any]) -> str:
    """``{'lr': 0.001, 'hidden': [64, 64]}`` -> ``'hidden=(64, 64), lr=0.001'`` (sorted)."""
    def fmt(value: Any) -> str:
        if isinstance(value, (list, tuple)):
            return "(" + ", ".join(fmt(v) for v in value) + ")"
        return f"{value:g}" if isinstance(value, float) else str(value)

    return ", ".join(f"{k}={fmt(v)}" for k, v in sorted(overrides.items()))


def run_label(manifest: dict[str, Any]) -> str:
    """How reports name a run: ``td3``, or ``td3 [lr=0.001]`` when --set changed its config. Manifests
    written before config ids existed name their --set values in ``config_overrides`` only."""
    algo = manifest["cell"]["algo"]
    overrides = manifest["overrides"] if "overrides" in manifest else manifest.get("config_overrides")
    return f"{algo} [{overrides_label(overrides)}]" if overrides else algo


@dataclass(frozen=True)
class Cell:
    """One unit of work: an algorithm (with variant) on one task of one suite, one seed."""

    suite: str
    task: str
    algo: str  # "td3" or "td3@paper2018"
    seed: int
    config_id: str = ""  # hash of the --set values that changed the suite's config; "" for the suite's config

    @property
    def run_name(self) -> str:
        """The algorithm folder's name: ``td3``, or ``td3+1a2b3c4d`` for a config changed by --set."""
        return f"{self.algo}+{self.config_id}" if self.config_id else self.algo

    @property
    def label(self) -> str:
        return f"{self.suite}/{self.task}/{self.run_name}/seed{self.seed}"


class Store:
    def __init__(self, root: str | os.PathLike = "results"):
        self.root = Path(root)

    def cell_dir(self, cell: Cell) -> Path:
        return self.root / "runs" / cell.suite / cell.task / cell.run_name / str(cell.seed)

    def manifest_path(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / "manifest.json"

    def evals_path(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / "evals.csv"

    def diagnostics_path(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / "diagnostics.csv"

    def checkpoint_path(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / "checkpoint" / "state.pt"

    # -- manifest --------------------------------------------------------------------------------
    def read_manifest(self, cell: Cell) -> dict[str, Any] | None:
        path = self.manifest_path(cell)
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def write_manifest(self, cell: Cell, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.manifest_path(cell), manifest)

    def status(self, cell: Cell) -> str | None:
        manifest = self.read_manifest(cell)
        return manifest.get("status") if manifest else None

    def is_complete(self, cell: Cell) -> bool:
        return self.status(cell) == "complete"

    # -- evaluations -----------------------------------------------------------------------------
    def append_eval(self, cell: Cell, row: dict[str, Any]) -> None:
        path = self.evals_path(cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=EVAL_COLUMNS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow({k: row[k] for k in EVAL_COLUMNS})
        with open(path, "a") as f:  # one write of whole lines, flushed and synced per evaluation
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())

    def read_evals(self, cell: Cell) -> list[dict[str, str]]:
        path = self.evals_path(cell)
        if not path.exists():
            return []
        with open(path, newline="") as f:
            # a kill mid-write can leave a partial last line: keep complete rows only
            return [r for r in csv.DictReader(f) if r.get("wall_time") not in (None, "")]

    def truncate_evals(self, cell: Cell, max_step: int) -> int:
        """Keep rows with step <= max_step (drops evaluations made after the checkpoint we resume from)."""
        rows = [r for r in self.read_evals(cell) if int(r["step"]) <= max_step]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=EVAL_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: r[k] for k in EVAL_COLUMNS} for r in rows)
        atomic_write_text(self.evals_path(cell), buf.getvalue())
        return len(rows)

    # -- per-evaluation diagnostics (optional, e.g. latent rank) ------------------------------------
    def append_diagnostics(self, cell: Cell, step: int, env_frames: int, values: dict[str, float]) -> None:
        """One row per metric, appended and synced in one write, like evals.csv."""
        path = self.diagnostics_path(cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if not path.exists() or path.stat().st_size == 0:
            writer.writerow(DIAGNOSTIC_COLUMNS)
        writer.writerows([step, env_frames, name, repr(float(value))] for name, value in sorted(values.items()))
        with open(path, "a") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())

    def read_diagnostics(self, cell: Cell) -> list[dict[str, str]]:
        path = self.diagnostics_path(cell)
        if not path.exists():
            return []
        with open(path, newline="") as f:
            return [r for r in csv.DictReader(f) if r.get("value") not in (None, "")]

    def truncate_diagnostics(self, cell: Cell, max_step: int) -> int:
        """Keep rows with step <= max_step (as truncate_evals); no file, nothing to do."""
        if not self.diagnostics_path(cell).exists():
            return 0
        rows = [r for r in self.read_diagnostics(cell) if int(r["step"]) <= max_step]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=DIAGNOSTIC_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: r[k] for k in DIAGNOSTIC_COLUMNS} for r in rows)
        atomic_write_text(self.diagnostics_path(cell), buf.getvalue())
        return len(rows)

    # -- discovery -------------------------------------------------------------------------------
    def iter_cells(self) -> Iterator[Cell]:
        runs = self.root / "runs"
        for manifest in sorted(runs.glob("*/*/*/*/manifest.json")):
            seed_dir = manifest.parent
            try:
                seed = int(seed_dir.name)
            except ValueError:
                continue
            algo, _, config = seed_dir.parent.name.partition("+")
            yield Cell(seed_dir.parent.parent.parent.name, seed_dir.parent.parent.name, algo, seed, config)
