"""Seed-vectorized updates: updates/s per seed and in aggregate for S seeds in one batch, against the same S
seeds updated one after another, at paper size (TD3 on gym HalfCheetah: 256-256 networks, batch 256; MR.Q
on dmc-proprio cartpole-balance: 512-wide, batch 256, its 250-step encoder burst included).

    python -m benchmarks.seed_scaling [--algos td3,mrq] [--seeds 1,2,4,8,16] [--updates 200] [--threads 1]
                                      [--device cpu] [--compile]

For each S both ways are timed in this one process, one right after the other, so the ratio holds on a loaded machine:
"sequential" is S agents each calling ``update`` once per step, ``--updates`` times each (what S
unbatched processes on one core cost), "batched" is the agent's seed batch (``TD3SeedBatch``,
``MRQSeedBatch``) over the same S agents.
Replay buffers are filled with 1,000 random transitions of the real task first. Only the update is timed
(it dominates a step); env stepping and acting are the same per seed either way. MR.Q: pass
``--updates 250`` (or a multiple) so each point holds exactly one encoder burst.

With ``--compile`` the last rows time one seed of TD3 (``--task``) and of MR.Q (``--mrq-task``) eager against
the same seed with ``compile_update`` (the update through torch.compile; ``reduce-overhead``, i.e. CUDA
graphs, on a GPU), compile time excluded.
"""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import numpy as np
import torch

from algorithms.base import Transition
from benchmarks.common import bare_updates, make_agent
from core.seeding import stream_seed


def _agents(n: int, task: str, device: str, threads: int, algo: str = "td3"):
    agents = []
    for seed in range(n):
        torch.manual_seed(stream_seed(seed, "agent_init"))
        agent, env, _ = make_agent(algo, task, threads=threads, device=device)
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)
        for _ in range(1000):
            action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            agent.observe(Transition(obs, action, float(reward), next_obs, terminated, truncated))
            obs = env.reset()[0] if terminated or truncated else next_obs
        agents.append(agent)
    return agents


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="1,2,4,8,16")
    p.add_argument("--updates", type=int, default=200, help="timed updates per point")
    p.add_argument("--threads", type=int, default=1, help="torch threads (TD3 cells run on 1: benchmarks.threads)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--task", default="gym:HalfCheetah-v4")
    p.add_argument("--compile", action="store_true", help="also time one seed with its update compiled")
    p.add_argument("--algos", default="td3", help="td3, mrq or both (MR.Q: --updates 250 holds one encoder burst)")
    p.add_argument("--mrq-task", default="dmc-proprio:cartpole-balance", help="MR.Q's task (paper size)")
    args = p.parse_args(argv)
    from algorithms.registry import seed_batch_class

    tasks = {"td3": args.task, "mrq": args.mrq_task}
    for algo in args.algos.split(","):
        print(
            f"{algo} {tasks[algo]}, {args.updates} updates per point, {args.threads} torch thread(s), "
            f"device {args.device}"
        )
        print(
            f"{'S':>3}  {'sequential agg upd/s':>21}  {'batched agg upd/s':>18}  {'batched per seed':>17}  "
            f"{'speed-up':>8}"
        )
        for s in (int(x) for x in args.seeds.split(",")):
            sequential, batched = (_agents(s, tasks[algo], args.device, args.threads, algo) for _ in range(2))
            batch = seed_batch_class(algo)(batched)

            def one_by_one(i, agents=sequential):
                for a in agents:
                    a.update(i)

            # every agent runs the full ``updates`` (as S unbatched processes would), so schedules tied to an
            # agent's own update count (MR.Q's 250-step encoder burst) fall in the sequential window as often as
            # in the batched one; with ``updates // s`` per agent MR.Q's sequential arm skipped its bursts
            seq = bare_updates(SimpleNamespace(update=one_by_one), args.updates, args.device) * s
            bat = bare_updates(batch, args.updates, args.device) * s
            print(f"{s:>3}  {seq:>21.1f}  {bat:>18.1f}  {bat / s:>17.1f}  {bat / seq:>7.2f}x", flush=True)
    if args.compile:
        for algo, task in (("td3", args.task), ("mrq", args.mrq_task)):
            eager, compiled = (_agents(1, task, args.device, args.threads, algo)[0] for _ in range(2))
            compiled.compile_update("reduce-overhead" if args.device.startswith("cuda") else None)
            bare_updates(compiled, 10, args.device)  # compiles (every step) before the timed runs
            first = bare_updates(eager, args.updates, args.device)
            fast = bare_updates(compiled, args.updates, args.device)
            again = bare_updates(eager, args.updates, args.device)  # eager on both sides of the compiled run
            slow = (first + again) / 2
            print(
                f"compile, {algo} ({task}), 1 seed: eager {slow:.1f} upd/s, compiled {fast:.1f} upd/s, "
                f"{fast / slow:.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
