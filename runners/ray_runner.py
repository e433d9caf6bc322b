"""The Ray Tune runner: each unit of work is one trial running what the local runner runs (``run_unit``): one
cell, or with ``--seed-batch S`` a seed group of up to S cells trained in one process (``seed_groups``), so
``--gpus-per-trial`` and ``--seed-batch`` together decide how a GPU is shared (0.5 and 8: two groups of
eight seeds per GPU).

Design: the results store is the checkpoint. A trial writes straight into ``<out>/runs/...`` (on a
multi-node cluster ``--out`` must be a shared filesystem path that every node can write), so

- a failed trial retried by Tune (``--max-failures``) resumes from its cell's last checkpoint (a seed
  group: each seed from its own, a finished seed is not trained again);
- re-running the same command after the driver died plans again from the store: complete cells are
  skipped, interrupted ones resume; no Tune experiment state needs restoring;
- a cell that still fails is stored as ``failed`` with its reason and the rest of the sweep completes.

Ray is kept quiet and offline: no dashboard, no usage stats, no worker log forwarding.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

QUIET_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_DEDUP_LOGS": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
}
for _key, _value in QUIET_ENV.items():  # before ray is imported
    os.environ.setdefault(_key, _value)

import ray  # noqa: E402
from ray import tune  # noqa: E402

from core.errors import UserError  # noqa: E402
from results.lock import CellBusy, CellLock  # noqa: E402
from results.store import Cell, Store  # noqa: E402
from runners.grid import RunSpec  # noqa: E402
from runners.local import Summary, run_unit, seed_groups  # noqa: E402
from runners.sinks import WandbSettings  # noqa: E402


def _check_address(address: str | None) -> None:
    """Fail fast with one line on an unreachable HOST:PORT instead of letting ray.init retry for minutes."""
    if address in (None, "auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"bad --address {address!r}; valid: auto, local, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        raise UserError(
            f"--address {address}: cannot reach a Ray head there ({exc.strerror or exc}); "
            f"start one with 'ray start --head' or check the address"
        ) from None


def _init_ray(address: str | None, num_cpus: int | None):
    _check_address(address)
    kwargs: dict[str, Any] = dict(
        include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR, configure_logging=True
    )
    try:
        if address in (None, "local"):
            ray.init(num_cpus=num_cpus, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except ConnectionError as exc:
        raise UserError(f"--address {address}: {str(exc).splitlines()[0]}") from None
    for name in ("ray", "ray.tune", "ray.train", "ray.air"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # trial errors are reported by our summary


def _trial(config: dict[str, Any]) -> None:
    """One Tune trial = one unit (a cell or a seed group). Raises on failure so Tune retries it (the store
    holds the checkpoints)."""
    specs = [
        RunSpec(
            **{
                **run,
                "cell": Cell(**run["cell"]),
                "wandb": WandbSettings(**run["wandb"]) if run["wandb"] else None,
                "device": config["device"],
                "progress": False,
            }
        )
        for run in config["unit"]
    ]
    threads = max(1, int(config["cpus_per_trial"]))
    manifests = run_unit(specs, config["root"], threads)
    returns = [m.get("final_return") for m in manifests if m.get("final_return") is not None]
    tune.report(
        {
            "status": ",".join(m["status"] for m in manifests),
            "final_return": sum(returns) / len(returns) if returns else float("nan"),
        }
    )


def run_ray(
    specs: list[RunSpec],
    store: Store,
    *,
    address: str | None = None,
    cpus_per_trial: float = 1,
    gpus_per_trial: float = 0,
    max_concurrent: int | None = None,
    max_failures: int = 2,
    num_cpus: int | None = None,
    progress: bool = True,
    seed_batch: int = 1,
) -> Summary:
    """Run ``specs`` as Ray Tune trials, one per unit (``seed_groups``: a cell, or up to ``seed_batch`` seeds
    of one algorithm and task); returns the summary read back from the store, per cell."""
    if cpus_per_trial <= 0 or gpus_per_trial < 0:
        raise UserError(
            f"bad resources: --cpus-per-trial {cpus_per_trial} must be > 0, --gpus-per-trial {gpus_per_trial} >= 0"
        )
    _init_ray(address, num_cpus)
    try:
        total = ray.cluster_resources()
        if cpus_per_trial > total.get("CPU", 0) or gpus_per_trial > total.get("GPU", 0):
            raise UserError(
                f"impossible resources: a trial asks for {cpus_per_trial} CPU / {gpus_per_trial} GPU, "
                f"the cluster has {total.get('CPU', 0):g} CPU / {total.get('GPU', 0):g} GPU"
            )
        device = specs[0].device if specs else "cpu"
        if gpus_per_trial > 0 and device == "cpu":
            device = "cuda"
        root = str(Path(store.root).resolve())
        # plain data: Tune's param space must be serialisable
        units = [[{**asdict(s), "sink": None} for s in unit] for unit in seed_groups(specs, seed_batch)]
        param_space = {
            "unit": tune.grid_search(units),
            "root": root,
            "device": device,
            "cpus_per_trial": cpus_per_trial,
        }
        progress_cb = _Progress(len(units), progress)
        tuner = tune.Tuner(
            tune.with_resources(_trial, {"cpu": cpus_per_trial, "gpu": gpus_per_trial}),
            param_space=param_space,
            tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent),
            run_config=tune.RunConfig(
                name=f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}",
                storage_path=str(Path(root) / "ray"),
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=max_failures),
                callbacks=[progress_cb],
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            ),
        )
        tuner.fit()  # does not raise on trial errors: the store says what happened to each cell
        progress_cb.close()
    finally:
        ray.shutdown()

    summary = Summary()
    for spec in specs:
        cell = spec.cell
        manifest = store.read_manifest(cell) or {"status": "failed", "reason": "the trial never started"}
        if manifest.get("status") == "running":  # left running: by a dead trial, or another process writes it now
            try:
                CellLock(store.cell_dir(cell)).acquire().release()
            except CellBusy as exc:
                manifest = {"status": "busy", "reason": str(exc)}
        summary.record(cell, manifest)
    return summary


def _label(trial) -> str:
    cells = [run["cell"] for run in trial.config["unit"]]
    seeds = ",".join(str(c["seed"]) for c in cells)
    return f"{cells[0]['task']} seed{'s' if len(cells) > 1 else ''} {seeds}"


class _Progress(tune.Callback):
    """One bar over trials (cells, or seed groups) in the driver's terminal."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="trial", desc="ray sweep", file=sys.stderr, dynamic_ncols=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        if self.bar is not None:
            self.bar.update(1)

    def on_trial_recover(self, iteration, trials, trial, **info):
        if self.bar is not None:
            self.bar.set_postfix_str(f"retrying {_label(trial)}", refresh=True)

    def on_trial_error(self, iteration, trials, trial, **info):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"failed: {_label(trial)}", refresh=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
