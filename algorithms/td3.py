"""TD3 (Fujimoto, van Hoof & Meger, ICML 2018), the baseline.

Faithful to the official code at its current HEAD (github:sfujim/TD3 @34770cc, spec
``shared/specs/td3.md`` section 1): 256-256 ReLU actor and twin critics, Adam 3e-4, batch 256,
one update per environment step after ``start_steps`` uniform-random steps, target policy noise
0.2 clipped at 0.5 (both times max_action), actor and target updates every 2 critic updates,
Polyak tau 0.005, Gaussian exploration noise 0.1 x max_action. Time-limit truncations are not
terminal (``not_done`` comes from true terminals only).

Variant ``td3@paper2018`` is the camera-ready configuration (commit bc98e62): 400-300 networks,
Adam 1e-3, batch 100, noise in absolute action units, 10k random start steps (the value for
HalfCheetah and Ant; the paper used 1k for the other tasks). The paper-era *episodic* training
schedule (all updates at the end of each episode) is not reproduced: every variant here trains
once per step, as HEAD does.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from algorithms.base import Agent, Transition, register
from algorithms.common.nets import EnsembleQ, adam, mlp, polyak_update
from algorithms.common.replay import TransitionReplay
from algorithms.td3_config import Config  # the paper defaults and the variants, importable without torch


class Actor(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], max_action: float):
        super().__init__()
        self.net = mlp(obs_dim, hidden, action_dim)
        self.max_action = max_action

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.max_action * torch.tanh(self.net(obs))


@register("td3")
class TD3(Agent):
    Config = Config
    action_kinds = ("continuous",)
    observation_kinds = ("state",)

    def __init__(self, obs_space, action_space, config: Config, device, seed):
        super().__init__(obs_space, action_space, config, device, seed)
        obs_dim, self.action_dim = obs_space.shape[0], action_space.shape[0]
        self.max_action = float(action_space.high[0])  # HEAD: float(env.action_space.high[0])
        self.actor = Actor(obs_dim, self.action_dim, config.hidden, self.max_action).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        # TD3.py Critic: two independent [s, a] -> hidden -> 1 ReLU MLPs, nn.Linear's default init; one
        # batched ensemble is the same function at lower per-step cost. critic(s, a) -> (q1, q2) stacked
        self.critic = EnsembleQ(2, obs_dim, self.action_dim, config.hidden).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = adam(self.actor.parameters(), config.lr)
        self.critic_opt = adam(self.critic.parameters(), config.lr)
        self.replay = TransitionReplay(obs_space.shape, self.action_dim, config.buffer_size, self.device)
        scale = self.max_action if config.noise_scaled_by_max_action else 1.0
        self.policy_noise, self.noise_clip = config.policy_noise * scale, config.noise_clip * scale
        self.total_it = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        action = self.actor(torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None])[0].cpu().numpy()
        if explore:
            action = action + self.np_rng.normal(0.0, self.max_action * self.config.expl_noise, size=self.action_dim)
        return np.clip(action, -self.max_action, self.max_action).astype(np.float32)

    def observe(self, t: Transition) -> None:
        self.replay.add(t.obs, t.action, t.reward, t.next_obs, t.terminated)

    def update(self, step: int) -> dict[str, torch.Tensor]:
        cfg = self.config
        self.total_it += 1
        b = self.replay.sample(cfg.batch_size, self.torch_gen)

        with torch.no_grad():
            noise = torch.randn(b.action.shape, generator=self.torch_gen, device=self.device)
            noise = (noise * self.policy_noise).clamp(-self.noise_clip, self.noise_clip)
            next_action = (self.actor_target(b.next_obs) + noise).clamp(-self.max_action, self.max_action)
            target_q = torch.min(*self.critic_target(b.next_obs, next_action))
            target_q = b.reward + b.not_done * cfg.discount * target_q

        q1, q2 = self.critic(b.obs, b.action)
        critic_loss = F.mse_loss(q1, target_q) + F.mse_loss(q2, target_q)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        metrics = {"critic_loss": critic_loss.detach(), "q1": q1.detach().mean()}

        if self.total_it % cfg.policy_freq == 0:
            actor_loss = -self.critic.member(b.obs, self.actor(b.obs), 0).mean()  # Q1 only
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            self.actor_opt.step()
            polyak_update(self.critic, self.critic_target, cfg.tau)
            polyak_update(self.actor, self.actor_target, cfg.tau)
            metrics["actor_loss"] = actor_loss.detach()
        return metrics

    def extra_state(self) -> dict:
        return {"total_it": self.total_it}

    def load_extra_state(self, state: dict) -> None:
        self.total_it = state["total_it"]
