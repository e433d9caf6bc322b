"""TD3 training throughput on HalfCheetah: env steps/sec with one update per step, after warm-up.

    python -m benchmarks.td3_throughput [--steps 1500] [--repeats 3] [--threads 2] [--device cpu]

Each timed step is: act (with exploration noise), env step, store, one update. Besides our agent
the script times, in the same process and alternating with it, a loop written the way the
official code (sfujim/TD3 HEAD) is: numpy replay buffer copied to torch per batch, two separate
critic networks, per-parameter Polyak loop, plain Adam. Both use 256-256 nets and batch 256, so
the ratio is a like-for-like comparison on whatever machine this runs on (the brief quotes about
260 steps/s for the official code on these 2-core machines; timings here vary with the host).
"""

from __future__ import annotations

import argparse
import copy
import statistics

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from algorithms import resolve
from algorithms.base import Transition
from benchmarks.common import timed


class OfficialStyleTD3:
    """TD3 as structured in the official TD3.py / utils.py (for timing only)."""

    def __init__(self, obs_dim: int, act_dim: int, max_action: float, size: int = 200_000):
        def net(i, o):
            return nn.Sequential(nn.Linear(i, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, o))

        self.actor, self.q1, self.q2 = net(obs_dim, act_dim), net(obs_dim + act_dim, 1), net(obs_dim + act_dim, 1)
        self.actor_t, self.q1_t, self.q2_t = map(copy.deepcopy, (self.actor, self.q1, self.q2))
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=3e-4)
        self.critic_opt = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=3e-4)
        self.max_action, self.act_dim, self.it = max_action, act_dim, 0
        self.s, self.a = np.zeros((size, obs_dim)), np.zeros((size, act_dim))
        self.s2, self.r, self.nd = np.zeros((size, obs_dim)), np.zeros((size, 1)), np.zeros((size, 1))
        self.ptr = 0

    def act(self, obs, explore):
        a = self.max_action * torch.tanh(self.actor(torch.FloatTensor(obs.reshape(1, -1)))).cpu().data.numpy().flatten()
        return (a + np.random.normal(0, 0.1 * self.max_action, size=self.act_dim)).clip(
            -self.max_action, self.max_action
        )

    def observe(self, t: Transition):
        i = self.ptr
        self.s[i], self.a[i], self.s2[i], self.r[i], self.nd[i] = (
            t.obs,
            t.action,
            t.next_obs,
            t.reward,
            1.0 - t.terminated,
        )
        self.ptr += 1

    def update(self, step):
        self.it += 1
        ind = np.random.randint(0, self.ptr, size=256)
        s, a, s2, r, nd = (torch.FloatTensor(x[ind]) for x in (self.s, self.a, self.s2, self.r, self.nd))
        with torch.no_grad():
            noise = (torch.randn_like(a) * 0.2).clamp(-0.5, 0.5)
            a2 = (self.max_action * torch.tanh(self.actor_t(s2)) + noise).clamp(-self.max_action, self.max_action)
            sa2 = torch.cat([s2, a2], 1)
            y = r + nd * 0.99 * torch.min(self.q1_t(sa2), self.q2_t(sa2))
        sa = torch.cat([s, a], 1)
        loss = F.mse_loss(self.q1(sa), y) + F.mse_loss(self.q2(sa), y)
        self.critic_opt.zero_grad()
        loss.backward()
        self.critic_opt.step()
        if self.it % 2 == 0:
            actor_loss = -self.q1(torch.cat([s, self.max_action * torch.tanh(self.actor(s))], 1)).mean()
            self.actor_opt.zero_grad()
            actor_loss.backward()
            self.actor_opt.step()
            for net, tgt in ((self.q1, self.q1_t), (self.q2, self.q2_t), (self.actor, self.actor_t)):
                for p, tp in zip(net.parameters(), tgt.parameters()):
                    tp.data.copy_(0.005 * p.data + 0.995 * tp.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument(
        "--steps", type=int, default=1500, help="timed steps per repeat (each: act, env step, store, update)"
    )
    parser.add_argument("--warmup", type=int, default=1000, help="random steps to fill the buffer first (not timed)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--algo", default="td3")
    parser.add_argument("--no-reference", action="store_true", help="skip the official-style loop")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    env = gym.make(args.env)
    env.action_space.seed(0)
    obs_dim, act_dim, max_action = (
        env.observation_space.shape[0],
        env.action_space.shape[0],
        float(env.action_space.high[0]),
    )
    cls, cfg = resolve(args.algo)
    ours, reference = [], []
    for repeat in range(args.repeats):
        torch.manual_seed(repeat)
        ours.append(
            timed(
                cls(env.observation_space, env.action_space, cfg, args.device, seed=repeat),
                env,
                args.warmup,
                args.steps,
                args.device,
            )
        )
        if not args.no_reference and args.device == "cpu":
            reference.append(timed(OfficialStyleTD3(obs_dim, act_dim, max_action), env, args.warmup, args.steps, "cpu"))
    med = statistics.median(ours)
    print(
        f"{args.algo} {args.env} device={args.device} threads={args.threads} "
        f"batch={cfg.batch_size} hidden={cfg.hidden}: "
        f"{med:.1f} env steps/s with one update per step (median of {args.repeats} x {args.steps} steps; "
        f"all: {', '.join(f'{x:.0f}' for x in ours)})"
    )
    if reference:
        ref = statistics.median(reference)
        print(
            f"official-style TD3 loop, same process and settings: {ref:.1f} env steps/s "
            f"(all: {', '.join(f'{x:.0f}' for x in reference)}); ours / official-style = {med / ref:.2f}x"
        )


if __name__ == "__main__":
    main()
