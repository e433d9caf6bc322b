"""Planning a sweep: the grid of cells (algo[@variant] x task x seed), validated before anything runs."""
from __future__ import annotations

from dataclasses import dataclass, field

from bench.errors import UserError
from results.store import Cell, Store
from runners.loop import incompatibility, resolve_config, resolve_task
from suites import get_suite, get_task


@dataclass
class Plan:
    todo: list[Cell] = field(default_factory=list)  # to run (new, interrupted or failed before)
    done: list[Cell] = field(default_factory=list)  # complete in the store: skipped
    skipped: list[tuple[Cell, str]] = field(default_factory=list)  # algorithm cannot run this task
    agent_steps: int | None = None


def make_plan(suite_name: str, algos: list[str], tasks: list[str] | None, seeds: list[int], store: Store,
              agent_steps: int | None = None, config_overrides: dict | None = None) -> Plan:
    suite = get_suite(suite_name)
    task_list = [get_task(suite, t) for t in tasks] if tasks else list(suite.tasks)
    # resolving first raises UserError for unknown algorithms, variants or config fields before anything runs
    agents = {algo: resolve_config(suite.name, algo, config_overrides)[0] for algo in algos}
    if agent_steps is not None and agent_steps <= 0:
        raise UserError(f"--steps must be positive, got {agent_steps}")
    plan = Plan(agent_steps=agent_steps)
    for algo in algos:
        for task in task_list:
            why = incompatibility(agents[algo], task)
            for seed in seeds:
                cell = Cell(suite.name, task.name, algo, seed)
                if why:
                    plan.skipped.append((cell, why))
                    continue
                manifest = store.read_manifest(cell)
                if manifest is not None:
                    stored = manifest.get("protocol", {}).get("protocol_id")
                    wanted = resolve_task(cell, agent_steps).protocol()["protocol_id"]
                    if stored != wanted:
                        raise UserError(
                            f"{store.cell_dir(cell)} holds a run under another protocol "
                            f"(agent_steps {manifest['protocol'].get('agent_steps')}, wanted "
                            f"{resolve_task(cell, agent_steps).agent_steps}); use another --out or delete that folder"
                        )
                    if manifest.get("status") == "complete":
                        plan.done.append(cell)
                        continue
                plan.todo.append(cell)
    return plan
