"""Planning a sweep: the grid of cells (algo[@variant] x task x seed), validated before anything runs.

Each cell carries its ``config_id`` (``runners/config.py``), so a run with other ``--set`` values is
another cell in another folder; a folder already holding a run under another protocol or config is
refused with one line, never overwritten or silently taken as done.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from algorithms.registry import info as algorithm_info
from core.errors import UserError
from core.vocabulary import current_names, to_current
from results.store import Cell, Store
from runners.config import ResolvedConfig, jsonable, resolve_run_config
from suites import get_suite, get_task
from suites.task import Task


@dataclass
class Plan:
    todo: list[Cell] = field(default_factory=list)  # to run (new, interrupted or failed before)
    done: list[Cell] = field(default_factory=list)  # complete in the store: skipped
    skipped: list[tuple[Cell, str]] = field(default_factory=list)  # algorithm cannot run this task
    agent_steps: int | None = None
    configs: dict[tuple[str, str], ResolvedConfig] = field(default_factory=dict)  # (algo, task) -> resolved config
    config_overrides: dict[str, Any] = field(default_factory=dict)

    def specs(
        self, device: str, *, progress: bool = True, wandb: Any = None, wait: bool = False, compile: bool = False
    ) -> list[RunSpec]:
        """The run descriptions of the cells to run, their --set values under the current field names (the
        plan noted any old name once; workers and manifests see only current names)."""
        return [
            RunSpec(
                cell,
                self.agent_steps,
                device,
                self.current_overrides(cell.algo),
                progress=progress,
                wandb=wandb,
                wait=wait,
                compile=compile and algorithm_info(cell.algo.partition("@")[0]).compile,
            )
            for cell in self.todo
        ]

    def current_overrides(self, algo: str) -> dict[str, Any]:
        resolved = next(r for (name, _), r in self.configs.items() if name == algo)
        fields = [f.name for f in dataclasses.fields(resolved.config)]
        return to_current(dict(self.config_overrides), fields, algo, note=False)


@dataclass
class RunSpec:
    """Everything that describes one run besides the store it writes to; made by ``Plan.specs``, it
    travels through a runner (pickled to a worker process or a Ray trial) to ``loop.train_run``."""

    cell: Cell
    agent_steps: int | None = None  # reduced budget (--steps); None = the task's
    device: str = "cpu"
    config_overrides: dict[str, Any] = field(default_factory=dict)  # the --set values
    checkpoint_every: int | None = None  # agent steps; None = the task's eval_every
    progress: bool = True
    wandb: Any = None  # runners.sinks.WandbSettings: log to W&B too
    sink: Any = None  # a runners.sinks.Sink object (in-process use); wins over ``wandb``
    wait: bool = False  # a cell another process is writing: wait for its lock (True) or skip it as busy
    compile: bool = False  # --compile: the agent's update through torch.compile (recorded in the manifest)

    def task(self) -> Task:
        return resolve_task(self.cell, self.agent_steps)

    def resolved(self) -> ResolvedConfig:
        resolved = resolve_run_config(self.cell.suite, self.cell.algo, self.cell.task, self.config_overrides)
        if self.cell.config_id != resolved.config_id:
            raise ValueError(
                f"cell {self.cell.label} has config id {self.cell.config_id or 'none'}, its --set values "
                f"give {resolved.config_id or 'none'}"
            )
        return resolved

    def make_sink(self):
        from runners.sinks import Sink, WandbSink

        return self.sink or (WandbSink(self.wandb) if self.wandb else Sink())


def resolve_task(cell: Cell, agent_steps: int | None = None) -> Task:
    task = get_task(get_suite(cell.suite), cell.task)
    if agent_steps is not None and agent_steps != task.agent_steps:
        task = task.with_budget(agent_steps)
    return task


def incompatibility(agent_cls: Any, task: Task) -> str | None:
    """Why this agent (an Agent class or its registry AlgoInfo) cannot run this task, or None when it can."""
    if task.action not in agent_cls.action_kinds:
        return f"{agent_cls.name} supports {'/'.join(agent_cls.action_kinds)} actions, task has {task.action} actions"
    if task.observation not in agent_cls.observation_kinds:
        return (
            f"{agent_cls.name} supports {'/'.join(agent_cls.observation_kinds)} observations, "
            f"task has {task.observation}"
        )
    return None


def stored_config(manifest: dict[str, Any]) -> Any:
    """The config a stored manifest ran with, under the current field names (``core.vocabulary``: a run
    stored before a rename reads as if written today). Manifests written before configs carried their sources
    recorded the agent's ``start_steps`` in ``config`` and the warm-up that ran in ``warmup_steps``."""
    algo = manifest.get("algo") or (manifest.get("cell") or {}).get("algo") or ""
    config = current_names(algo, manifest.get("config"))
    if "config_sources" not in manifest and "start_steps" in config and manifest.get("warmup_steps") is not None:
        config["start_steps"] = manifest["warmup_steps"]
    return config


def conflict(manifest: dict[str, Any], task: Task, resolved: ResolvedConfig) -> str | None:
    """Why a stored manifest is not a run of this cell (another protocol or config), or None."""
    stored = manifest.get("protocol", {})
    if stored.get("protocol_id") != task.protocol()["protocol_id"]:
        return f"another protocol (agent_steps {stored.get('agent_steps')}, wanted {task.agent_steps})"
    ours = resolved.as_dict()
    theirs = stored_config(manifest)
    if theirs != ours:
        diff = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        return f"another config ({', '.join(f'{k} {theirs.get(k)!r} vs {ours.get(k)!r}' for k in diff[:3])})"
    return None


def make_plan(
    suite_name: str,
    algos: list[str],
    tasks: list[str] | None,
    seeds: list[int],
    store: Store,
    agent_steps: int | None = None,
    config_overrides: dict | None = None,
) -> Plan:
    suite = get_suite(suite_name)
    task_list = [get_task(suite, t) for t in tasks] if tasks else list(suite.tasks)
    if agent_steps is not None and agent_steps <= 0:
        raise UserError(f"--steps must be positive, got {agent_steps}")
    plan = Plan(agent_steps=agent_steps, config_overrides=dict(config_overrides or {}))
    # resolving every (algo, task) first raises UserError for unknown algorithms, variants or config fields before
    # anything runs
    for algo in algos:
        for task in task_list:
            plan.configs[algo, task.name] = resolve_run_config(suite.name, algo, task.name, config_overrides)
    for algo in algos:
        for task in task_list:
            resolved = plan.configs[algo, task.name]
            why = incompatibility(resolved.algo, task)
            for seed in seeds:
                cell = Cell(suite.name, task.name, algo, seed, resolved.config_id)
                if why:
                    plan.skipped.append((cell, why))
                    continue
                manifest = store.read_manifest(cell)
                if manifest is None and _complete_before_rename(store, cell, resolved, agent_steps, plan):
                    continue
                if manifest is not None:
                    other = conflict(manifest, resolve_task(cell, agent_steps), resolved)
                    if other:
                        raise UserError(
                            f"{store.cell_dir(cell)} holds a run under {other}; use another --out or delete that folder"
                        )
                    if manifest.get("status") == "complete":
                        plan.done.append(cell)
                        continue
                plan.todo.append(cell)
    return plan


def _complete_before_rename(
    store: Store, cell: Cell, resolved: ResolvedConfig, agent_steps: int | None, plan: Plan
) -> bool:
    """A complete run of this config stored before a field rename, in the folder its old names hashed to:
    taken as done (an incomplete one is left as it is; the cell runs in its current folder)."""
    for legacy_id in resolved.legacy_config_ids:
        old = dataclasses.replace(cell, config_id=legacy_id)
        manifest = store.read_manifest(old)
        if (
            manifest is not None
            and manifest.get("status") == "complete"
            and conflict(manifest, resolve_task(cell, agent_steps), resolved) is None
        ):
            plan.done.append(old)
            return True
    return False


__all__ = ["Plan", "RunSpec", "conflict", "incompatibility", "jsonable", "make_plan", "resolve_task", "stored_config"]
