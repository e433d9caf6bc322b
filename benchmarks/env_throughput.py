"""Environment throughput with random actions: agent steps/sec and env frames/sec per task.

    python -m benchmarks.env_throughput [--steps 2000] [suite:task ...]

Defaults: a state task (dmc-proprio cheetah-run, gym HalfCheetah-v4), a pixel task
(dmc-visual cheetah-run, rendered headless with MUJOCO_GL=egl) and an Atari game (atari Pong).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

from suites import get_suite, get_task  # noqa: E402

DEFAULT = ["dmc-proprio:cheetah-run", "gym:HalfCheetah-v4", "dmc-visual:cheetah-run", "atari:Pong"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", default=DEFAULT, help="suite:task pairs")
    parser.add_argument("--steps", type=int, default=2000, help="agent steps per task (pixel tasks use a fifth)")
    args = parser.parse_args()
    for spec in args.tasks:
        suite_name, task_name = spec.split(":", 1)
        task = get_task(get_suite(suite_name), task_name)
        steps = args.steps // 5 if task.observation == "pixels" and task.library == "dm_control" else args.steps
        env = task.make(seed=0)
        env.reset(seed=0)
        env.action_space.seed(0)
        start = time.perf_counter()
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        elapsed = time.perf_counter() - start
        env.close()
        print(
            f"{suite_name:<12} {task_name:<16} {task.observation:<7} {steps / elapsed:>9.1f} agent steps/s "
            f"{steps * task.action_repeat / elapsed:>9.1f} env frames/s  "
            f"(action repeat {task.action_repeat}, {steps} steps)"
        )


if __name__ == "__main__":
    main()
