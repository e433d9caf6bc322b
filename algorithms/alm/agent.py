"""ALM, Aligned Latent Models (Ghugare, Bharadhwaj, Eysenbach, Levine, Salakhutdinov, ICLR 2023).

Faithful to the official code (github:RajGhugare19/alm @3b70f5b; spec shared/specs/alm.md) and the
paper's Algorithm 1 / Table 3. One update per agent step after ``start_steps`` random steps, in the
official order (agents/alm.py ``update``):

1. encoder + latent model on 512 length-K windows (K = 3): z_0 ~ e(s_0) (online encoder), then the
   model chain z_{t+1} ~ m(z_t, a_t) driven by the buffer actions; loss = mean_b[ sum_t (KL(m(.|z_t,a_t)
   || e_target(.|s'_t)) - r(z_t, a_t)) - min Q(z_K, pi(z_K)) ]: KL weight 1, no discount, reward and
   critic frozen (their gradient reaches z only), the classifier unused.
2. on a fresh batch of 512 single transitions, every latent a *target-encoder* sample (an independent
   draw per consumer): reward MSE + classifier cross entropy (half the rows get a model-generated z',
   label 0), one optimizer; critic TD on the real reward with the scheduled, clipped policy noise;
   actor by a K-step imagined rollout with lambda-returns (lambda 0.95) of r + 0.1 * log-odds(C) and
   min Q, weights gamma^t, loss = -mean over time and batch (Q sees detached actions, the actor sees
   detached latents, model samples stay reparameterised).
3. Polyak (tau 0.005) of the target encoder and the target critic.

Exploration: TruncatedNormal(tanh mean, sigma) with sigma linear 1.0 -> 0.1 over 100k *agent* steps
(the counter excludes warm-up); noise clipped at 0.3 inside the losses, unclipped when acting; actions
clamped to [low + 1e-6, high - 1e-6] with a straight-through gradient. Evaluation acts with the tanh
mean (not clamped) of a *sampled* online-encoder latent, as the official ``get_action(eval=True)``.

Choices and deviations (each a config field, so every manifest records it):
- ``start_steps=5000`` as paper Table 3 (the official loop takes 4,999 random steps, then acts).
- Windows never span an episode end, timeouts included; ``windows_cross_timeouts=True`` is the
  official buffer (time-limit ends stored as not-done, so windows may run into the next episode).
- Replay: the shared sequence replay (``algorithms/common/sequence_replay.py``, boundary ``"forbid"``)
  stores each observation once, so ``buffer_size`` counts slots, one more per episode end (the official
  buffer holds ``buffer_size`` transitions, each with its next observation); single transitions are
  drawn uniformly from those held.
- Window starts are uniform over every valid slot (the official sampler draws from [0, idx - K),
  skipping the newest valid start before the buffer fills).
- Gradient clipping does not raise on non-finite norms (the official ``error_if_nonfinite=True``
  costs a host sync per optimizer); the training loop stops a diverged run within 1000 steps.
- ``rescale_actions=False``: as the official code, the tanh actor is not rescaled to the action
  bounds (its training samples are clamped to the scalar bounds low[0], high[0]); ``True`` maps
  [-1, 1] affinely onto the bounds (for tasks such as Pendulum whose bounds are not +-1).
- Random draws (latent samples, policy noise, the classifier's negative rows) come from the agent's
  own torch generator, not the global numpy/torch RNGs, so a resumed run is identical.

Ablations (paper Figure 5 / Appendix E), as config switches: ``kl_coef``, ``value_coef``,
``classifier_coef``, ``seq_len``, ``actor_objective="td"`` (the official, unused ``_td_loss``:
-min Q(z, pi(z)) on target-encoder latents, i.e. the "TD3 actor" on ALM's representation) and
``entropy_bonus`` (ALM-ENT, Table 5; not in the official code, see ``ALM-ENT`` below).

ALM-ENT (our reconstruction; the paper gives one sentence and the official code only an unused
``StochasticActor``): the actor is that StochasticActor (learned std in [e^-5, e^2], SAC-SVG's
log-std bounds); the soft value adds alpha * H(pi(.|z)) to the critic
target and to every imagined step's reward and value in the actor's lambda-returns; alpha is learned
as in SAC-SVG's LearnTemp (loss alpha * (H - target), target entropy -|A|, initial alpha 0.1, lr 1e-4).
H is the entropy of the policy the losses actually sample, the Gaussian with its noise clipped at 0.3
(``clipped_policy_entropy``: the truncated normal). The scheduled exploration sigma is unused (the
learned std explores); the 0.3 noise clip still applies inside the losses.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F

from algorithms.alm.config import Config  # the paper defaults and the variants, importable without torch
from algorithms.alm.networks import (
    Actor,
    Classifier,
    Encoder,
    LatentModel,
    Reward,
    gaussian_kl,
    lambda_returns,
    truncated_normal_sample,
    twin_q,
)
from algorithms.base import Agent, Transition, register
from algorithms.common.actions import ActionScaler
from algorithms.common.nets import Temperature, adam, polyak_update
from algorithms.common.schedules import linear_schedule  # utils/env.py linear_schedule
from algorithms.common.sequence_replay import SequenceReplay
from core.errors import UserError

ACTOR_OBJECTIVES = ("lambda_svg", "td")


def _clip(params: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    return torch.nn.utils.clip_grad_norm_(params, max_norm=max_norm, foreach=True)


@register("alm")
class ALM(Agent):
    Config = Config
    action_kinds = ("continuous",)
    observation_kinds = ("state",)
    conformance_overrides = {
        "latent_dim": 8,
        "hidden_dim": 32,
        "model_hidden_dim": 32,
        "batch_size": 16,
        "buffer_size": 1_000,
    }

    def __init__(self, obs_space, action_space, config: Config, device, seed):
        super().__init__(obs_space, action_space, config, device, seed)
        cfg = config
        if cfg.actor_objective not in ACTOR_OBJECTIVES:
            raise UserError(
                f"unknown alm actor_objective {cfg.actor_objective!r}; valid: {', '.join(ACTOR_OBJECTIVES)}"
            )
        if cfg.seq_len < 1:
            raise UserError(f"bad alm seq_len {cfg.seq_len}; valid: an integer >= 1")
        obs_dim, self.action_dim = obs_space.shape[0], action_space.shape[0]
        if cfg.rescale_actions:  # actor works in [-1, 1]; env actions = bias + scale * a
            self.low, self.high = -1.0, 1.0
            self.scaler = ActionScaler(action_space.low, action_space.high)
        else:  # official: scalar bounds action_space.low[0] / high[0] (workspaces/common.py), actions unscaled
            self.low, self.high = float(action_space.low[0]), float(action_space.high[0])
            self.scaler = ActionScaler.identity(self.action_dim)
        z, a, h = cfg.latent_dim, self.action_dim, cfg.hidden_dim
        self.encoder = Encoder(obs_dim, h, z).to(self.device)
        self.encoder_target = copy.deepcopy(self.encoder).requires_grad_(False)
        self.model = LatentModel(z, a, cfg.model_hidden_dim).to(self.device)
        self.reward = Reward(z, a, h).to(self.device)
        self.classifier = Classifier(z, a, h).to(self.device)
        self.critic = twin_q(z, a, h).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor = Actor(z, a, h, stochastic=cfg.entropy_bonus).to(self.device)
        # four Adam optimizers with default betas/eps (agents/alm.py _init_optims)
        self.model_params = [*self.encoder.parameters(), *self.model.parameters()]
        self.reward_params = [*self.reward.parameters(), *self.classifier.parameters()]
        self.model_opt = adam(self.model_params, cfg.model_lr)
        self.reward_opt = adam(self.reward_params, cfg.reward_lr)
        self.critic_opt = adam(self.critic.parameters(), cfg.critic_lr)
        self.actor_opt = adam(self.actor.parameters(), cfg.actor_lr)
        if cfg.entropy_bonus:
            self.temperature = Temperature(cfg.init_temperature).to(self.device)
            self.temperature_opt = adam(self.temperature.parameters(), cfg.temperature_lr)
            self.target_entropy = -float(self.action_dim)  # SAC-SVG init/final_targ_entr = -|A|
        # K-step windows with no episode end before their last step (timeouts too, unless windows_cross_timeouts)
        self.replay = SequenceReplay(
            obs_space.shape,
            self.action_dim,
            cfg.buffer_size,
            cfg.seq_len,
            self.device,
            boundary="forbid",
            cross_truncations=cfg.windows_cross_timeouts,
        )
        self.agent_steps = 0  # official _train_step: updates so far, drives the exploration schedule

    # -- acting ------------------------------------------------------------------------------------
    def expl_std(self, step: int) -> float:
        cfg = self.config
        return linear_schedule(
            cfg.exploration_noise_start, cfg.exploration_noise_end, cfg.exploration_decay_steps, step
        )

    def _randn(self, shape, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(shape, generator=generator or self.torch_gen, device=self.device)

    def _policy(
        self, z: torch.Tensor, std: float, clip: float | None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(action sample, policy std): TruncatedNormal(actor mean, std).sample(clip), straight-through clamp."""
        mean, scale = self.actor(z, std)
        return truncated_normal_sample(
            mean, scale, self._randn(mean.shape, generator), self.low, self.high, clip
        ), scale

    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None]
        z = self.encoder(obs_t).sample(self.explore_gen)  # online encoder, sampled (also at evaluation)
        if explore:
            action, _ = self._policy(z, self.expl_std(self.agent_steps), clip=None, generator=self.explore_gen)
        else:
            action = self.actor(z, 0.0)[0]  # TruncatedNormal.mean: the tanh mean, not clamped
        return self.scaler.to_env(action[0].cpu().numpy())

    def observe(self, t: Transition) -> None:
        self.replay.add(t.obs, self.scaler.from_env(t.action), t.next_obs, t.reward, t.terminated, t.truncated)

    # -- learning ----------------------------------------------------------------------------------
    def update(self, step: int) -> dict[str, torch.Tensor]:
        cfg = self.config
        self.agent_steps += 1
        std = self.expl_std(self.agent_steps)
        metrics = self._update_representation(std)
        b = self.replay.sample_transitions(cfg.batch_size, self.torch_gen)
        with torch.no_grad():  # update_rest: every latent is a target-encoder sample, an independent draw each
            z_dist, z_next_dist = self.encoder_target(b.obs), self.encoder_target(b.next_obs)
            z_next_model = self.model(z_dist.sample(self.torch_gen), b.action).sample(self.torch_gen)
        g = self.torch_gen
        metrics |= self._update_reward_classifier(
            z_dist.sample(g), b.action, b.reward, z_next_dist.sample(g), z_next_model
        )
        metrics |= self._update_critic(z_dist.sample(g), b.action, b.reward, z_next_dist.sample(g), b.not_done, std)
        metrics |= self._update_actor(z_dist.sample(g), std)
        if self.agent_steps % cfg.target_update_interval == 0:
            polyak_update(self.encoder, self.encoder_target, cfg.tau)
            polyak_update(self.critic, self.critic_target, cfg.tau)
        metrics["expl_std"] = torch.tensor(std)
        return metrics

    def _alpha(self) -> torch.Tensor | float:
        return self.temperature().detach() if self.config.entropy_bonus else 0.0

    def _update_representation(self, std: float) -> dict[str, torch.Tensor]:
        """agents/alm.py alm_loss: sum_t (KL_t - r(z_t, a_t)) - min Q(z_K, a_K), z chained through model samples."""
        cfg = self.config
        w = self.replay.sample(cfg.batch_size, cfg.seq_len, self.torch_gen)  # batch-major (B, K, ...)
        z = self.encoder(w.state[:, 0]).rsample(self.torch_gen)
        loss, kl_sum = 0.0, 0.0
        for t in range(cfg.seq_len):
            prior = self.model(z, w.action[:, t])
            with torch.no_grad():
                posterior = self.encoder_target(w.next_state[:, t])
            kl = gaussian_kl(prior, posterior)  # direction: model first, target encoder second
            loss = loss + cfg.kl_coef * kl - self.reward(z, w.action[:, t])[:, 0]  # reward frozen: grads reach z only
            kl_sum = kl_sum + kl.detach().mean()
            z = prior.rsample(self.torch_gen)
        with torch.no_grad():
            action, _ = self._policy(z, std, cfg.stddev_clip)
        q = torch.min(*self.critic(z, action))[:, 0]  # critic frozen: grads reach z_K only
        loss = (loss - cfg.value_coef * q).mean()
        self.model_opt.zero_grad(set_to_none=True)
        loss.backward(inputs=self.model_params)
        grad_norm = _clip(self.model_params, cfg.max_grad_norm)
        self.model_opt.step()
        return {"alm_loss": loss.detach(), "kl": kl_sum / cfg.seq_len, "model_grad_norm": grad_norm}

    def _update_reward_classifier(self, z, action, reward, z_next, z_next_model) -> dict[str, torch.Tensor]:
        """MSE to the real reward + cross entropy of C on half real (label 1), half model-generated (label 0) z'."""
        n = z.shape[0]
        reward_loss = F.mse_loss(self.reward(z, action), reward)
        fake = torch.randperm(n, generator=self.torch_gen, device=self.device)[: n // 2]
        z_next = z_next.clone()
        z_next[fake] = z_next_model[fake]
        labels = torch.ones(n, dtype=torch.long, device=self.device)
        labels[fake] = 0
        classifier_loss = F.cross_entropy(self.classifier(z, action, z_next), labels)
        self.reward_opt.zero_grad(set_to_none=True)
        (reward_loss + classifier_loss).backward()
        _clip(self.reward_params, self.config.max_grad_norm)
        self.reward_opt.step()
        return {"reward_loss": reward_loss.detach(), "classifier_loss": classifier_loss.detach()}

    def _update_critic(self, z, action, reward, z_next, not_done, std) -> dict[str, torch.Tensor]:
        cfg = self.config
        with torch.no_grad():
            next_action, next_std = self._policy(z_next, std, cfg.stddev_clip)
            target_v = torch.min(*self.critic_target(z_next, next_action))
            if cfg.entropy_bonus:  # soft value (ALM-ENT)
                target_v = target_v + self._alpha() * clipped_policy_entropy(next_std, cfg.stddev_clip)
            target = reward + cfg.discount * not_done * target_v
        q1, q2 = self.critic(z, action)
        critic_loss = (F.mse_loss(q1, target) + F.mse_loss(q2, target)) / 2
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        _clip(list(self.critic.parameters()), cfg.max_grad_norm)
        self.critic_opt.step()
        return {"critic_loss": critic_loss.detach(), "q": q1.detach().mean()}

    def _update_actor(self, z0: torch.Tensor, std: float) -> dict[str, torch.Tensor]:
        cfg = self.config
        if cfg.actor_objective == "td":  # official _td_loss: -min Q(z, pi(z)) on target-encoder latents
            action, scale = self._policy(z0, std, cfg.stddev_clip)
            value = torch.min(*self.critic(z0, action))
            entropy = clipped_policy_entropy(scale, cfg.stddev_clip)
            actor_loss = -(value + self._alpha() * entropy).mean()
        else:
            actor_loss, entropy = self._lambda_svg_loss(z0, std)
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward(inputs=list(self.actor.parameters()))  # model, reward, classifier, critic frozen
        _clip(list(self.actor.parameters()), cfg.max_grad_norm)
        self.actor_opt.step()
        metrics = {"actor_loss": actor_loss.detach()}
        if cfg.entropy_bonus:  # SAC-SVG LearnTemp.update on the first step's policy entropy
            alpha = self.temperature()
            alpha_loss = (alpha * (entropy.detach() - self.target_entropy)).mean()
            self.temperature_opt.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.temperature_opt.step()
            metrics |= {"alpha": alpha.detach(), "entropy": entropy.detach().mean()}
        return metrics

    def _lambda_svg_loss(self, z0: torch.Tensor, std: float) -> tuple[torch.Tensor, torch.Tensor]:
        """agents/alm.py _lambda_svg_loss: K-step imagined rollout, lambda-returns of r + c * log-odds and min Q."""
        cfg = self.config
        zs, actions, scales = [z0], [], []
        z = z0
        for _ in range(cfg.seq_len):
            action, scale = self._policy(z.detach(), std, cfg.stddev_clip)  # the actor sees detached latents
            z = self.model(z, action).rsample(self.torch_gen)  # model frozen, sample differentiable in (z, a)
            zs.append(z), actions.append(action), scales.append(scale)
        action, scale = self._policy(z.detach(), std, cfg.stddev_clip)
        actions.append(action), scales.append(scale)
        z_seq, a_seq = torch.stack(zs), torch.stack(actions)  # (K+1, B, .)
        rewards = self.reward(z_seq[:-1], a_seq[:-1])
        rewards = rewards + cfg.classifier_coef * self.classifier.log_odds(z_seq[:-1], a_seq[:-1], z_seq[1:].detach())
        values = torch.min(*self.critic(z_seq, a_seq.detach()))  # Q sees detached actions: grads via z only
        entropy = clipped_policy_entropy(torch.stack(scales), cfg.stddev_clip)  # (K+1, B, 1)
        if cfg.entropy_bonus:  # ALM-ENT: alpha H on every step's reward and on the soft values
            rewards, values = rewards + self._alpha() * entropy[:-1], values + self._alpha() * entropy
        returns = lambda_returns(rewards, values[1:], cfg.discount, cfg.td_lambda)
        weights = cfg.discount ** torch.arange(cfg.seq_len, device=self.device, dtype=returns.dtype)
        return -(weights[:, None, None] * returns).mean(), entropy[0]

    def extra_state(self) -> dict:
        return {"agent_steps": self.agent_steps}

    def load_extra_state(self, state: dict) -> None:
        self.agent_steps = state["agent_steps"]


def clipped_policy_entropy(scale: torch.Tensor, clip: float) -> torch.Tensor:
    """Entropy of the policy the losses sample: per dimension N(mean, scale^2) with its noise confined to
    [-clip, clip], i.e. the Gaussian truncated to mean +- clip; summed over (..., A) -> (..., 1).

    H = log(sqrt(2 pi e) sigma Z) - b phi(b) / Z with b = clip / sigma and Z = 2 Phi(b) - 1. The official
    TruncatedNormal clamps rather than resamples (the tail mass sits on +-clip, a distribution without a
    differential entropy), so this is our reading: the same density inside the interval, renormalised.
    It tends to the Gaussian's entropy for sigma << clip and to log(2 clip) (uniform) for sigma >> clip,
    so the bonus cannot grow without bound by widening a std that the clip discards. The final clamp to
    the action bounds is ignored.
    """
    b = clip / scale
    z = 2.0 * torch.special.ndtr(b) - 1.0
    phi = torch.exp(-0.5 * b * b) / math.sqrt(2 * math.pi)
    per_dim = 0.5 * math.log(2 * math.pi * math.e) + torch.log(scale * z) - b * phi / z
    return per_dim.sum(-1, keepdim=True)
