"""The one training loop every algorithm runs under, whatever the runner (local or Ray), in pieces:

- ``RunSpec`` (runners/grid.py): the description of one run (cell, budget, device, --set values,
  checkpoint cadence, progress, sinks), made by the plan and handed through a runner to ``train_run``;
- ``Stepper``: the stepping core, one agent step at a time: uniform warm-up, act, env step, observe,
  update (TD3 main.py: once per step once t >= start_timesteps). Benchmarks and tests use it too;
- ``Evaluator``: K deterministic episodes on a separate env (stream ``eval_env``), with the
  protocol's epsilon-random actions (stream ``eval_epsilon``);
- ``Checkpoint``: save/restore of the agent, the loop counters and every RNG (both envs, the
  warm-up sampler, Python's and numpy's global RNGs);
- ``RunRecord``: the manifest's lifecycle, ``running`` -> ``complete`` or ``failed`` with a reason.

Schedule: evaluate at step 0, every ``task.eval_every`` agent steps and at the end; checkpoint at the
first episode end after every ``checkpoint_every`` steps. Seeds: one stream per consumer from
``bench/seeding.py``, all recorded in the manifest.

Resume: checkpoints are taken at episode boundaries and hold everything above, so a resumed run
continues exactly as an uninterrupted one would. Evaluation rows written after the checkpoint are
dropped on resume and recomputed, so none is lost or duplicated.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from algorithms.base import Agent, Transition, action_kind, observation_kind
from algorithms.common.safe_state import first_line, load_state, save_state
from algorithms.registry import info as algorithm_info
from core import seeding
from core.errors import Diverged, UserError
from core.provenance import git_state, provenance
from core.vocabulary import to_current
from results.store import Cell, Store, atomic_write
from runners.cell_guard import guarded
from runners.config import ResolvedConfig, jsonable, resolve_run_config
from runners.grid import RunSpec, conflict, incompatibility, resolve_task  # noqa: F401  (re-exported)
from runners.sinks import Sink
from suites.envs import get_env_rng_state, set_env_rng_state
from suites.task import Task

CHECK_EVERY = 1000  # agent steps between finiteness checks of the update metrics (one host sync each)


# -- configuration ------------------------------------------------------------------------------


def resolve_config(
    suite: str, algo: str, config_overrides: dict[str, Any] | None = None, task: str | None = None
) -> tuple[type[Agent], Any]:
    """The agent class and its config: paper defaults <- variant <- suite <- task (warm-up, overrides) <- --set."""
    resolved = resolve_run_config(suite, algo, task, config_overrides)
    return resolved.agent_cls, resolved.config


# -- the stepping core ----------------------------------------------------------------------------


class Stepper:
    """One agent step at a time on ``env``: uniform random actions for the first ``warmup`` steps
    (the env's action space sampler), then ``agent.act(explore=True)`` and one ``agent.update(t)``
    per step. The first reset uses ``reset_seed``; episodes restart on their own."""

    def __init__(self, env, agent: Agent, warmup: int, reset_seed: int | None = None):
        self.env, self.agent, self.warmup = env, agent, int(warmup)
        self.reset_seed = reset_seed
        self.obs: Any = None
        self.episode_done = True  # the next step resets the env
        self.updates, self.update_time = 0, 0.0

    def step(self, t: int) -> dict[str, torch.Tensor]:
        """Agent step ``t``; returns the update's metrics ({} in the warm-up)."""
        if self.episode_done:
            self.obs, _ = self.env.reset(seed=self.reset_seed)
            self.reset_seed, self.episode_done = None, False
        action = self.env.action_space.sample() if t < self.warmup else self.agent.act(self.obs, explore=True)
        next_obs, reward, terminated, truncated, _ = self.env.step(action)
        self.agent.observe(
            Transition(self.obs, np.asarray(action), float(reward), next_obs, bool(terminated), bool(truncated))
        )
        self.obs, self.episode_done = next_obs, bool(terminated or truncated)
        if t < self.warmup:
            return {}
        start = time.perf_counter()
        metrics = self.agent.update(t)
        self.update_time += time.perf_counter() - start
        self.updates += 1
        return metrics

    def run(self, steps: int, start: int = 0) -> dict[str, torch.Tensor]:
        """Steps ``start .. start + steps - 1``; returns the last metrics."""
        metrics: dict[str, torch.Tensor] = {}
        for t in range(start, start + steps):
            metrics = self.step(t) or metrics
        return metrics


# -- evaluation -----------------------------------------------------------------------------------


def evaluate(
    agent: Agent, env, episodes: int, first_seed: int | None, epsilon: float = 0.0, epsilon_seed: int | None = None
) -> list[float]:
    """Undiscounted returns of ``episodes`` full episodes of the deterministic policy (with an
    epsilon-random action where the protocol asks for it, drawn from the eval env's action space,
    seeded ``epsilon_seed`` (default ``first_seed``) on the first call)."""
    returns = []
    if first_seed is not None:
        env.action_space.seed(first_seed if epsilon_seed is None else epsilon_seed)
    for i in range(episodes):
        obs, _ = env.reset(seed=first_seed if i == 0 else None)
        done, total = False, 0.0
        while not done:
            if epsilon > 0 and env.action_space.np_random.random() < epsilon:
                action = env.action_space.sample()
            else:
                action = agent.act(obs, explore=False)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


class Evaluator:
    """The evaluation env of a run: seeded on its first evaluation, continuing across later ones."""

    def __init__(self, env, task: Task, seeds: dict[str, int]):
        self.env, self.episodes, self.epsilon = env, task.eval_episodes, task.eval_epsilon
        self.seeds = seeds
        self.started = False

    def __call__(self, agent: Agent) -> list[float]:
        first = None if self.started else self.seeds["eval_env"]
        self.started = True
        return evaluate(agent, self.env, self.episodes, first, self.epsilon, self.seeds["eval_epsilon"])

    def rng_state(self) -> dict[str, Any] | None:
        if not self.started:
            return None
        return {"env": get_env_rng_state(self.env), "action_space": self.env.action_space.np_random.bit_generator.state}

    def restore(self, state: dict[str, Any] | None) -> None:
        if state is None:
            return
        self.env.reset(seed=self.seeds["eval_env"])  # build the env's RNG, then overwrite it with the saved state
        set_env_rng_state(self.env, state["env"])
        self.env.action_space.np_random.bit_generator.state = state["action_space"]
        self.started = True


# -- checkpoint -----------------------------------------------------------------------------------


@dataclass
class Counters:
    step: int = 0
    episodes: int = 0
    updates: int = 0
    train_time: float = 0.0
    eval_time: float = 0.0
    update_time: float = 0.0
    last_eval: float | None = None


class Checkpoint:
    """The resumable state of a run at an episode boundary, in ``path`` (replaced atomically)."""

    def __init__(self, path):
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def save(
        self,
        agent: Agent,
        counters: Counters,
        stepper: Stepper,
        evaluator: Evaluator,
        agent_state: dict[str, Any] | None = None,
    ) -> None:
        state = {
            "agent": agent.state_dict() if agent_state is None else agent_state,
            "loop": dataclasses.asdict(counters),
            "env_rng": get_env_rng_state(stepper.env),
            "action_space_rng": stepper.env.action_space.np_random.bit_generator.state,
            "evaluator_rng": evaluator.rng_state(),
            "python_rng": random.getstate(),
            "numpy_global_rng": np.random.get_state(),
            "written_by": git_state()["sha"],  # the commit that wrote it: names the cause when a layout changed
        }
        atomic_write(self.path, lambda p: save_state(state, p))  # plain data only: loads with weights_only=True

    def load(self, device: str) -> dict[str, Any]:
        """The saved state; a crafted pickle or a corrupt file is a UserError naming it
        (algorithms.common.safe_state)."""
        return load_state(self.path, device, remedy=f"; delete it (rm {self.path}) to restart the cell")

    def restore(
        self,
        agent: Agent,
        stepper: Stepper,
        evaluator: Evaluator,
        seeds: dict[str, int],
        state: dict[str, Any] | None = None,
    ) -> Counters:
        state = self.load(agent.device) if state is None else state
        try:
            agent.load_state_dict(state["agent"])
            counters = Counters(**state["loop"])
        except Exception as exc:  # noqa: BLE001
            raise UserError(self._unfit(state.get("written_by"), exc)) from None
        stepper.env.reset(seed=seeds["train_env"])  # build the env's RNG, then overwrite it with the saved state
        set_env_rng_state(stepper.env, state["env_rng"])
        stepper.env.action_space.np_random.bit_generator.state = state["action_space_rng"]
        stepper.reset_seed = None
        if "evaluator_rng" in state:
            evaluator.restore(state["evaluator_rng"])
        elif state.get("eval_env_rng") is not None:  # a checkpoint written before Evaluator existed
            evaluator.restore({"env": state["eval_env_rng"], "action_space": state["eval_action_space_rng"]})
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_global_rng"])
        stepper.updates, stepper.update_time = counters.updates, counters.update_time
        return counters

    def _unfit(self, written_by: str | None, exc: Exception) -> str:
        """The one-line error for a checkpoint the agent cannot load: a layout from another version of the code
        says so (which commit wrote it), rather than calling the file corrupt."""
        remedy = f"delete it (rm {self.path}) to restart the cell"
        current = git_state()["sha"]
        cause = f"{type(exc).__name__}: {first_line(exc)}"
        if written_by is None or (current is not None and written_by != current):
            writer = f"at commit {written_by[:10]}" if written_by else "before checkpoints recorded their version"
            return (
                f"checkpoint {self.path} was written by latentbench {writer} and does not fit this version's agent "
                f"({cause}): its state layout changed since; {remedy}, or resume it with that version"
            )
        return f"corrupt checkpoint {self.path} ({cause}); {remedy}"

    def remove(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


# -- the run record (manifest lifecycle) ----------------------------------------------------------


class RunRecord:
    """The manifest of one cell in the store, and the sink that mirrors it."""

    def __init__(self, store: Store, cell: Cell, sink: Sink | None):
        self.store, self.cell, self.sink = store, cell, sink or Sink()
        self.manifest: dict[str, Any] = {}

    def start(self, existing: dict | None, spec: RunSpec, task: Task, resolved: ResolvedConfig, agent: Agent) -> None:
        self.manifest = existing or {
            "cell": dataclasses.asdict(self.cell),
            "algo": self.cell.algo.partition("@")[0],
            "variant": self.cell.algo.partition("@")[2] or None,
            "config": resolved.as_dict(),
            "config_sources": resolved.sources,  # field -> paper default / variant / suite / task / --set
            "config_id": self.cell.config_id,
            "overrides": jsonable(resolved.overrides),  # what --set changed: the run's identity and report label
            "config_overrides": jsonable(dict(spec.config_overrides)),  # the --set values as given (reproduce command)
            "protocol": task.protocol(),
            "warmup_steps": resolved.warmup_steps,
            "warmup_source": resolved.warmup_source,
            # the agent's declaration (algorithms.registry): curve checks of reduced budgets rely on it
            "budget_dependent_fields": list(algorithm_info(self.cell.algo.partition("@")[0]).budget_dependent_fields),
            "seeding": seeding.record(self.cell.seed),
            "num_parameters": agent.num_parameters(),
            "compile": spec.compile,  # the update through torch.compile in the last training segment
            "start_time": _now(),
            "resumes": 0,
        }
        for key in ("seed_batch", "seed_batch_members"):  # set again by a seed batch; an unbatched resume drops them
            self.manifest.pop(key, None)
        self.manifest.update(provenance(spec.device))
        self.manifest.update(status="running", reason=None)
        self.manifest.update(self.sink.start(self.cell, self.manifest, self.store.cell_dir(self.cell)))

    def resumed(self) -> None:
        self.manifest["resumes"] = self.manifest.get("resumes", 0) + 1

    def write(self, **fields: Any) -> None:
        self.manifest.update(fields)
        self.store.write_manifest(self.cell, self.manifest)

    def failed(self, exc: BaseException) -> None:
        self.write(status="failed", reason=f"{type(exc).__name__}: {exc}", end_time=_now())
        self.sink.finish("failed")

    def complete(self, counters: Counters, task: Task, warmup: int) -> None:
        c = counters
        self.write(
            status="complete",
            end_time=_now(),
            checkpoint_step=None,
            wall_clock_s=round(c.train_time + c.eval_time, 2),
            train_time_s=round(c.train_time, 2),
            eval_time_s=round(c.eval_time, 2),
            agent_steps_done=c.step,
            episodes=c.episodes,
            updates=c.updates,
            steps_per_sec=round(c.step / max(c.train_time, 1e-9), 2),
            updates_per_sec=round(c.updates / max(c.update_time, 1e-9), 2) if c.updates else None,
            post_warmup_steps=max(0, task.agent_steps - warmup),
            final_return=c.last_eval,
        )
        self.sink.finish("complete")


# -- the loop -------------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class _Run:
    """The live pieces of one run, built by ``_build``."""

    spec: RunSpec
    task: Task
    resolved: ResolvedConfig
    agent: Agent
    stepper: Stepper
    evaluator: Evaluator
    checkpoint: Checkpoint
    record: RunRecord
    counters: Counters = field(default_factory=Counters)
    bar: Any = None
    next_checkpoint: int = 0  # agent step after which the next episode end checkpoints
    metrics: dict = field(default_factory=dict)  # the last update's metrics
    segment_start: float = 0.0  # perf_counter at the start of the current training segment


def _build(spec: RunSpec, store: Store, existing: dict | None) -> _Run:
    task, resolved, cell = spec.task(), spec.resolved(), spec.cell
    seeds = seeding.derived_seeds(cell.seed)
    seed_everything(seeds["agent_init"])
    env, eval_env = task.make(seeds["train_env"]), task.make(seeds["eval_env"])
    env.action_space.seed(seeds["warmup"])
    if action_kind(env.action_space) != task.action or observation_kind(env.observation_space) != task.observation:
        raise RuntimeError(
            f"task {task.name} declares {task.action}/{task.observation} but its env has "
            f"{action_kind(env.action_space)}/{observation_kind(env.observation_space)}"
        )
    agent = resolved.agent_cls(env.observation_space, env.action_space, resolved.config, spec.device, cell.seed)
    if spec.compile:  # CUDA graphs on a GPU; inductor alone on CPU
        agent.compile_update("reduce-overhead" if agent.device.type == "cuda" else None)
    record = RunRecord(store, cell, spec.make_sink())
    record.start(existing, spec, task, resolved, agent)
    return _Run(
        spec,
        task,
        resolved,
        agent,
        Stepper(env, agent, resolved.warmup_steps, seeds["train_env"]),
        Evaluator(eval_env, task, seeds),
        Checkpoint(store.checkpoint_path(cell)),
        record,
    )


def _resume_or_clean(run: _Run, store: Store, state: dict[str, Any] | None) -> None:
    cell = run.spec.cell
    if state is not None:
        run.counters = run.checkpoint.restore(run.agent, run.stepper, run.evaluator, run.evaluator.seeds, state)
        run.record.resumed()
        store.truncate_evals(cell, run.counters.step)
        store.truncate_diagnostics(cell, run.counters.step)
    else:  # a previous attempt died before its first checkpoint: start clean
        store.evals_path(cell).unlink(missing_ok=True)
        store.diagnostics_path(cell).unlink(missing_ok=True)
    run.record.write()


def _evaluate(run: _Run, store: Store, step: int) -> None:
    c, task, cell = run.counters, run.task, run.spec.cell
    start = time.perf_counter()
    returns = run.evaluator(run.agent)
    c.eval_time += time.perf_counter() - start
    mean = float(np.mean(returns))
    if not math.isfinite(mean):
        raise Diverged(f"non-finite evaluation return at agent step {step}")
    row = {
        "step": step,
        "env_frames": step * task.action_repeat,
        "return_mean": round(mean, 6),
        "return_std": round(float(np.std(returns)), 6),
        "returns": " ".join(f"{r:.6g}" for r in returns),
        "wall_time": round(c.train_time + c.eval_time, 3),
    }
    store.append_eval(cell, row)
    diagnostics = run.agent.diagnostics()
    if diagnostics:
        store.append_diagnostics(cell, step, step * task.action_repeat, diagnostics)
    c.last_eval = mean
    run.record.sink.evaluation(step, row)
    if run.bar is not None:
        run.bar.set_postfix_str(f"eval {mean:.1f}", refresh=False)


def _check_finite(metrics: dict[str, torch.Tensor], step: int) -> None:
    if not metrics:
        return
    values = torch.stack([v.detach().float().reshape(()) for v in metrics.values()])
    if not bool(torch.isfinite(values).all()):
        bad = [k for k, v in metrics.items() if not math.isfinite(float(v))]
        raise Diverged(f"non-finite {', '.join(bad)} at agent step {step}")


def _train_steps(run: _Run, store: Store) -> None:
    """Agent steps from the counters' step to the budget, with evaluations and checkpoints."""
    _begin(run, store)
    while run.counters.step < run.task.agent_steps:
        _advance(run, store, run.stepper.step(run.counters.step))
    _check_finite(run.metrics, run.counters.step)


def _begin(run: _Run, store: Store) -> None:
    """Before the first step of this attempt: the step-0 evaluation of a fresh run, the checkpoint schedule."""
    c = run.counters
    if c.step == 0 and c.last_eval is None:
        _evaluate(run, store, 0)
    every = run.spec.checkpoint_every or run.task.eval_every
    run.next_checkpoint = (c.step // every + 1) * every
    run.segment_start = time.perf_counter()


def _advance(run: _Run, store: Store, metrics: dict[str, torch.Tensor], agent_state=None) -> None:
    """After the stepper took agent step ``counters.step``: counters, finiteness checks and metrics every
    CHECK_EVERY steps, evaluations and checkpoints on schedule. ``agent_state`` (a callable) gives the state a
    checkpoint saves when it is not ``agent.state_dict()`` (a seed batch's seed)."""
    c, task, stepper = run.counters, run.task, run.stepper
    run.metrics = metrics or run.metrics
    c.step = step = c.step + 1
    c.updates, c.update_time = stepper.updates, stepper.update_time
    if step % CHECK_EVERY == 0:
        _inject_fault(run.spec.cell, step, store)
        if run.metrics:
            _check_finite(run.metrics, step)
            run.record.sink.metrics(step, {k: float(v) for k, v in run.metrics.items()})
    if run.bar is not None and step % 100 == 0:
        run.bar.update(step - run.bar.n)
    evaluating = step % task.eval_every == 0 or step == task.agent_steps
    checkpointing = stepper.episode_done and run.next_checkpoint <= step < task.agent_steps
    if stepper.episode_done:
        c.episodes += 1
    if evaluating or checkpointing:
        c.train_time += time.perf_counter() - run.segment_start
        if evaluating:
            _evaluate(run, store, step)
        if checkpointing:
            run.checkpoint.save(run.agent, c, stepper, run.evaluator, agent_state() if agent_state else None)
            run.record.write(checkpoint_step=step)
            every = run.spec.checkpoint_every or task.eval_every
            run.next_checkpoint = (step // every + 1) * every
        run.segment_start = time.perf_counter()


def _progress_bar(run: _Run):
    if not run.spec.progress:
        return None
    from tqdm import tqdm

    return tqdm(
        total=run.task.agent_steps,
        initial=run.counters.step,
        unit="step",
        desc=run.spec.cell.label,
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=1.0,
        leave=True,
    )


def _stored(spec: RunSpec, store: Store) -> tuple[dict | None, dict[str, Any] | None]:
    """(the cell's manifest, its checkpoint's state), each None when absent; a manifest of another protocol or
    config, or a refused checkpoint, is a UserError before anything is written."""
    existing = store.read_manifest(spec.cell)
    if existing is not None:
        why = conflict(existing, spec.task(), spec.resolved())
        if why:
            raise UserError(
                f"{store.cell_dir(spec.cell)} holds a run under {why}; use another --out or delete that folder"
            )
        if existing.get("status") == "complete":
            return existing, None
    checkpoint = Checkpoint(store.checkpoint_path(spec.cell))
    return existing, checkpoint.load(spec.device) if checkpoint.exists() else None


@guarded  # the cell's lock (spec.wait waits for another writer), stale temp files removed, OS errors recorded
def train_run(spec: RunSpec, store: Store) -> dict[str, Any]:
    """Train one cell to completion (or resume it) and return its final manifest."""
    existing, state = _stored(spec, store)
    if existing is not None and existing.get("status") == "complete":
        return existing
    run = _build(spec, store, existing)
    try:
        _resume_or_clean(run, store, state)
        run.bar = _progress_bar(run)
        _train_steps(run, store)
    except KeyboardInterrupt:
        run.record.sink.finish("interrupted")
        raise
    except Exception as exc:
        run.record.failed(exc)
        if isinstance(exc, (Diverged, UserError)):
            return run.record.manifest
        raise
    finally:
        if run.bar is not None:
            run.bar.close()
        run.stepper.env.close()
        run.evaluator.env.close()
    return _finish(run, store)


def _finish(run: _Run, store: Store) -> dict[str, Any]:
    """A run that reached its budget: the resumable checkpoint (with the replay buffer) is replaced by the
    final networks only, and the manifest says complete."""
    final = {"modules": {k: m.state_dict() for k, m in run.agent.modules().items()}, "config": run.resolved.as_dict()}
    atomic_write(store.cell_dir(run.spec.cell) / "agent_final.pt", lambda p: save_state(final, p))
    run.checkpoint.remove()
    run.record.complete(run.counters, run.task, run.resolved.warmup_steps)
    return run.record.manifest


# -- seed batches: S seeds of one (algo, task, config) in one process, updated as one computation ---------


class _DeferredUpdate:
    """The agent as a seed batch's Stepper sees it: it acts and observes as the agent; ``update`` only notes
    that this step trains (the batch updates every such seed at once after all of them stepped)."""

    def __init__(self, agent: Agent):
        self.agent, self.pending = agent, False

    def act(self, obs, explore: bool):
        return self.agent.act(obs, explore)

    def observe(self, transition: Transition) -> None:
        self.agent.observe(transition)

    def update(self, step: int) -> dict:
        self.pending = True
        return {}


def _owned_state(batch, i: int, agent: Agent) -> dict[str, Any]:
    """Seed ``i``'s checkpoint state: its unbatched agent's format, module tensors copied out of the batch's
    stacked storage (``torch.save`` of a view would write every seed's parameters)."""
    batch.export(i)
    state = agent.state_dict()
    state["modules"] = {k: {n: t.clone() for n, t in sd.items()} for k, sd in state["modules"].items()}
    return state


def train_seed_batch(specs: list[RunSpec], store: Store) -> list[dict[str, Any]]:
    """Train the cells of ``specs`` (one algorithm, task, config and budget; S seeds) together: each seed
    steps its own envs and writes its own cell (manifest with ``seed_batch`` and its members, evals,
    checkpoints in the unbatched format) while one seed batch (``algorithms.registry.seed_batch_class``)
    updates all seeds that train at that step. A seed that diverges is stored failed and leaves the
    batch; the others go on. Returns the final manifests in ``specs`` order."""
    from contextlib import ExitStack

    from algorithms.registry import seed_batch_class
    from results.lock import CellLock

    key = {(s.cell.suite, s.cell.task, s.cell.algo, s.cell.config_id, s.agent_steps, s.device) for s in specs}
    if len(key) != 1:
        raise ValueError("a seed batch holds seeds of one algorithm, task, config, budget and device")
    batch_cls = seed_batch_class(specs[0].cell.algo.partition("@")[0])
    if batch_cls is None or len(specs) == 1:
        return [train_run(spec, store) for spec in specs]
    with ExitStack() as locks:
        for spec in specs:
            locks.enter_context(CellLock(store.cell_dir(spec.cell), wait=spec.wait))
            store.remove_stale_temp_files(spec.cell)
        return _train_seed_batch(specs, store, batch_cls)


def _train_seed_batch(specs: list[RunSpec], store: Store, batch_cls: type) -> list[dict[str, Any]]:
    stored = [_stored(spec, store) for spec in specs]  # every seed checked before anything is written
    done = {i: m for i, (m, _) in enumerate(stored) if m is not None and m.get("status") == "complete"}
    runs: dict[int, _Run] = {}
    try:
        for i, spec in enumerate(specs):
            if i not in done:
                runs[i] = _build(dataclasses.replace(spec, progress=False), store, stored[i][0])
                _resume_or_clean(runs[i], store, stored[i][1])
        order = sorted(runs)
        if runs:
            batch = batch_cls([runs[i].agent for i in order])
            _batched_steps(runs, order, batch, store, [specs[i].cell.seed for i in order])
    except KeyboardInterrupt:
        for run in runs.values():
            run.record.sink.finish("interrupted")
        raise
    except Exception as exc:
        for run in runs.values():  # every seed still training fails with the batch; OS errors as guarded records them
            if run.record.manifest.get("status") == "running":
                try:
                    run.record.failed(exc)
                except OSError:
                    store.mark_failed(run.spec.cell, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for run in runs.values():
            run.stepper.env.close()
            run.evaluator.env.close()
    return [done.get(i) or runs[i].record.manifest for i in range(len(specs))]


def _batched_steps(runs: dict[int, _Run], order: list[int], batch, store: Store, members: list[int]) -> None:
    active: dict[int, _Run] = {}  # position in the batch -> run, while it trains

    def timed(run: _Run, fn, *args) -> None:
        """``fn`` for ``run``; its time (an evaluation, a checkpoint) is not the other seeds' training time."""
        start = time.perf_counter()
        fn(run, store, *args)
        spent = time.perf_counter() - start
        for other in active.values():
            if other is not run:
                other.segment_start += spent

    for pos, i in enumerate(order):
        run = runs[i]
        run.stepper.agent = _DeferredUpdate(run.agent)
        run.record.write(seed_batch=len(order), seed_batch_members=members)
        active[pos] = run
        timed(run, _begin)
    mask = [False] * len(order)
    while active:
        for pos, run in active.items():
            run.stepper.agent.pending = False
            run.stepper.step(run.counters.step)
            mask[pos] = run.stepper.agent.pending
        metrics = {}
        if any(mask):
            start = time.perf_counter()
            metrics = batch.update(max(r.counters.step for r in active.values()), mask)
            spent = time.perf_counter() - start
        for pos, run in list(active.items()):
            if mask[pos]:
                run.stepper.update_time += spent  # each seed's updates/s is the batch's rate
            try:
                seed_metrics = batch.seed_metrics(metrics, pos) if mask[pos] else {}
                timed(run, _advance, seed_metrics, lambda pos=pos, run=run: _owned_state(batch, pos, run.agent))
                if run.counters.step >= run.task.agent_steps:
                    _check_finite(run.metrics, run.counters.step)
            except Diverged as exc:
                batch.release(pos)
                run.record.failed(exc)
                del active[pos]
                mask[pos] = False
                continue
            if run.counters.step >= run.task.agent_steps:
                batch.release(pos)
                _finish(run, store)
                del active[pos]
                mask[pos] = False


def train(
    cell: Cell,
    store: Store,
    *,
    agent_steps: int | None = None,
    device: str = "cpu",
    progress: bool = True,
    checkpoint_every: int | None = None,
    config_overrides: dict[str, Any] | None = None,
    sink: Sink | None = None,
    wait: bool = False,
) -> dict[str, Any]:
    """``train_run`` with the run's description as keywords. A cell without a config id gets the one its
    ``config_overrides`` give (so the run lands in its own folder); old field names become current ones."""
    fields = [f.name for f in dataclasses.fields(algorithm_info(cell.algo.partition("@")[0]).config)]
    config_overrides = to_current(dict(config_overrides or {}), fields, cell.algo.partition("@")[0])
    if not cell.config_id:
        cell = dataclasses.replace(
            cell, config_id=resolve_run_config(cell.suite, cell.algo, cell.task, config_overrides).config_id
        )
    spec = RunSpec(
        cell, agent_steps, device, dict(config_overrides or {}), checkpoint_every, progress, sink=sink, wait=wait
    )
    return train_run(spec, store)


def _inject_fault(cell: Cell, step: int, store: Store) -> None:
    """Testing aid: BENCH_INJECT_FAULT='<cell label>@<agent step>[:always]' raises once (or on every attempt)."""
    spec = os.environ.get("BENCH_INJECT_FAULT")
    if not spec:
        return
    for item in spec.split(","):
        label, _, rest = item.partition("@")
        at, _, mode = rest.partition(":")
        if label != cell.label or step != int(at):
            continue
        marker = store.cell_dir(cell) / ".fault_injected"
        if mode == "always" or not marker.exists():
            marker.touch()
            raise RuntimeError(f"injected fault at agent step {step}")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
