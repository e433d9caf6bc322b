"""OMD: Optimal Model Design (Nikishin, Abachi, Agarwal & Bacon, AAAI 2022), with its MLE and VEP baselines.

Ported from the official JAX code (github:evgenii-nikishin/omd @10f5b1e; spec shared/specs/omd.md).
A deterministic model (s, a) -> (s', r) is trained so that the Q-function fitted to *model* targets
has a small Bellman error on *real* data. Q never sees real (r, s'): it learns only through the model.

Discrete actions (the CartPole code, spec section 1), one update per agent step:
  1. inner solver: with a fresh Adam state (``reset_inner_opt``, official ``warm_opt=False``), K Q steps on
     the soft double-Q loss of the model batch (s, a, r_hat, s'_hat, real bootstrap mask), each followed
     by the Polyak target update;
  2. g = grad_phi of the same loss on the real batch at the updated Q and target;
  3. model gradient = -(d^2 L_model / dtheta dphi)^T g (the identity approximation of the inverse
     Hessian, ``inverse_jacobian="identity"``; ``"cg"`` solves (H + 1e-5 I) v = g first), one Adam step.
  Soft double-Q target: y = r + gamma * mask * alpha * logsumexp(min(Q1', Q2')(s') / alpha), the min taken
  per action before the log-sum-exp. Acting: Boltzmann softmax(mean(Q1, Q2) / alpha), epsilon 0.1
  uniform in training; evaluation samples the Boltzmann policy without epsilon (``eval_sample``).
  ``agent_type="mle"`` (``omd@mle``): model step on next-state + reward MSE, then a Q step through the
  updated model on a fresh batch with a persistent Q Adam state (Dyna). ``"vep"`` (``omd@vep``): the same,
  but the model loss is sum_i mean (V_i(s') - V_i(s'_hat))^2 + reward MSE with 5 frozen random value
  functions; the deterministic state-independent policies of the value-equivalence paper are covered by
  conditioning the one-step model on the replayed action, as the official code does.

Continuous actions (the MuJoCo code, spec section 2, paper Appendix F): SAC as the inner optimizer
(twin critics, tanh-Gaussian actor, learned temperature, target entropy -|A|/2). The inner solver is
K x [critic step on model targets -> target update -> actor step -> temperature step] with persistent
optimizer states; the outer gradient uses the critic loss on the real batch (sum of the two MSEs, not
halved) and only the critic's cotangent (spec pitfall 5). MLE uses the *same* batch for the model step
and the SAC step (spec pitfall 3). VEP on continuous actions is not in the official code: it is the
CartPole VEP model loss followed by the MLE-style SAC step.

Deviations, each named: float32 instead of the official float64 (x64) parameters; batches are sampled
with replacement (official: without); the inverse-Jacobian CG stops at relative tolerance 1e-5 as JAX's
default; ``start_steps`` is CartPole's 1000 for both kinds (MuJoCo used 10k: ``--set start_steps=10000``);
the Gaussian (``prob_model``), ``no_learn_reward`` and ``no_warm`` options of the official code are not ported.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from algorithms.base import Agent, Transition, register
from algorithms.common.actions import ActionScaler
from algorithms.common.nets import Temperature, adam, polyak_update
from algorithms.common.replay import TransitionReplay
from algorithms.omd.config import Config  # the paper defaults and the variants, importable without torch
from algorithms.omd.implicit import implicit_gradient
from algorithms.omd.networks import Model, QNetwork, RandomValues, TanhGaussianPolicy, critic
from core.errors import UserError

AGENT_TYPES = ("omd", "mle", "vep")


def soft_double_q_target(
    reward: torch.Tensor, mask: torch.Tensor, next_q: torch.Tensor, discount: float, alpha: float, hard: bool = False
) -> torch.Tensor:
    """y = r + gamma * mask * alpha * logsumexp(min_heads Q'(s') / alpha) (omd.py ``loss_Q``).

    ``next_q``: (heads, B, |A|) target Q-values at s'; the min over heads is taken per action *before*
    the log-sum-exp. ``hard``: max over actions instead.
    """
    v = next_q.min(dim=0).values
    v = v.max(-1, keepdim=True).values if hard else alpha * torch.logsumexp(v / alpha, dim=-1, keepdim=True)
    return reward + discount * mask * v


@register("omd")
class OMD(Agent):
    Config = Config
    action_kinds = ("discrete", "continuous")
    observation_kinds = ("state",)
    conformance_overrides = {
        "buffer_size": 2_000,
        "batch_size": 32,
        "sac_hidden": (32, 32),
        "sac_model_hidden_dim": 16,
        "cg_max_iter": 10,
    }

    def __init__(self, obs_space, action_space, config: Config, device, seed):
        super().__init__(obs_space, action_space, config, device, seed)
        cfg = config
        if cfg.agent_type not in AGENT_TYPES:
            raise UserError(f"unknown omd agent_type {cfg.agent_type!r}; valid: {', '.join(AGENT_TYPES)}")
        if cfg.inverse_jacobian not in ("identity", "cg"):  # checked here, not at the first update
            raise UserError(f"unknown omd inverse_jacobian {cfg.inverse_jacobian!r}; valid: identity, cg")
        self.discrete = hasattr(action_space, "n")
        obs_dim = obs_space.shape[0]
        if self.discrete:
            self.num_actions = int(action_space.n)
            self.q = QNetwork(obs_dim, self.num_actions, cfg.q_hidden, 2 if cfg.double_q else 1).to(self.device)
            self.q_target = copy.deepcopy(self.q).requires_grad_(False)
            self.q_opt = adam(self.q.parameters(), cfg.q_lr)
            self.model = Model(obs_dim, self.num_actions, cfg.model_hidden_dim, separate_reward=True).to(self.device)
            self.model_opt = adam(self.model.parameters(), cfg.model_lr)
            self.replay = TransitionReplay(obs_space.shape, 1, cfg.buffer_size, self.device)
        else:
            self.action_dim = int(action_space.shape[0])
            self.scaler = ActionScaler(action_space.low, action_space.high)  # official RescaleAction(-1, 1) wrapper
            self.critic = critic(obs_dim, self.action_dim, cfg.sac_hidden).to(self.device)
            self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)  # same init (same key)
            self.actor = TanhGaussianPolicy(obs_dim, self.action_dim, cfg.sac_hidden).to(self.device)
            self.temperature = Temperature(cfg.sac_init_temperature).to(self.device)
            self.critic_opt = adam(self.critic.parameters(), cfg.sac_lr)
            self.actor_opt = adam(self.actor.parameters(), cfg.sac_lr)
            self.alpha_opt = adam(self.temperature.parameters(), cfg.sac_lr)
            self.target_entropy = -cfg.sac_target_entropy_scale * self.action_dim
            self.model = Model(obs_dim, self.action_dim, cfg.sac_model_hidden_dim, separate_reward=False).to(
                self.device
            )
            self.model_opt = adam(self.model.parameters(), cfg.sac_model_lr)
            self.replay = TransitionReplay(obs_space.shape, self.action_dim, cfg.buffer_size, self.device)
        if cfg.agent_type == "vep":
            self.values = RandomValues(obs_dim, cfg.q_hidden, cfg.vep_values).to(self.device)

    # -- acting ----------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool):
        state = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)[None]
        if not self.discrete:
            action, _ = self.actor(state, self.torch_gen, deterministic=not explore)  # eval: tanh(mean)
            return self.scaler.to_env(action[0].cpu().numpy())
        cfg = self.config
        if explore and self.np_rng.random() < cfg.epsilon:  # train.py: eps-random action in the env loop
            return int(self.np_rng.integers(self.num_actions))
        q = self.q(state).mean(0)[0]  # act with the mean of the two heads
        if cfg.hard or (not explore and not cfg.eval_sample):
            return int(q.argmax())
        return int(torch.multinomial(torch.softmax(q / cfg.alpha, -1), 1, generator=self.torch_gen))

    def observe(self, t: Transition) -> None:
        if self.discrete:
            action = np.asarray([float(t.action)], np.float32)
        else:  # the agent works in [-1, 1] (official RescaleAction(-1, 1) wrapper)
            action = self.scaler.from_env(t.action)
        # bootstrap mask = 1 at a time limit (not_done_no_max), 0 only after a true terminal
        self.replay.add(t.obs, action, t.reward, t.next_obs, t.terminated)

    # -- losses ----------------------------------------------------------------------------------
    def _model_input(self, action: torch.Tensor) -> torch.Tensor:
        return F.one_hot(action[:, 0].long(), self.num_actions).float() if self.discrete else action

    def _q_loss(self, obs, action, reward, next_obs, mask) -> torch.Tensor:
        """Soft double-Q loss 1/2 [mean (Q1 - y)^2 + mean (Q2 - y)^2]; y carries the gradient of reward and
        next_obs (model outputs) but not of the target parameters."""
        cfg = self.config
        y = soft_double_q_target(reward, mask, self.q_target(next_obs), cfg.discount, cfg.alpha, cfg.hard)
        index = action.long().expand(self.q.heads.layers[0].members, -1, -1)
        q = self.q(obs).gather(-1, index)  # (heads, B, 1)
        return (q - y).pow(2).mean()  # = mean over heads of the per-head MSE

    def _critic_loss(self, obs, action, reward, next_obs, mask) -> torch.Tensor:
        """SAC critic loss on (possibly model) targets, sum of the two MSEs (critic.py, not halved).
        a' ~ pi(.|stop_grad(s')); log pi and alpha are constants; the model enters via r and the target input."""
        with torch.no_grad():
            next_action, next_log_prob = self.actor(next_obs.detach(), self.torch_gen)
            alpha = self.temperature()
        next_q = self.critic_target(next_obs, next_action).min(0).values
        y = reward + self.config.discount * mask * (next_q - alpha * next_log_prob)
        return (self.critic(obs, action) - y).pow(2).mean(dim=(1, 2)).sum()

    def _model_loss(self, b) -> torch.Tensor:
        """MLE: sum over dims of the next-state squared error, batch mean, + reward MSE. VEP: the value
        differences of the frozen random value functions + reward MSE (omd.py loss_mle / loss_vep)."""
        next_hat, reward_hat = self.model(b.obs, self._model_input(b.action))
        reward_loss = (reward_hat - b.reward).pow(2).mean()
        if self.config.agent_type == "vep":
            return (self.values(b.next_obs) - self.values(next_hat)).pow(2).mean(dim=(1, 2)).sum() + reward_loss
        return (next_hat - b.next_obs).pow(2).sum(-1).mean() + reward_loss

    # -- inner optimizer steps -------------------------------------------------------------------
    def _inner_step(self, b, reward, next_obs) -> torch.Tensor:
        """One step of the inner optimizer on the model batch (s, a, r_hat, s'_hat, real mask)."""
        cfg = self.config
        if self.discrete:
            loss = self._q_loss(b.obs, b.action, reward, next_obs, b.not_done)
            self.q_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.q_opt.step()
            polyak_update(self.q, self.q_target, cfg.tau)
            return loss.detach()
        loss = self._critic_loss(b.obs, b.action, reward, next_obs, b.not_done)
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        polyak_update(self.critic, self.critic_target, cfg.sac_tau)
        # actor and temperature steps on the real states, with the just-updated critic (jax-rl sac order)
        action, log_prob = self.actor(b.obs, self.torch_gen)
        actor_loss = (self.temperature().detach() * log_prob - self.critic(b.obs, action).min(0).values).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        entropy = -log_prob.detach().mean()
        alpha_loss = self.temperature() * (entropy - self.target_entropy)
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_opt.step()
        return loss.detach()

    def _inner_opts(self) -> list[torch.optim.Optimizer]:
        return [self.q_opt] if self.discrete else [self.critic_opt, self.actor_opt, self.alpha_opt]

    # -- learning --------------------------------------------------------------------------------
    def update(self, step: int) -> dict[str, torch.Tensor]:
        if self.config.agent_type == "omd":
            return self._update_omd()
        return self._update_dyna()

    def _update_omd(self) -> dict[str, torch.Tensor]:
        cfg = self.config
        b = self.replay.sample(cfg.batch_size, self.torch_gen)
        model_input = self._model_input(b.action)
        # 1. inner solver from the current (warm-started) Q, model fixed
        reset = cfg.reset_inner_opt if self.discrete else cfg.sac_reset_inner_opt
        if reset:
            for opt in self._inner_opts():
                opt.state.clear()  # a fresh Adam: its first step is ~ lr * sign(grad)
        with torch.no_grad():
            next_hat, reward_hat = self.model(b.obs, model_input)
        for _ in range(cfg.inner_steps):
            model_q_loss = self._inner_step(b, reward_hat, next_hat)
        # 2. outer gradient: the TD loss on the real batch at phi*, with the updated target (and actor, alpha)
        loss_fn = self._q_loss if self.discrete else self._critic_loss
        phi = list((self.q if self.discrete else self.critic).parameters())
        real_loss = loss_fn(b.obs, b.action, b.reward, b.next_obs, b.not_done)
        outer_grad = torch.autograd.grad(real_loss, phi)
        # 3. model gradient through the implicit function, the constraint evaluated at phi*
        next_hat, reward_hat = self.model(b.obs, model_input)
        constraint = loss_fn(b.obs, b.action, reward_hat, next_hat, b.not_done)
        theta = list(self.model.parameters())
        grads = implicit_gradient(
            constraint, phi, theta, outer_grad, cfg.inverse_jacobian, cfg.cg_damping, cfg.cg_max_iter
        )
        for p, g in zip(theta, grads):
            p.grad = g
        self.model_opt.step()
        return {
            "real_td_loss": real_loss.detach(),
            "model_td_loss": model_q_loss,
            "model_grad_norm": torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])),
            "next_state_mse": (next_hat.detach() - b.next_obs).pow(2).sum(-1).mean(),
        }

    def _update_dyna(self) -> dict[str, torch.Tensor]:
        """MLE / VEP: model steps on one batch, then inner steps through the updated model. CartPole uses
        a fresh batch for the Q step (omd.py); MuJoCo MLE reuses the model batch (omd_learner.py)."""
        cfg = self.config
        b = self.replay.sample(cfg.batch_size, self.torch_gen)
        for _ in range(cfg.model_steps):
            model_loss = self._model_loss(b)
            self.model_opt.zero_grad(set_to_none=True)
            model_loss.backward()
            self.model_opt.step()
        if self.discrete:
            b = self.replay.sample(cfg.batch_size, self.torch_gen)
        with torch.no_grad():
            next_hat, reward_hat = self.model(b.obs, self._model_input(b.action))
        for _ in range(cfg.inner_steps):
            model_q_loss = self._inner_step(b, reward_hat, next_hat)
        return {
            "model_loss": model_loss.detach(),
            "model_td_loss": model_q_loss,
            "next_state_mse": (next_hat - b.next_obs).pow(2).sum(-1).mean(),
        }
