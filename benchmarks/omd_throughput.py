"""OMD updates/sec: the OMD update (inner Q step + real-data gradient + implicit model gradient) and its
baselines, on CartPole (discrete, the official sizes) and Pendulum (continuous, SAC 256-256).

    python -m benchmarks.omd_throughput                    # omd, omd@mle, omd@vep on CartPole-v1 and Pendulum-v1
    python -m benchmarks.omd_throughput --algos omd@cg --updates 50
"""

from __future__ import annotations

import argparse
import time

import torch

from algorithms import resolve
from runners.loop import Stepper
from suites import get_suite, get_task


def updates_per_sec(algo: str, task_id: str, updates: int, device: str) -> float:
    suite_name, task_name = task_id.split(":", 1)
    env = get_task(get_suite(suite_name), task_name).make(seed=0)
    env.action_space.seed(0)
    cls, cfg = resolve(algo)
    torch.manual_seed(0)
    agent = cls(env.observation_space, env.action_space, cfg, device, seed=0)
    Stepper(env, agent, warmup=1000, reset_seed=0).run(1000)  # random transitions to sample from
    for step in range(10):  # warm the allocator
        agent.update(step)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for step in range(updates):
        agent.update(step)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return updates / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", default="omd,omd@mle,omd@vep")
    parser.add_argument("--tasks", default="smoke:CartPole-v1,smoke:Pendulum-v1", help="suite:task, comma-separated")
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for task in args.tasks.split(","):
        for algo in args.algos.split(","):
            rate = updates_per_sec(algo, task, args.updates, args.device)
            print(
                f"{algo:<12} {task:<22} device={args.device} threads={args.threads}: {rate:8.1f} updates/s "
                f"({args.updates} timed updates, batch 256)"
            )


if __name__ == "__main__":
    main()
