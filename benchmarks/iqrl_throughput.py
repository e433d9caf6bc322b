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

os.environ.setdefault("MUJOCO_GL", "egl")

import torch  # noqa: E402

from benchmarks.common import bare_updates, make_agent, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="iqrl", help="iqrl or iqrl@VARIANT")
    parser.add_argument("--task", default="iqrl-dmc:walker-walk", help="suite:task")
    parser.add_argument("--steps", type=int, default=200, help="timed updates")
    parser.add_argument("--warmup", type=int, default=1000, help="random steps first (not timed)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    agent, env, cfg = make_agent(args.algo, args.task, {"random_episodes": 0}, threads=args.threads, device=args.device)
    env_rate = timed(agent, env, args.warmup, args.steps, args.device)

    update_rate = bare_updates(agent, args.steps, args.device)
    sizes = {k: v for k, v in dataclasses.asdict(cfg).items() if k in ("latent_dim", "nstep", "hidden", "batch_size")}
    print(
        f"{args.algo} {args.task} device={args.device} threads={torch.get_num_threads()} "
        f"params={agent.num_parameters():,} {sizes}: {update_rate:.2f} updates/s alone, "
        f"{env_rate:.2f} env steps/s with one update per step ({args.steps} timed)"
    )


if __name__ == "__main__":
    main()
