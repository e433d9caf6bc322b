"""ALM's networks (official models.py @3b70f5b; spec shared/specs/alm.md section 2) and the small
distribution helpers the losses need (diagonal Gaussians, the truncated-normal action sample,
lambda-returns).

Every ``nn.Linear`` is initialised orthogonally (gain 1) with zero bias (official
utils/torch_utils.py ``weight_init``); LayerNorm keeps its default init.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from algorithms.common.nets import EnsembleQ, mlp, orthogonal

# models.py Encoder / ModelPrior: std soft-bounded to [0.1, 10], mean soft-clipped to +-30
STD_MIN, STD_MAX, MEAN_BOUND = 0.1, 10.0, 30.0
# models.py StochasticActor (ALM-ENT only): std soft-bounded to [e^-5, e^2] (SAC-SVG log_std_bounds [-5, 2])
ACTOR_STD_MIN, ACTOR_STD_MAX = math.exp(-5.0), math.exp(2.0)
ACTION_EPS = 1e-6  # utils/torch_utils.py TruncatedNormal eps


# utils/torch_utils.py weight_init: orthogonal weights (gain 1), zero biases, for every Linear (each critic
# head's as its own nn.Linear)
orthogonal_init = orthogonal(1.0, member_layout="out_in")


def soft_bound(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """models.py: std = high - softplus(high - x); std = low + softplus(std - low)."""
    x = high - F.softplus(high - x)
    return low + F.softplus(x - low)


class DiagGaussian(NamedTuple):
    """Independent(Normal(mean, std), 1): a diagonal Gaussian over the last dimension."""

    mean: torch.Tensor
    std: torch.Tensor

    def rsample(self, generator: torch.Generator) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def sample(self, generator: torch.Generator) -> torch.Tensor:
        return self.rsample(generator).detach()

    def entropy(self) -> torch.Tensor:
        return (0.5 + 0.5 * math.log(2 * math.pi) + self.std.log()).sum(-1)


def gaussian_kl(p: DiagGaussian, q: DiagGaussian) -> torch.Tensor:
    """KL(p || q) of diagonal Gaussians, summed over the last dimension (= td.kl_divergence of Independent Normals)."""
    var_ratio = (p.std / q.std).pow(2)
    mahalanobis = ((p.mean - q.mean) / q.std).pow(2)
    return 0.5 * (var_ratio + mahalanobis - 1.0 - var_ratio.log()).sum(-1)


def bounded_gaussian(x: torch.Tensor) -> DiagGaussian:
    """models.py Encoder/ModelPrior head: split into (mean, s); mean soft-clipped to +-30, std into [0.1, 10]."""
    mean, s = x.chunk(2, dim=-1)
    return DiagGaussian(MEAN_BOUND * torch.tanh(mean / MEAN_BOUND), soft_bound(s, STD_MIN, STD_MAX))


class Encoder(nn.Module):
    """e(z|s): Linear(S,512)-ELU-Linear(512,512)-ELU-Linear(512,2Z) -> diagonal Gaussian."""

    def __init__(self, obs_dim: int, hidden: int, latent: int):
        super().__init__()
        self.net = mlp(obs_dim, (hidden, hidden), 2 * latent, nn.ELU, init=orthogonal_init)

    def forward(self, obs: torch.Tensor) -> DiagGaussian:
        return bounded_gaussian(self.net(obs))


class LatentModel(nn.Module):
    """m(z'|z,a) (official ModelPrior, num_layers=2): Linear(Z+A,1024)-ELU-Linear(1024,1024)-ELU-Linear(1024,2Z)."""

    def __init__(self, latent: int, action_dim: int, hidden: int):
        super().__init__()
        self.net = mlp(latent + action_dim, (hidden, hidden), 2 * latent, nn.ELU, init=orthogonal_init)

    def forward(self, z: torch.Tensor, action: torch.Tensor) -> DiagGaussian:
        return bounded_gaussian(self.net(torch.cat([z, action], -1)))


# models.py RewardPrior / Discriminator / Critic head: Linear-LayerNorm-Tanh-Linear-ELU-Linear
HEAD = {"activation": (nn.Tanh, nn.ELU), "layer_norm": (True, False), "init": orthogonal_init}


def layernorm_tanh_mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return mlp(in_dim, (hidden, hidden), out_dim, **HEAD)


class Reward(nn.Module):
    """r(z, a) -> (..., 1)."""

    def __init__(self, latent: int, action_dim: int, hidden: int):
        super().__init__()
        self.net = layernorm_tanh_mlp(latent + action_dim, hidden, 1)

    def forward(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, action], -1))


class Classifier(nn.Module):
    """C(z, a, z') -> 2 logits; logit 1 = "z' came from the (target) encoder", logit 0 = "from the model"."""

    def __init__(self, latent: int, action_dim: int, hidden: int):
        super().__init__()
        self.net = layernorm_tanh_mlp(2 * latent + action_dim, hidden, 2)

    def forward(self, z: torch.Tensor, action: torch.Tensor, z_next: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, action, z_next], -1))

    def log_odds(self, z: torch.Tensor, action: torch.Tensor, z_next: torch.Tensor) -> torch.Tensor:
        """models.py Discriminator.get_reward: logit[1] - logit[0] = log C / (1 - C), shape (..., 1)."""
        logits = self(z, action, z_next)
        return (logits[..., 1] - logits[..., 0]).unsqueeze(-1)


def twin_q(latent: int, action_dim: int, hidden: int) -> EnsembleQ:
    """The official Critic's two independent heads (``HEAD``) as one batched ensemble (the same functions and
    init as two separate heads, at lower per-call cost). critic(z, a) with inputs (..., dim) -> (2, ..., 1)."""
    return EnsembleQ(2, latent, action_dim, (hidden, hidden), **HEAD)


class Actor(nn.Module):
    """models.py Actor: Linear(Z,512)-ELU-Linear(512,512)-ELU-Linear(512,A)-tanh = the mean; the std is the
    exploration schedule's. ``stochastic=True`` is models.py StochasticActor (ALM-ENT): 2A outputs, tanh mean
    and a learned std soft-bounded to [e^-5, e^2]. forward(z, std) -> (mean, std)."""

    def __init__(self, latent: int, action_dim: int, hidden: int, stochastic: bool = False):
        super().__init__()
        self.stochastic = stochastic
        self.net = mlp(latent, (hidden, hidden), (2 if stochastic else 1) * action_dim, nn.ELU, init=orthogonal_init)

    def forward(self, z: torch.Tensor, std: float) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(z)
        if self.stochastic:
            mean, s = out.chunk(2, dim=-1)
            return torch.tanh(mean), soft_bound(s, ACTOR_STD_MIN, ACTOR_STD_MAX)
        mean = torch.tanh(out)
        return mean, torch.full_like(mean, std)


def truncated_normal_sample(
    mean: torch.Tensor, std: torch.Tensor, noise: torch.Tensor, low: float, high: float, clip: float | None
) -> torch.Tensor:
    """utils/torch_utils.py TruncatedNormal.sample: mean + clamp(std * eps, +-clip), then clamped into
    [low + 1e-6, high - 1e-6] with a straight-through gradient (the clamp is invisible to backprop)."""
    eps = noise * std
    if clip is not None:
        eps = eps.clamp(-clip, clip)
    x = mean + eps
    clamped = x.clamp(low + ACTION_EPS, high - ACTION_EPS)
    return x - x.detach() + clamped.detach()


def lambda_returns(rewards: torch.Tensor, next_values: torch.Tensor, discount: float, lam: float) -> torch.Tensor:
    """TD(lambda) returns of a K-step imagined rollout (official agents/alm.py ``lambda_returns``, Dreamer style).

    rewards[t] = r_t and next_values[t] = V(z_{t+1}) for t = 0..K-1 (leading time dimension). The last one
    bootstraps: R_{K-1} = r_{K-1} + gamma V_K; before it R_t = r_t + gamma ((1 - lam) V_{t+1} + lam R_{t+1}).
    """
    ret = next_values[-1]
    out = []
    for t in reversed(range(rewards.shape[0])):
        ret = rewards[t] + discount * ((1.0 - lam) * next_values[t] + lam * ret)
        out.append(ret)
    return torch.stack(out[::-1], 0)
