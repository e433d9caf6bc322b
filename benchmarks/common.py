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
