"""Shared timing of the throughput scripts, on the training loop's own stepping core (runners.loop.Stepper)."""

from __future__ import annotations

import time

import torch


def timed(agent, env, warmup: int, steps: int, device: str) -> float:
    """Env steps/sec of the training loop's stepping core (act, env step, observe, update) after
    ``warmup`` random steps and 100 untimed ones."""
    from runners.loop import Stepper

    stepper = Stepper(env, agent, warmup, reset_seed=0)
    stepper.run(warmup + 100)  # fill the buffer, then warm the allocator and kernels
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    stepper.run(steps, start=warmup + 100)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def make_agent(algo: str, task_spec: str, overrides: dict | None = None, *, threads: int = 2, device: str = "cpu"):
    """(agent, env, config) for ``suite:task`` as ``bench run`` builds them (suite and task overrides,
    then ``overrides``), seeded 0."""
    from runners.loop import resolve_config
    from suites import get_suite, get_task

    torch.set_num_threads(threads)
    suite_name, task_name = task_spec.split(":", 1)
    task = get_task(get_suite(suite_name), task_name)
    cls, cfg = resolve_config(suite_name, algo, overrides, task=task_name)
    env = task.make(seed=0)
    env.action_space.seed(0)
    torch.manual_seed(0)
    return cls(env.observation_space, env.action_space, cfg, device, seed=0), env, cfg


def bare_updates(agent, updates: int, device: str) -> float:
    """Updates/sec of ``agent.update`` alone (buffer already filled), after 20 untimed ones."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for i in range(20):
        agent.update(i)
    sync()
    start = time.perf_counter()
    for i in range(updates):
        agent.update(i)
    sync()
    return updates / (time.perf_counter() - start)
