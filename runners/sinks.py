"""Optional metric sinks of the training loop. The results store stays the source of truth.

``WandbSink`` logs a cell's training metrics and evaluations to Weights & Biases. It honours
``WANDB_MODE`` (``offline`` needs no network and no login; ``disabled`` is a no-op) and keeps
its files in the cell's folder of the store (``<cell>/wandb/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WandbSettings:
    project: str = "latentbench"
    entity: str | None = None
    group: str | None = None


class Sink:
    """The loop calls ``start`` once (its return value is merged into the manifest), ``metrics`` every
    1000 agent steps, ``evaluation`` per evaluation row and ``finish`` at the end."""

    def start(self, cell, manifest: dict[str, Any], cell_dir: Path) -> dict[str, Any]:
        return {}

    def metrics(self, step: int, values: dict[str, float]) -> None:
        pass

    def evaluation(self, step: int, row: dict[str, Any]) -> None:
        pass

    def finish(self, status: str) -> None:
        pass


class WandbSink(Sink):
    def __init__(self, settings: WandbSettings):
        self.settings, self.run = settings, None

    def start(self, cell, manifest, cell_dir):
        import wandb

        run_id = manifest.get("wandb", {}).get("run_id")  # a resumed cell continues its W&B run
        self.run = wandb.init(
            project=self.settings.project,
            entity=self.settings.entity,
            group=self.settings.group or cell.suite,
            name=cell.label,
            id=run_id,
            resume="allow" if run_id else None,
            dir=str(cell_dir),
            config={"cell": manifest["cell"], "config": manifest["config"], "protocol": manifest["protocol"]},
            reinit="finish_previous",
        )
        return {
            "wandb": {
                "run_id": self.run.id,
                "project": self.settings.project,
                "entity": self.settings.entity,
                "mode": getattr(self.run.settings, "mode", None),
            }
        }

    def metrics(self, step, values):
        self.run.log({f"train/{k}": v for k, v in values.items()}, step=step)

    def evaluation(self, step, row):
        self.run.log(
            {
                "eval/return_mean": row["return_mean"],
                "eval/return_std": row["return_std"],
                "eval/env_frames": row["env_frames"],
            },
            step=step,
        )

    def finish(self, status):
        if self.run is not None:
            self.run.finish(exit_code=0 if status == "complete" else 1)
            self.run = None
