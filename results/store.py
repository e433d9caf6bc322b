"""The results store: ``<root>/runs/<suite>/<task>/<algo>[+<config_id>]/<seed>/`` per cell.

``<algo>`` is ``td3`` or ``td3@paper2018``; ``+<config_id>`` (8 hex digits, see ``runners/config.py``)
is added when ``--set`` changed the config, so two configs never share a folder. Stores written
before config ids existed have no ``+`` folders and read the same way: their runs are default-config runs.

- ``manifest.json``: cell, resolved config, protocol, provenance (git, packages, hardware), timing,
  throughput, parameter count and status (``running`` / ``complete`` / ``failed`` with reason).
- ``evals.csv``: one row per evaluation, appended and flushed as it happens.
- ``checkpoint/state.pt``: the latest resumable state (agent + loop), replaced atomically; plain data,
  read back with ``torch.load(weights_only=True)`` (``algorithms.common.safe_state``).
- ``.lock``: the one-writer lock of a running cell (``results.lock``), with the pid that held it last.

Every whole-file write goes to a temporary file in the same folder and is renamed over the old
one, so a kill at any moment leaves either the old or the new file, never half of one (temporary files
a killed writer left are removed when its cell starts again); files get the process umask's mode. This
module does not import torch (analysis reads the store too); checkpoint bytes come in as
callables that write to a path.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.vocabulary import current_names

EVAL_COLUMNS = ["step", "env_frames", "return_mean", "return_std", "returns", "wall_time"]
DIAGNOSTIC_COLUMNS = ["step", "env_frames", "metric", "value"]  # long format: one row per metric per evaluation


TMP_SUFFIX = ".tmp"  # atomic_write's temporary files: ``.<name>.<random>.tmp`` beside their target


def process_umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask can only set and return)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp_path)`` then rename tmp over ``path`` (same folder, so the rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~process_umask())  # mkstemp makes 0600; other files of the store follow the umask
    finally:
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
    text = json.dumps(
        obj, indent=2, sort_keys=True, default=str, allow_nan=False
    )  # serialise first: a bad value writes nothing
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
    written before config ids existed name their --set values in ``config_overrides`` only; old field names
    read as the current ones (``core.vocabulary``)."""
    algo = manifest["cell"]["algo"]
    overrides = manifest["overrides"] if "overrides" in manifest else manifest.get("config_overrides")
    overrides = current_names(algo, overrides)  # a run stored before a field rename is labelled as today's
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
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            raise UserError(
                f"{path}: unreadable manifest ({type(exc).__name__}); move or delete the folder "
                f"{path.parent} to run the cell again"
            ) from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("status", ""), str):
            raise UserError(
                f"{path}: not a latentbench manifest (a JSON object with cell, config, protocol, status); "
                f"move or delete the folder {path.parent} to run the cell again"
            )
        return manifest

    def write_manifest(self, cell: Cell, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.manifest_path(cell), manifest)

    def status(self, cell: Cell) -> str | None:
        manifest = self.read_manifest(cell)
        return manifest.get("status") if manifest else None

    def is_complete(self, cell: Cell) -> bool:
        return self.status(cell) == "complete"

    def mark_failed(self, cell: Cell, reason: str) -> bool:
        """Record a ``running`` cell as failed with ``reason`` (e.g. an OS error); a complete or missing
        manifest is left alone. On a full disk the atomic write cannot make its temporary file, so the
        manifest is then rewritten in place (truncating first frees its blocks)."""
        try:
            manifest = self.read_manifest(cell)
        except UserError:
            return False
        if not manifest or manifest.get("status") != "running":
            return False
        manifest.update(status="failed", reason=reason, end_time=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
        try:
            atomic_write_text(self.manifest_path(cell), text)
        except OSError:
            try:
                with open(self.manifest_path(cell), "w") as f:
                    f.write(text)
            except OSError:
                return False
        return True

    def remove_stale_temp_files(self, cell: Cell) -> list[Path]:
        """Temporary files left by a writer killed mid-write (call only while holding the cell's lock)."""
        stale = [p for p in self.cell_dir(cell).rglob(f".*{TMP_SUFFIX}") if p.is_file()]
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

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
