"""iQRL updates/sec (one update = representation + critic (+ actor every 2nd) step) and env steps/sec.

    python -m benchmarks.iqrl_throughput                                  # walker-walk, paper sizes, CPU
    python -m benchmarks.iqrl_throughput --task iqrl-dmc:humanoid-run     # D = 2048 (task overrides apply)
    python -m benchmarks.iqrl_throughput --device cuda --steps 2000

The config is the one a run of that suite task gets (paper defaults <- suite <- task overrides),
with the warm-up episodes removed so every timed step updates.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import torch  # noqa: E402

from benchmarks.common import timed  # noqa: E402
from runners.loop import resolve_config  # noqa: E402
from suites import get_suite, get_task  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="iqrl", help="iqrl or iqrl@VARIANT")
    parser.add_argument("--task", default="iqrl-dmc:walker-walk", help="suite:task")
    parser.add_argument("--steps", type=int, default=200, help="timed updates")
    parser.add_argument("--warmup", type=int, default=1000, help="random steps first (not timed)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    suite_name, task_name = args.task.split(":", 1)
    task = get_task(get_suite(suite_name), task_name)
    cls, cfg = resolve_config(suite_name, args.algo, {"random_episodes": 0}, task=task_name)
    env = task.make(seed=0)
    env.action_space.seed(0)
    torch.manual_seed(0)
    agent = cls(env.observation_space, env.action_space, cfg, args.device, seed=0)
    env_rate = timed(agent, env, args.warmup, args.steps, args.device)

    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    for i in range(20):
        agent.update(i)
    sync()
    start = time.perf_counter()
    for i in range(args.steps):
        agent.update(i)
    sync()
    update_rate = args.steps / (time.perf_counter() - start)
    sizes = {k: v for k, v in dataclasses.asdict(cfg).items() if k in ("latent_dim", "nstep", "hidden", "batch_size")}
    print(f"{args.algo} {args.task} device={args.device} threads={torch.get_num_threads()} "
          f"params={agent.num_parameters():,} {sizes}: {update_rate:.2f} updates/s alone, "
          f"{env_rate:.2f} env steps/s with one update per step ({args.steps} timed)")


if __name__ == "__main__":
    main()
