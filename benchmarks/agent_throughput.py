"""Training throughput of any agent on any task: env steps/sec at one training step per env step.

    python -m benchmarks.agent_throughput --algo mrq --task gym:HalfCheetah-v4 --steps 500
    python -m benchmarks.agent_throughput --algo mrq --task dmc-visual:cheetah-run --steps 250

Time ``--steps`` as a multiple of the agent's burst period (MR.Q: 250 steps, one 250-update
encoder burst each) so amortised work is counted at its real rate. Reference: the official MR.Q
code runs Gym HalfCheetah at about 7.4 steps/s on this project's 2-core CPU machines.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("MUJOCO_GL", "egl")


from benchmarks.common import make_agent, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="mrq")
    parser.add_argument("--task", default="gym:HalfCheetah-v4", help="suite:task")
    parser.add_argument("--steps", type=int, default=500, help="timed steps")
    parser.add_argument("--warmup", type=int, default=1000, help="random steps first (not timed)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    agent, env, _ = make_agent(args.algo, args.task, threads=args.threads, device=args.device)
    rate = timed(agent, env, args.warmup, args.steps, args.device)
    print(
        f"{args.algo} {args.task} device={args.device} threads={args.threads} params={agent.num_parameters():,}: "
        f"{rate:.2f} env steps/s with one training step per env step ({args.steps} timed steps)"
    )


if __name__ == "__main__":
    main()
