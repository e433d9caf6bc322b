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
from algorithms.common.nets import EnsembleQ, adam, compile_step, mlp, polyak_update
from algorithms.common.replay import TransitionReplay
from algorithms.common.seed_batch import SeedAdam, Stacked, masked_lerp_, seed_ensemble, seed_sequential, stack_batches
from algorithms.td3_config import Config  # the paper defaults and the variants, importable without torch


class Actor(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], max_action: float):
        super().__init__()
        self.net = mlp(obs_dim, hidden, action_dim)
        self.max_action = max_action

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.max_action * torch.tanh(self.net(obs))


# The losses once, for the agent's update and for a seed batch's vmapped update (modules or functional calls).
def td3_target(
    actor_target, critic_target, b, noise, policy_noise: float, noise_clip: float, max_action: float, discount: float
) -> torch.Tensor:
    """r + not_done * discount * min(Q1', Q2')(s', clip(pi'(s') + clip(noise * policy_noise)))."""
    noise = (noise * policy_noise).clamp(-noise_clip, noise_clip)
    next_action = (actor_target(b.next_obs) + noise).clamp(-max_action, max_action)
    return b.reward + b.not_done * discount * torch.min(*critic_target(b.next_obs, next_action))


def td3_critic_loss(critic, obs, action, target_q) -> tuple[torch.Tensor, torch.Tensor]:
    """(MSE(Q1) + MSE(Q2), mean Q1)."""
    q1, q2 = critic(obs, action)
    return F.mse_loss(q1, target_q) + F.mse_loss(q2, target_q), q1.mean()


def td3_actor_loss(actor, q1, obs) -> torch.Tensor:
    return -q1(obs, actor(obs)).mean()


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
            action = action + self.np_rng.normal(
                0.0, self.max_action * self.config.exploration_noise, size=self.action_dim
            )
        return np.clip(action, -self.max_action, self.max_action).astype(np.float32)

    def observe(self, t: Transition) -> None:
        self.replay.add(t.obs, t.action, t.reward, t.next_obs, t.terminated)

    def update(self, step: int) -> dict[str, torch.Tensor]:
        self.total_it += 1
        b = self.replay.sample(self.config.batch_size, self.torch_gen)
        noise = torch.randn(b.action.shape, generator=self.torch_gen, device=self.device)
        metrics = self._critic_step(b, noise)
        if self.total_it % self.config.actor_update_freq == 0:  # outside the (compilable) steps: no branch inside
            metrics["actor_loss"] = self._actor_step(b.obs)
        return metrics

    def _critic_step(self, b, noise: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config
        with torch.no_grad():
            target_q = td3_target(
                self.actor_target,
                self.critic_target,
                b,
                noise,
                self.policy_noise,
                self.noise_clip,
                self.max_action,
                cfg.discount,
            )
        critic_loss, q1 = td3_critic_loss(self.critic, b.obs, b.action, target_q)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        return {"critic_loss": critic_loss.detach(), "q1": q1.detach()}

    def _actor_step(self, obs: torch.Tensor) -> torch.Tensor:
        actor_loss = td3_actor_loss(self.actor, lambda o, a: self.critic.member(o, a, 0), obs)  # Q1 only
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        polyak_update(self.critic, self.critic_target, self.config.tau)
        polyak_update(self.actor, self.actor_target, self.config.tau)
        return actor_loss.detach()

    def compile_update(self, mode: str | None = None) -> None:
        """``bench run --compile``: the critic and actor steps (forward, backward, Adam, Polyak) through
        ``torch.compile`` (inductor; ``mode="reduce-overhead"`` adds CUDA graphs on a GPU). Sampling and the
        every-other-update branch stay outside, so the compiled steps hold no generator and no host sync."""
        self._critic_step = compile_step(self._critic_step, mode)
        self._actor_step = compile_step(self._actor_step, mode)

    def extra_state(self) -> dict:
        return {"total_it": self.total_it}

    def load_extra_state(self, state: dict) -> None:
        self.total_it = state["total_it"]


class TD3SeedBatch:
    """S TD3 agents (one task and config, S seeds) updated as one batched computation (algorithms/common/seed_batch.py).

    ``update(step, mask)`` is ``TD3.update`` of every seed in ``mask`` at once: each samples its batch and
    target noise from its own generator, in TD3.update's order; the target, critic and actor losses run on
    (S, B, ...) tensors with the agents' own networks read as batched matmuls (the loss is the sum of the
    seeds' losses, so each seed's gradient is its own); ``SeedAdam`` steps the seeds in ``mask`` (the actor
    and targets of those whose own update count is a multiple of ``actor_update_freq``). Metrics are per
    seed, shape (S,).
    """

    def __init__(self, agents: list[TD3]):
        first = agents[0]
        if any(a.config != first.config or a.device != first.device for a in agents):
            raise ValueError("a seed batch holds agents of one config on one device")
        self.agents, self.config, cfg = agents, first.config, first.config
        self.total_it = torch.tensor([a.total_it for a in agents])
        self.actor, self.critic = Stacked([a.actor for a in agents], True), Stacked([a.critic for a in agents], True)
        self.actor_target = Stacked([a.actor_target for a in agents], False)
        self.critic_target = Stacked([a.critic_target for a in agents], False)
        self.actor_opt, self.critic_opt = (
            SeedAdam(self.actor.tensors(), cfg.lr),
            SeedAdam(self.critic.tensors(), cfg.lr),
        )
        for i, a in enumerate(agents):  # a resumed agent brings its moments and step counts
            self.actor_opt.load(i, a.actor_opt)
            self.critic_opt.load(i, a.critic_opt)
        self._consts = (first.policy_noise, first.noise_clip, first.max_action, cfg.discount)  # td3_target's
        self._actor_net, self._heads = first.actor.net, first.critic.heads  # structure only (weights: the stacks)

    # the agents' networks on (S, B, ...) inputs with stacked parameters
    def _pi(self, params, obs):
        return self._consts[2] * torch.tanh(seed_sequential(self._actor_net, params, "net.", obs))

    def _q(self, params, obs, action, member=None):
        return seed_ensemble(self._heads, params, "heads.", torch.cat([obs, action], dim=-1), member)

    def update(self, step: int, mask: list[bool] | None = None) -> dict[str, torch.Tensor]:
        cfg, n = self.config, len(self.agents)
        mask = torch.ones(n, dtype=torch.bool) if mask is None else torch.as_tensor(mask, dtype=torch.bool)
        self.total_it += mask.long()
        drawn = {}
        for i in torch.nonzero(mask).flatten().tolist():  # per-seed draws, in TD3.update's order
            a = self.agents[i]
            b = a.replay.sample(cfg.batch_size, a.torch_gen)
            drawn[i] = (b, torch.randn(b.action.shape, generator=a.torch_gen, device=a.device))
        stand_in = next(iter(drawn.values()))  # masked seeds compute on it; their results are never applied
        b = stack_batches([drawn.get(i, stand_in)[0] for i in range(n)])
        noise = torch.stack([drawn.get(i, stand_in)[1] for i in range(n)])
        actor_t, critic_t = self.actor_target.params, self.critic_target.params
        with torch.no_grad():  # (S, B, 1); the q's are (S, 2, B, 1): min over dim 1
            target_q = td3_target(
                lambda o: self._pi(actor_t, o),
                lambda o, a: self._q(critic_t, o, a).unbind(1),
                b,
                noise,
                *self._consts,
            )
        critic_losses, q1 = self._critic_losses(b, target_q)
        grads = torch.autograd.grad(critic_losses.sum(), self.critic.tensors())
        self.critic_opt.step(list(grads), mask)
        metrics = {"critic_loss": critic_losses.detach(), "q1": q1.detach()}

        actor_mask = mask & (self.total_it % cfg.actor_update_freq == 0)
        if bool(actor_mask.any()):
            critic_now = {k: p.detach() for k, p in self.critic.params.items()}
            actor_losses = -self._q(critic_now, b.obs, self._pi(self.actor.params, b.obs), member=0).mean(dim=(1, 2))
            grads = torch.autograd.grad(actor_losses.sum(), self.actor.tensors())
            self.actor_opt.step(list(grads), actor_mask)
            masked_lerp_(self.critic_target.tensors(), self.critic.tensors(), cfg.tau, actor_mask)
            masked_lerp_(self.actor_target.tensors(), self.actor.tensors(), cfg.tau, actor_mask)
            metrics["actor_loss"] = actor_losses.detach()
        self.last_actor_mask = actor_mask
        return metrics

    def _critic_losses(self, b, target_q) -> tuple[torch.Tensor, torch.Tensor]:
        """Per seed: td3_critic_loss's MSE(Q1) + MSE(Q2) and mean Q1, each (S,)."""
        q = self._q(self.critic.params, b.obs, b.action)  # (S, 2, B, 1)
        losses = (q - target_q.unsqueeze(1)).square().mean(dim=(2, 3)).sum(dim=1)
        return losses, q[:, 0].mean(dim=(1, 2))

    def seed_metrics(self, metrics: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
        """Seed ``i``'s metrics of the last ``update``, as its own ``TD3.update`` would have returned them."""
        return {k: v[i] for k, v in metrics.items() if k != "actor_loss" or bool(self.last_actor_mask[i])}

    def export(self, i: int) -> None:
        """Seed ``i``'s optimizer moments and update count into its agent, so ``agents[i].state_dict()`` is
        what its unbatched run would save (module tensors alias the batch: clone them before saving)."""
        agent = self.agents[i]
        self.actor_opt.export(i, agent.actor_opt)
        self.critic_opt.export(i, agent.critic_opt)
        agent.total_it = int(self.total_it[i])

    def release(self, i: int) -> None:
        """Seed ``i`` leaves the batch (finished or failed): its agent gets its own tensors and optimizer state."""
        self.export(i)
        agent = self.agents[i]
        self.actor.release(i, agent.actor, agent.actor_opt)
        self.critic.release(i, agent.critic, agent.critic_opt)
        self.actor_target.release(i, agent.actor_target)
        self.critic_target.release(i, agent.critic_target)
