"""OMD's networks, initialised as the official code (spec sections 1.2 and 2.2).

CartPole (Haiku, cartpole/utils.py ``net_fn``): hidden layers Orthogonal(sqrt 2), output layers
Orthogonal(1e-2), zero biases, ReLU. MuJoCo (jax-rl networks): Orthogonal(sqrt 2) on every layer of an
MLP including its output, zero biases; the policy's mean / log-std Dense heads use the same default
init, Orthogonal(sqrt 2) (jax_rl/networks/common.py ``default_init``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from algorithms.common.nets import EnsembleMLP, EnsembleQ, mlp, orthogonal

SQRT2 = math.sqrt(2.0)
# Orthogonal(sqrt 2) on every layer (jax-rl default_init), or with a 1e-2 output layer (Haiku net_fn); an
# ensemble member's (in, out) matrix is initialised as the Flax / Haiku kernel of that layout
ORTHOGONAL = orthogonal(SQRT2, member_layout="in_out")
ORTHOGONAL_SMALL_OUTPUT = orthogonal(SQRT2, output_gain=1e-2, member_layout="in_out")


class QNetwork(nn.Module):
    """obs -> |A| Q-values, ``heads`` independent MLPs (2 = double Q, official default) as one ensemble."""

    def __init__(self, obs_dim: int, num_actions: int, hidden: tuple[int, ...], heads: int):
        super().__init__()
        self.heads = EnsembleMLP(heads, obs_dim, hidden, num_actions, init=ORTHOGONAL_SMALL_OUTPUT)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:  # (heads, B, |A|)
        return self.heads(obs)


def critic(obs_dim: int, action_dim: int, hidden: tuple[int, ...]) -> EnsembleQ:
    """Twin critics on cat(s, a) (jax-rl DoubleCritic), Orthogonal(sqrt 2) everywhere -> (2, B, 1)."""
    return EnsembleQ(2, obs_dim, action_dim, hidden, init=ORTHOGONAL)


class Model(nn.Module):
    """Deterministic one-step model (s, a) -> (next state, reward); it predicts the absolute next state.

    ``separate_reward=True`` (CartPole): a transition MLP and a reward MLP on the same input, output
    init 1e-2 so initial predictions are ~0. ``False`` (MuJoCo DetModel): one MLP with obs_dim + 1
    outputs, Orthogonal(sqrt 2) everywhere.
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: int, separate_reward: bool):
        super().__init__()
        self.separate_reward = separate_reward
        widths = (hidden, hidden)  # two hidden layers in both official models
        if separate_reward:
            self.transition = mlp(obs_dim + action_dim, widths, obs_dim, init=ORTHOGONAL_SMALL_OUTPUT)
            self.reward = mlp(obs_dim + action_dim, widths, 1, init=ORTHOGONAL_SMALL_OUTPUT)
        else:
            self.joint = mlp(obs_dim + action_dim, widths, obs_dim + 1, init=ORTHOGONAL)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, action], dim=-1)
        if self.separate_reward:
            return self.transition(x), self.reward(x)
        out = self.joint(x)
        return out[:, :-1], out[:, -1:]


class RandomValues(nn.Module):
    """VEP's value functions: ``count`` frozen random MLPs obs -> 1 (output init 1e-2), never trained."""

    def __init__(self, obs_dim: int, hidden: tuple[int, ...], count: int):
        super().__init__()
        self.nets = EnsembleMLP(count, obs_dim, hidden, 1, init=ORTHOGONAL_SMALL_OUTPUT)
        self.requires_grad_(False)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:  # (count, B, 1)
        return self.nets(obs)


class TanhGaussianPolicy(nn.Module):
    """jax-rl NormalTanhPolicy: MLP with ReLU after every hidden layer, mean and state-dependent
    log-std heads (log-std clipped to [-10, 2]), a tanh-squashed diagonal Gaussian."""

    LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.trunk = mlp(obs_dim, hidden, None, init=ORTHOGONAL)
        dim = hidden[-1] if hidden else obs_dim
        # policies.py NormalTanhPolicy: nn.Dense(kernel_init=default_init()) = orthogonal(sqrt 2), zero bias
        self.mean = ORTHOGONAL(nn.Linear(dim, action_dim))
        self.log_std = ORTHOGONAL(nn.Linear(dim, action_dim))

    def forward(self, obs: torch.Tensor, generator: torch.Generator | None, deterministic: bool = False):
        """(action in [-1, 1], log-prob of it) with a reparameterised sample; tanh(mean) when deterministic."""
        h = self.trunk(obs)
        mean = self.mean(h)
        if deterministic:
            return torch.tanh(mean), None
        log_std = self.log_std(h).clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        pre = mean + log_std.exp() * noise
        log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1, keepdim=True)
        # distrax Tanh bijector: log|d tanh(x)/dx| = 2 (log 2 - x - softplus(-2x))
        log_prob = log_prob - (2.0 * (math.log(2.0) - pre - F.softplus(-2.0 * pre))).sum(-1, keepdim=True)
        return torch.tanh(pre), log_prob
