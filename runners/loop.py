"""The one training loop every algorithm runs under, whatever the runner (local or Ray).

    warm-up (uniform random actions) -> act -> observe -> update (once per agent step)
    evaluate at step 0, every ``task.eval_every`` agent steps and at the end (K deterministic
    episodes on a separate env seeded seed+100) -> checkpoint at the first episode end after
    every ``checkpoint_every`` steps -> manifest ``complete``.

Resume: checkpoints are taken at episode boundaries and hold the agent (networks, optimizers,
replay, RNGs, counters), the loop counters and the RNG states of both envs and of the warm-up
action sampler, so a resumed run continues exactly as an uninterrupted one would. Evaluation rows
written after the checkpoint are dropped on resume and recomputed, so none is lost or duplicated.
"""
from __future__ import annotations

import dataclasses
import math
import random
import shutil
import os
import sys
import time
from typing import Any

import numpy as np
import torch

from algorithms.base import Agent, Transition, action_kind, observation_kind, resolve
from algorithms.common.safe_state import load_state, save_state
from bench.errors import Diverged, UserError
from bench.provenance import provenance
from results.store import Cell, Store, atomic_write
from suites import get_suite, get_task
from suites.envs import get_env_rng_state, set_env_rng_state
from runners.cell_guard import guarded
from runners.sinks import Sink
from suites.task import Task

CHECK_EVERY = 1000  # agent steps between finiteness checks of the update metrics (one host sync each)


def resolve_task(cell: Cell, agent_steps: int | None = None) -> Task:
    task = get_task(get_suite(cell.suite), cell.task)
    if agent_steps is not None and agent_steps != task.agent_steps:
        task = task.with_budget(agent_steps)
    return task


def resolve_config(suite: str, algo: str, config_overrides: dict[str, Any] | None = None,
                   task: str | None = None) -> tuple[type[Agent], Any]:
    """The agent class and its config: paper defaults <- variant <- suite's overrides <- task's overrides <- --set."""
    base = algo.partition("@")[0]
    suite_obj = get_suite(suite)
    suite_overrides = suite_obj.agent_overrides.get(base, {})
    task_overrides = get_task(suite_obj, task).agent_overrides.get(base, {}) if task is not None else {}
    return resolve(algo, {**suite_overrides, **task_overrides, **(config_overrides or {})})


def incompatibility(agent_cls: type[Agent], task: Task) -> str | None:
    """Why this agent cannot run this task, or None when it can."""
    if task.action not in agent_cls.action_kinds:
        return f"{agent_cls.name} supports {'/'.join(agent_cls.action_kinds)} actions, task has {task.action} actions"
    if task.observation not in agent_cls.observation_kinds:
        return f"{agent_cls.name} supports {'/'.join(agent_cls.observation_kinds)} observations, task has {task.observation}"
    return None


def effective_warmup(task: Task, config: Any, config_overrides: dict[str, Any] | None) -> int:
    """Random warm-up steps: an explicit ``start_steps`` override, else the task's (scaled-down suites), else the agent's."""
    if task.warmup_steps is not None and "start_steps" not in (config_overrides or {}):
        return task.warmup_steps
    return int(getattr(config, "start_steps", 0))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def evaluate(agent: Agent, env, episodes: int, first_seed: int | None, epsilon: float = 0.0) -> list[float]:
    """Undiscounted returns of ``episodes`` full episodes of the deterministic policy (with an
    epsilon-random action where the protocol asks for it, drawn from the eval env's action space)."""
    returns = []
    if first_seed is not None:
        env.action_space.seed(first_seed)
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


def _check_finite(metrics: dict[str, torch.Tensor], step: int) -> None:
    if not metrics:
        return
    values = torch.stack([v.detach().float().reshape(()) for v in metrics.values()])
    if not bool(torch.isfinite(values).all()):
        bad = [k for k, v in metrics.items() if not math.isfinite(float(v))]
        raise Diverged(f"non-finite {', '.join(bad)} at agent step {step}")


@guarded  # the cell's lock (wait=True waits for another writer), stale temp files removed, OS errors recorded
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
) -> dict[str, Any]:
    """Train one cell to completion (or resume it) and return its final manifest."""
    task = resolve_task(cell, agent_steps)
    agent_cls, config = resolve_config(cell.suite, cell.algo, config_overrides, task=cell.task)
    protocol = task.protocol()
    config_dict = dataclasses.asdict(config)
    existing = store.read_manifest(cell)
    if existing is not None:
        if existing.get("protocol", {}).get("protocol_id") != protocol["protocol_id"] or existing.get("config") != _jsonable(config_dict):
            raise UserError(
                f"{store.cell_dir(cell)} holds a run with a different protocol or config "
                f"(agent_steps {existing.get('protocol', {}).get('agent_steps')} vs {task.agent_steps}); "
                f"use another --out or delete that folder"
            )
        if existing.get("status") == "complete":
            return existing

    seed_everything(cell.seed)
    env, eval_env = task.make(cell.seed), task.make(cell.seed + 100)
    env.action_space.seed(cell.seed)
    if action_kind(env.action_space) != task.action or observation_kind(env.observation_space) != task.observation:
        raise RuntimeError(f"task {task.name} declares {task.action}/{task.observation} but its env has "
                           f"{action_kind(env.action_space)}/{observation_kind(env.observation_space)}")
    agent = agent_cls(env.observation_space, env.action_space, config, device, cell.seed)
    warmup = effective_warmup(task, config, config_overrides)
    checkpoint_every = checkpoint_every or task.eval_every

    manifest: dict[str, Any] = existing or {
        "cell": dataclasses.asdict(cell),
        "algo": cell.algo.partition("@")[0],
        "variant": cell.algo.partition("@")[2] or None,
        "config": config_dict,
        "config_overrides": _jsonable(dict(config_overrides or {})),  # the --set values (report: reproduce command)
        "protocol": protocol,
        "warmup_steps": warmup,
        "num_parameters": agent.num_parameters(),
        "start_time": _now(),
        "resumes": 0,
    }
    manifest.update(provenance(device))
    manifest.update(status="running", reason=None)
    sink = sink or Sink()
    manifest.update(sink.start(cell, manifest, store.cell_dir(cell)))

    ckpt_path = store.checkpoint_path(cell)
    loop = {"step": 0, "episodes": 0, "updates": 0, "train_time": 0.0, "eval_time": 0.0, "update_time": 0.0,
            "last_eval": None}
    first_reset = True
    if ckpt_path.exists():
        state = load_state(ckpt_path, agent.device, remedy=f"; delete it (rm {ckpt_path}) to restart the cell")
        try:
            agent.load_state_dict(state["agent"])
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"corrupt checkpoint {ckpt_path} ({type(exc).__name__}: {exc}); delete it to restart the cell") from None
        loop = state["loop"]
        env.reset(seed=cell.seed)  # build the env's RNG, then overwrite it with the saved state
        set_env_rng_state(env, state["env_rng"])
        if state["eval_env_rng"] is not None:
            eval_env.reset(seed=cell.seed + 100)
            set_env_rng_state(eval_env, state["eval_env_rng"])
            eval_env.action_space.np_random.bit_generator.state = state["eval_action_space_rng"]
        env.action_space.np_random.bit_generator.state = state["action_space_rng"]
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_global_rng"])
        first_reset = False
        manifest["resumes"] = manifest.get("resumes", 0) + 1
        store.truncate_evals(cell, loop["step"])
        store.truncate_diagnostics(cell, loop["step"])
    else:  # a previous attempt died before its first checkpoint: start clean
        store.evals_path(cell).unlink(missing_ok=True)
        store.diagnostics_path(cell).unlink(missing_ok=True)
    store.write_manifest(cell, manifest)
    eval_first_seed = cell.seed + 100 if loop["last_eval"] is None else None

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=task.agent_steps, initial=loop["step"], unit="step", desc=cell.label, file=sys.stderr,
                   dynamic_ncols=True, mininterval=1.0, leave=True)

    def do_eval(step: int) -> None:
        nonlocal eval_first_seed
        e0 = time.perf_counter()
        returns = evaluate(agent, eval_env, task.eval_episodes, eval_first_seed, task.eval_epsilon)
        loop["eval_time"] += time.perf_counter() - e0
        eval_first_seed = None
        mean = float(np.mean(returns))
        if not math.isfinite(mean):
            raise Diverged(f"non-finite evaluation return at agent step {step}")
        row = {
            "step": step, "env_frames": step * task.action_repeat, "return_mean": round(mean, 6),
            "return_std": round(float(np.std(returns)), 6), "returns": " ".join(f"{r:.6g}" for r in returns),
            "wall_time": round(loop["train_time"] + loop["eval_time"], 3),
        }
        store.append_eval(cell, row)
        diagnostics = agent.diagnostics()
        if diagnostics:
            store.append_diagnostics(cell, step, step * task.action_repeat, diagnostics)
        loop["last_eval"] = mean
        sink.evaluation(step, row)
        if bar is not None:
            bar.set_postfix_str(f"eval {mean:.1f}", refresh=False)

    def save_checkpoint() -> None:
        state = {
            "agent": agent.state_dict(), "loop": dict(loop),
            "env_rng": get_env_rng_state(env),
            "eval_env_rng": get_env_rng_state(eval_env) if eval_first_seed is None else None,
            "action_space_rng": env.action_space.np_random.bit_generator.state,
            "eval_action_space_rng": eval_env.action_space.np_random.bit_generator.state,
            "python_rng": random.getstate(), "numpy_global_rng": np.random.get_state(),
        }
        atomic_write(ckpt_path, lambda p: save_state(state, p))
        manifest["checkpoint_step"] = loop["step"]
        store.write_manifest(cell, manifest)

    try:
        if loop["step"] == 0 and loop["last_eval"] is None:
            do_eval(0)
        next_checkpoint = (loop["step"] // checkpoint_every + 1) * checkpoint_every
        needs_reset, obs = True, None
        metrics: dict[str, torch.Tensor] = {}
        segment_start = time.perf_counter()
        while loop["step"] < task.agent_steps:
            if needs_reset:
                obs, _ = env.reset(seed=cell.seed if first_reset else None)
                first_reset, needs_reset = False, False
            t = loop["step"]
            action = env.action_space.sample() if t < warmup else agent.act(obs, explore=True)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            agent.observe(Transition(obs, np.asarray(action), float(reward), next_obs, bool(terminated), bool(truncated)))
            obs = next_obs
            if t >= warmup:  # TD3 main.py: train once per step once t >= start_timesteps
                u0 = time.perf_counter()
                metrics = agent.update(t)
                loop["update_time"] += time.perf_counter() - u0
                loop["updates"] += 1
            loop["step"] = step = t + 1
            if step % CHECK_EVERY == 0:
                _inject_fault(cell, step, store)
                if metrics:
                    _check_finite(metrics, step)
                    sink.metrics(step, {k: float(v) for k, v in metrics.items()})
            if bar is not None and step % 100 == 0:
                bar.update(step - bar.n)
            if step % task.eval_every == 0 or step == task.agent_steps:
                loop["train_time"] += time.perf_counter() - segment_start
                do_eval(step)
                segment_start = time.perf_counter()
            if terminated or truncated:
                needs_reset = True
                loop["episodes"] += 1
                if step >= next_checkpoint and step < task.agent_steps:
                    loop["train_time"] += time.perf_counter() - segment_start
                    save_checkpoint()
                    segment_start = time.perf_counter()
                    next_checkpoint = (step // checkpoint_every + 1) * checkpoint_every
        _check_finite(metrics, loop["step"])
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        sink.finish("interrupted")
        raise
    except Exception as exc:
        if bar is not None:
            bar.close()
        manifest.update(status="failed", reason=f"{type(exc).__name__}: {exc}", end_time=_now())
        store.write_manifest(cell, manifest)
        sink.finish("failed")
        if isinstance(exc, (Diverged, UserError)):
            return manifest
        raise
    finally:
        env.close()
        eval_env.close()
    if bar is not None:
        bar.update(task.agent_steps - bar.n)
        bar.close()

    # The resumable checkpoint (with the replay buffer) is replaced by the final networks only.
    final = {"modules": {k: m.state_dict() for k, m in agent.modules().items()}, "config": config_dict}
    atomic_write(store.cell_dir(cell) / "agent_final.pt", lambda p: save_state(final, p))
    shutil.rmtree(ckpt_path.parent, ignore_errors=True)
    post_warmup_steps = max(0, task.agent_steps - warmup)
    manifest.update(
        status="complete", end_time=_now(), checkpoint_step=None,
        wall_clock_s=round(loop["train_time"] + loop["eval_time"], 2),
        train_time_s=round(loop["train_time"], 2), eval_time_s=round(loop["eval_time"], 2),
        agent_steps_done=loop["step"], episodes=loop["episodes"], updates=loop["updates"],
        steps_per_sec=round(loop["step"] / max(loop["train_time"], 1e-9), 2),
        updates_per_sec=round(loop["updates"] / max(loop["update_time"], 1e-9), 2) if loop["updates"] else None,
        post_warmup_steps=post_warmup_steps,
        final_return=loop["last_eval"],
    )
    store.write_manifest(cell, manifest)
    sink.finish("complete")
    return manifest


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


def _jsonable(obj: Any) -> Any:
    """The config as it reads back from manifest.json (tuples become lists)."""
    import json

    return json.loads(json.dumps(obj, default=str))
