"""Small network pieces shared by the agents."""
from __future__ import annotations

import torch
from torch import nn


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int, activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers with ``activation`` between them (none after the last), PyTorch default init."""
    layers: list[nn.Module] = []
    dim = in_dim
    for width in hidden:
        layers += [nn.Linear(dim, width), activation()]
        dim = width
    layers.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*layers)


@torch.no_grad()
def polyak_update(source: nn.Module, target: nn.Module, tau: float) -> None:
    """target <- tau * source + (1 - tau) * target, as one fused foreach op over all parameters."""
    torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)


@torch.no_grad()
def hard_update(source: nn.Module, target: nn.Module) -> None:
    target.load_state_dict(source.state_dict())


class EnsembleLinear(nn.Module):
    """``members`` independent linear layers evaluated as one batched matmul.

    Each member is initialised exactly as ``nn.Linear(in_dim, out_dim)`` would be (uniform in
    +-1/sqrt(in_dim) for weight and bias), so an ensemble equals that many separate layers.
    Input (members, B, in) or (B, in) (shared by all members) -> (members, B, out).
    """

    def __init__(self, members: int, in_dim: int, out_dim: int):
        super().__init__()
        self.members, self.in_dim, self.out_dim = members, in_dim, out_dim
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(members, 1, out_dim))
        bound = 1.0 / in_dim ** 0.5
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.expand(self.members, *x.shape)
        return torch.baddbmm(self.bias, x, self.weight)

    def member(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """Member ``i`` alone on a (B, in) input -> (B, out)."""
        return torch.addmm(self.bias[i], x, self.weight[i])


class EnsembleMLP(nn.Module):
    """``members`` independent MLPs of the same shape (e.g. TD3's twin critics) in batched matmuls."""

    def __init__(self, members: int, in_dim: int, hidden: tuple[int, ...], out_dim: int,
                 activation: type[nn.Module] = nn.ReLU):
        super().__init__()
        dims = (in_dim, *hidden, out_dim)
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.activation = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.activation(x)
        return x

    def member(self, x: torch.Tensor, i: int) -> torch.Tensor:
        for j, layer in enumerate(self.layers):
            x = layer.member(x, i)
            if j < len(self.layers) - 1:
                x = self.activation(x)
        return x
