"""ALM updates/sec: the bare update (one encoder/model, reward/classifier, critic and actor step) and
the full training step (act + env step + store + update), at the paper's sizes unless told otherwise.

    python -m benchmarks.alm_throughput                                  # HalfCheetah-v5, paper sizes, CPU
    python -m benchmarks.alm_throughput --task alm-locomotion:T-Humanoid --device cuda --updates 2000
    python -m benchmarks.alm_throughput --variant k5 --set hidden_dim=128

Prints one line per measurement; speed is never asserted in tests.
"""

from __future__ import annotations

import argparse
import ast
import os

os.environ.setdefault("MUJOCO_GL", "egl")


from benchmarks.common import bare_updates, make_agent, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="alm-locomotion:HalfCheetah-v5", help="suite:task")
    parser.add_argument("--variant", default="", help="e.g. k5, ent (alm@VARIANT)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="config override")
    parser.add_argument("--updates", type=int, default=200, help="timed updates (and timed training steps)")
    parser.add_argument("--fill", type=int, default=5000, help="random transitions in the buffer first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    overrides = {k: ast.literal_eval(v) for k, v in (s.split("=", 1) for s in args.set)}
    algo = f"alm@{args.variant}" if args.variant else "alm"
    agent, env, cfg = make_agent(algo, args.task, overrides, threads=args.threads, device=args.device)
    step_rate = timed(agent, env, args.fill, args.updates, args.device)  # also fills the buffer
    update_rate = bare_updates(agent, args.updates, args.device)
    head = (
        f"{algo} {args.task} device={args.device} threads={args.threads} batch={cfg.batch_size} "
        f"hidden={cfg.hidden_dim}/{cfg.model_hidden_dim} K={cfg.seq_len} params={agent.num_parameters():,}"
    )
    print(f"{head}: {update_rate:.2f} updates/s (bare update), {step_rate:.2f} env steps/s with one update per step")


if __name__ == "__main__":
    main()
