"""TD3 training throughput on HalfCheetah: env steps/sec with one update per step, after warm-up.

    python benchmarks/td3_throughput.py [--steps 3000] [--threads 2] [--device cpu] [--env HalfCheetah-v5]

Reference: the official TD3 code (sfujim/TD3 HEAD, 256-256, batch 256) runs at about 260 steps/s
on the 2-core CPU machines of this project with 2 torch threads.
"""
from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch

from algorithms import resolve
from algorithms.base import Transition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--steps", type=int, default=3000, help="timed steps (each: act, env step, store, update)")
    parser.add_argument("--warmup", type=int, default=1000, help="random steps to fill the buffer first (not timed)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--algo", default="td3")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    env = gym.make(args.env)
    env.action_space.seed(0)
    cls, cfg = resolve(args.algo)
    agent = cls(env.observation_space, env.action_space, cfg, args.device, seed=0)
    obs, _ = env.reset(seed=0)

    def run(n: int, random_actions: bool) -> None:
        nonlocal obs
        for t in range(n):
            action = env.action_space.sample() if random_actions else agent.act(obs, explore=True)
            next_obs, reward, term, trunc, _ = env.step(action)
            agent.observe(Transition(obs, action, float(reward), next_obs, term, trunc))
            obs = next_obs if not (term or trunc) else env.reset()[0]
            if not random_actions:
                agent.update(t)

    run(args.warmup, random_actions=True)
    run(200, random_actions=False)  # warm the allocator and kernels
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    run(args.steps, random_actions=False)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    print(f"{args.algo} {args.env} device={args.device} threads={args.threads} batch={cfg.batch_size} "
          f"hidden={cfg.hidden}: {args.steps / elapsed:.1f} env steps/s with one update per step "
          f"({1000 * elapsed / args.steps:.2f} ms/step, {args.steps} timed steps)")


if __name__ == "__main__":
    main()
