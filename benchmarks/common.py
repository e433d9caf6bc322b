"""Shared timing loop of the throughput scripts."""
from __future__ import annotations

import time

import numpy as np
import torch

from algorithms.base import Transition


def timed(agent, env, warmup: int, steps: int, device: str) -> float:
    obs, _ = env.reset(seed=0)

    def run(n: int, random_actions: bool) -> None:
        nonlocal obs
        for t in range(n):
            action = env.action_space.sample() if random_actions else agent.act(obs, explore=True)
            next_obs, reward, term, trunc, _ = env.step(action)
            agent.observe(Transition(obs, np.asarray(action, np.float32), float(reward), next_obs, term, trunc))
            obs = next_obs if not (term or trunc) else env.reset()[0]
            if not random_actions:
                agent.update(t)

    run(warmup, random_actions=True)
    run(100, random_actions=False)  # warm the allocator and kernels
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    run(steps, random_actions=False)
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
