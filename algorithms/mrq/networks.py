"""MR.Q networks (official models.py @8a44a7d, spec shared/specs/mrq.md section 4).

All LayerNorms are functional with no affine parameters; every Linear / Conv2d is initialised
xavier-uniform with gain sqrt(2) and zero bias. Design-study switches: ``linear_value`` (the
"Linear value function" row) and ``nonlinear_model`` (the "Non-linear model" row).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from algorithms.common.nets import EnsembleMLP, xavier_uniform

ACTIVATIONS = {"elu": F.elu, "relu": F.relu}
ACTIVATION_MODULES = {"elu": nn.ELU, "relu": nn.ReLU}  # the same activations as modules (pixel encoder, value)
# models.py weight_init: xavier_uniform_(gain=calculate_gain("relu")), zero bias, on every Linear / Conv2d
weight_init = xavier_uniform(nn.init.calculate_gain("relu"), member_layout="in_out")


def ln_activ(x: torch.Tensor, activ) -> torch.Tensor:
    return activ(F.layer_norm(x, (x.shape[-1],)))


class BaseMLP(nn.Module):
    """in -> hdim (LN+activ) -> hdim (LN+activ) -> out (linear)."""

    def __init__(self, in_dim: int, out_dim: int, hdim: int, activ: str):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(in_dim, hdim), nn.Linear(hdim, hdim), nn.Linear(hdim, out_dim)
        self.activ = ACTIVATIONS[activ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = ln_activ(self.l1(x), self.activ)
        x = ln_activ(self.l2(x), self.activ)
        return self.l3(x)


class Encoder(nn.Module):
    """State encoder f (zs), state-action encoder g (zsa) and the MDP predictor head (done, next zs, reward logits)."""

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        action_dim: int,
        pixels: bool,
        zs_dim: int,
        za_dim: int,
        zsa_dim: int,
        hdim: int,
        activ: str,
        num_bins: int,
        nonlinear_model: bool = False,
        reward_dim: int | None = None,
        next_dim: int | None = None,
    ):
        """``reward_dim``: width of the reward output (``num_bins`` logits; 1 for the scalar MSE head of
        the "MSE reward loss" row). ``next_dim``: width of the predicted next latent (``zs_dim``; ``zsa_dim``
        when the dynamics target is a state-action embedding)."""
        super().__init__()
        self.pixels, self.activ, self.zs_dim, self.num_bins = pixels, ACTIVATIONS[activ], zs_dim, num_bins
        self.reward_dim = num_bins if reward_dim is None else reward_dim
        self.next_dim = zs_dim if next_dim is None else next_dim
        if pixels:
            channels = obs_shape[0]
            act = ACTIVATION_MODULES[activ]  # models.py: cnn_zs uses self.activ (enc_activ, ELU by default)
            self.conv = nn.Sequential(  # 84 -> 41 -> 20 -> 9 -> 7, no padding
                nn.Conv2d(channels, 32, 3, stride=2),
                act(),
                nn.Conv2d(32, 32, 3, stride=2),
                act(),
                nn.Conv2d(32, 32, 3, stride=2),
                act(),
                nn.Conv2d(32, 32, 3, stride=1),
                act(),
            )
            with torch.no_grad():
                flat = self.conv(torch.zeros(1, *obs_shape)).numel()
            self.zs_cnn = nn.Linear(flat, zs_dim)
        else:
            self.zs_mlp = BaseMLP(obs_shape[0], zs_dim, hdim, activ)
        self.za = nn.Linear(action_dim, za_dim)
        self.zsa = BaseMLP(zs_dim + za_dim, zsa_dim, hdim, activ)
        self.nonlinear_model = nonlinear_model
        if nonlinear_model:  # design study "Non-linear model": separate networks for next-z, reward and done
            self.model_zs = BaseMLP(zsa_dim, self.next_dim, hdim, activ)
            self.model_reward = BaseMLP(zsa_dim, self.reward_dim, hdim, activ)
            self.model_done = BaseMLP(zsa_dim, 1, hdim, activ)
        else:
            self.model = nn.Linear(zsa_dim, 1 + self.next_dim + self.reward_dim)
        weight_init(self)

    def zs(self, state: torch.Tensor) -> torch.Tensor:
        if self.pixels:
            x = self.conv(state.float() / 255.0 - 0.5).flatten(1)
            return ln_activ(self.zs_cnn(x), self.activ)
        return ln_activ(self.zs_mlp(state), self.activ)

    def forward(self, zs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        za = self.activ(self.za(action))
        return self.zsa(torch.cat([zs, za], dim=-1))

    def model_all(self, zs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(done (B,), next zs (B, zs_dim), reward logits (B, reward_dim)) from one unroll step."""
        return self.predict(self.forward(zs, action))

    def predict(self, zsa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The MDP head on a state-action embedding: (done, next latent (B, next_dim), reward output)."""
        if self.nonlinear_model:
            return self.model_done(zsa)[..., 0], self.model_zs(zsa), self.model_reward(zsa)
        out = self.model(zsa)
        return out[..., 0], out[..., 1 : 1 + self.next_dim], out[..., 1 + self.next_dim :]


class Policy(nn.Module):
    """zs -> pre-activation; tanh for continuous actions, Gumbel-softmax (tau 10, soft) for discrete."""

    def __init__(self, zs_dim: int, action_dim: int, discrete: bool, hdim: int, activ: str, gumbel_tau: float):
        super().__init__()
        self.net = BaseMLP(zs_dim, action_dim, hdim, activ)
        self.discrete, self.gumbel_tau = discrete, gumbel_tau
        weight_init(self)

    def forward(
        self, zs: torch.Tensor, generator: torch.Generator | None = None, exp_noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``exp_noise``: Exp(1) draws shaped like the logits, drawn by the caller (an update draws before its
        tensor work); else drawn here from ``generator``."""
        pre_activ = self.net(zs)
        if not self.discrete:
            return torch.tanh(pre_activ), pre_activ
        # F.gumbel_softmax(pre, tau) written out so the Gumbel noise comes from the agent's generator
        if exp_noise is None:
            exp_noise = torch.empty_like(pre_activ).exponential_(generator=generator)
        gumbels = -exp_noise.log()  # as F.gumbel_softmax
        return F.softmax((pre_activ + gumbels) / self.gumbel_tau, dim=-1), pre_activ


class Value(EnsembleMLP):
    """Two independent value networks on zsa, evaluated as one batched ensemble -> (B, 2).

    Each: 512 (LN+ELU) -> 512 (LN+ELU) -> 512 (LN+ELU) -> 1, as ValueNetwork in models.py (LayerNorm without
    affine parameters). ``linear=True`` is the design study's "Linear value function": Q = w^T zsa + b per head.
    """

    def __init__(self, zsa_dim: int, hdim: int, activ: str, linear: bool = False):
        super().__init__(
            2,
            zsa_dim,
            () if linear else (hdim, hdim, hdim),
            1,
            activation=ACTIVATION_MODULES[activ],
            layer_norm=True,
            norm_affine=False,
            init=weight_init,
        )

    def forward(self, zsa: torch.Tensor) -> torch.Tensor:
        return super().forward(zsa)[..., 0].transpose(0, 1)  # (2, B, 1) -> (B, 2)


class TwoHot:
    """Two-hot encoding over symexp-spaced bins (MRQ.py TwoHot): bins = symexp(linspace(lower, upper, n)).

    A target puts linear (not symlog-space) weights on the largest bin <= x and the next bin up.
    """

    def __init__(self, lower: float, upper: float, num_bins: int, device: torch.device):
        u = torch.linspace(lower, upper, num_bins, device=device)
        self.bins = torch.sign(u) * (torch.exp(u.abs()) - 1)
        self.num_bins = num_bins

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B,) -> (B, bins). Values outside the bin range clamp to the edge bins."""
        x = x.reshape(-1).clamp(self.bins[0], self.bins[-1])
        below = (torch.bucketize(x, self.bins, right=True) - 1).clamp(0, self.num_bins - 2)
        lo, hi = self.bins[below], self.bins[below + 1]
        w_hi = ((x - lo) / (hi - lo)).clamp(0, 1)
        out = torch.zeros(x.shape[0], self.num_bins, device=x.device).scatter(1, below[:, None], (1 - w_hi)[:, None])
        return out.scatter_add(1, (below + 1)[:, None], w_hi[:, None])  # out of place: runs under vmap too

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        return (F.softmax(logits, dim=-1) * self.bins).sum(-1)

    def cross_entropy(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample -(twohot(target) . log_softmax(logits)), shape (B,)."""
        return -(self.encode(target) * F.log_softmax(logits, dim=-1)).sum(-1)
