"""The network kit every agent builds from: MLPs and batched ensembles of them, init schemes, the learned
temperature, target updates and the optimizer setup.

- ``mlp``: Linear layers with an activation (and optionally a LayerNorm) between them, as ``nn.Sequential``.
- ``EnsembleMLP``: ``members`` independent MLPs of one shape evaluated as batched matmuls (TD3's twin critics,
  MR.Q's value pair, iQRL's 5 critics, ALM's twin Q, OMD's double Q / random values); per-hidden-layer
  activations and optional per-member LayerNorms. ``EnsembleQ`` is one on [obs, action] -> 1.
- ``Init``: a re-initialisation scheme (``orthogonal``, ``xavier_uniform``) applied to every Linear, Conv2d
  and ensemble layer of a module, each ensemble member on its own, zero biases.
- ``adam`` / ``adamw``: torch's fused kernel wherever torch has one for the parameters' device.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

M = TypeVar("M", bound=nn.Module)
Activation = type[nn.Module]


def _per_layer(value: Any, n: int, name: str) -> tuple:
    """One value per hidden layer: a tuple / list as given (its length checked), anything else repeated."""
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{name} gives {len(value)} values for {n} hidden layers")
        return tuple(value)
    return (value,) * n


# -- init schemes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Init:
    """Re-initialise every ``nn.Linear``, ``nn.Conv2d`` and ``EnsembleLinear`` of a module, in module order:
    ``weight`` on each weight (each ensemble member's matrix on its own), ``output`` (default ``weight``) on the
    last such layer's, zero biases. LayerNorms keep their default init.

    ``member_layout``: ``"out_in"`` initialises a member as the weight of its own ``nn.Linear(in, out)`` would
    be; ``"in_out"`` initialises the stored (in, out) matrix (a JAX Dense kernel's layout). Both give the same
    distribution; MR.Q and OMD keep ``"in_out"`` so their weights stay bit-identical to earlier runs.
    """

    weight: Callable[[torch.Tensor], Any]
    output: Callable[[torch.Tensor], Any] | None = None
    member_layout: str = "out_in"

    def __post_init__(self):
        if self.member_layout not in ("out_in", "in_out"):
            raise ValueError(f"member_layout {self.member_layout!r}; valid: out_in, in_out")

    @torch.no_grad()
    def __call__(self, module: M) -> M:
        layers = [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d, EnsembleLinear))]
        for i, layer in enumerate(layers):
            init = self.output if self.output is not None and i == len(layers) - 1 else self.weight
            if isinstance(layer, EnsembleLinear):
                for w in layer.weight:  # (in, out) per member
                    init(w.T if self.member_layout == "out_in" else w)
            else:
                init(layer.weight)
            layer.bias.zero_()
        return module


def orthogonal(gain: float = 1.0, output_gain: float | None = None, member_layout: str = "out_in") -> Init:
    """Orthogonal weights with ``gain`` (``output_gain`` on the last layer), zero biases."""
    out = None if output_gain is None else functools.partial(nn.init.orthogonal_, gain=output_gain)
    return Init(functools.partial(nn.init.orthogonal_, gain=gain), out, member_layout)


def xavier_uniform(gain: float = 1.0, member_layout: str = "out_in") -> Init:
    """Xavier-uniform weights with ``gain``, zero biases."""
    return Init(functools.partial(nn.init.xavier_uniform_, gain=gain), None, member_layout)


# -- plain MLPs ------------------------------------------------------------------------------------


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int | None,
    activation: Activation | Sequence[Activation] = nn.ReLU,
    layer_norm: bool | Sequence[bool] = False,
    init: Init | None = None,
) -> nn.Sequential:
    """Per hidden layer ``Linear [-> LayerNorm] -> activation``, then a plain ``Linear`` to ``out_dim`` (none if
    ``out_dim`` is None: a trunk). ``activation`` and ``layer_norm`` may be given per hidden layer. PyTorch's
    default init, then ``init`` if given."""
    activations = _per_layer(activation, len(hidden), "activation")
    norms = _per_layer(layer_norm, len(hidden), "layer_norm")
    layers: list[nn.Module] = []
    dim = in_dim
    for width, act, norm in zip(hidden, activations, norms):
        layers += [nn.Linear(dim, width), *([nn.LayerNorm(width)] if norm else []), act()]
        dim = width
    if out_dim is not None:
        layers.append(nn.Linear(dim, out_dim))
    net = nn.Sequential(*layers)
    return init(net) if init is not None else net


# -- ensembles -------------------------------------------------------------------------------------


class EnsembleLinear(nn.Module):
    """``members`` independent linear layers evaluated as one batched matmul.

    Each member is initialised exactly as ``nn.Linear(in_dim, out_dim)`` would be (uniform in
    +-1/sqrt(in_dim) for weight and bias), so an ensemble equals that many separate layers.
    Input (members, B, in) or (B, in) (shared by all members) -> (members, B, out); ``members`` (an index
    tensor) evaluates only those members.
    """

    def __init__(self, members: int, in_dim: int, out_dim: int):
        super().__init__()
        self.members, self.in_dim, self.out_dim = members, in_dim, out_dim
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(members, 1, out_dim))
        bound = 1.0 / in_dim**0.5
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        w, b = (self.weight, self.bias) if members is None else (self.weight[members], self.bias[members])
        if x.dim() == 2:
            x = x.expand(w.shape[0], *x.shape)
        return torch.baddbmm(b, x, w)

    def member(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """Member ``i`` alone on a (B, in) input -> (B, out)."""
        return torch.addmm(self.bias[i], x, self.weight[i])


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over the last dim with a per-member affine (weight 1, bias 0 at init, as ``nn.LayerNorm``);
    ``affine=False`` is the functional LayerNorm without parameters (MR.Q)."""

    def __init__(self, members: int, width: int, affine: bool = True):
        super().__init__()
        self.width = width
        self.weight = nn.Parameter(torch.ones(members, 1, width)) if affine else None
        self.bias = nn.Parameter(torch.zeros(members, 1, width)) if affine else None

    def forward(self, x: torch.Tensor, members: torch.Tensor | int | None = None) -> torch.Tensor:
        x = F.layer_norm(x, (self.width,))
        if self.weight is None:
            return x
        if members is None:
            return x * self.weight + self.bias
        return x * self.weight[members] + self.bias[members]


class EnsembleMLP(nn.Module):
    """``members`` independent MLPs of one shape, evaluated together as batched matmuls.

    Per hidden layer: ``EnsembleLinear [-> EnsembleLayerNorm] -> activation``; the output layer is linear.
    ``activation`` and ``layer_norm`` may be given per hidden layer (ALM's critic: LayerNorm + Tanh, then ELU);
    ``norm_affine=False`` drops the LayerNorm's parameters. Each member starts as its own MLP of ``nn.Linear``
    layers would (then ``init``, if given). forward: (B, in) or (members, B, in) -> (members, B, out).
    """

    def __init__(
        self,
        members: int,
        in_dim: int,
        hidden: Sequence[int],
        out_dim: int,
        activation: Activation | Sequence[Activation] = nn.ReLU,
        layer_norm: bool | Sequence[bool] = False,
        norm_affine: bool = True,
        init: Init | None = None,
    ):
        super().__init__()
        dims = (in_dim, *hidden, out_dim)
        self.members = members
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in zip(dims[:-1], dims[1:]))
        norms = _per_layer(layer_norm, len(hidden), "layer_norm")
        self.norms = nn.ModuleDict(
            {
                str(i): EnsembleLayerNorm(members, w, norm_affine)
                for i, (w, norm) in enumerate(zip(hidden, norms))
                if norm
            }
        )
        self.activations = nn.ModuleList(act() for act in _per_layer(activation, len(hidden), "activation"))
        # (layer, norm or None, activation) per hidden layer, looked up once
        self._hidden = [
            (self.layers[i], self.norms[str(i)] if str(i) in self.norms else None, self.activations[i])
            for i in range(len(hidden))
        ]
        if init is not None:
            init(self)

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """``members``: an index tensor to evaluate only those members -> (len(members), B, out)."""
        for layer, norm, act in self._hidden:
            x = layer(x, members)
            x = act(x if norm is None else norm(x, members))
        return self.layers[-1](x, members)

    def member(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """Member ``i`` alone on a (B, in) input -> (B, out)."""
        for layer, norm, act in self._hidden:
            x = layer.member(x, i)
            x = act(x if norm is None else norm(x, i))
        return self.layers[-1].member(x, i)


class EnsembleQ(nn.Module):
    """``members`` Q-functions [obs, action] -> 1 as one ``EnsembleMLP`` (``heads``; options passed through).

    forward(obs, action[, members]) with inputs (..., dim) of any leading shape -> (members, ..., 1), so
    ``q1, q2 = critic(s, a)`` and ``torch.min(*critic(s, a))`` read as with two separate critics.
    """

    def __init__(self, members: int, obs_dim: int, action_dim: int, hidden: Sequence[int], **options: Any):
        super().__init__()
        self.heads = EnsembleMLP(members, obs_dim + action_dim, hidden, 1, **options)

    def forward(self, obs: torch.Tensor, action: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        x = torch.cat([obs, action], dim=-1)
        q = self.heads(x.reshape(-1, x.shape[-1]), members)
        return q.reshape(q.shape[0], *x.shape[:-1], 1)

    def member(self, obs: torch.Tensor, action: torch.Tensor, i: int) -> torch.Tensor:
        """Q-function ``i`` alone on (B, dim) inputs -> (B, 1) (TD3's actor loss reads Q1 only)."""
        return self.heads.member(torch.cat([obs, action], dim=-1), i)


# -- the learned temperature ---------------------------------------------------------------------------


class Temperature(nn.Module):
    """A learned entropy temperature alpha = exp(log_alpha), starting at ``init`` (SAC; jax-rl temperature.py,
    SAC-SVG LearnTemp). Its loss is the agent's: alpha * (entropy - target entropy)."""

    def __init__(self, init: float):
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(init)))

    def forward(self) -> torch.Tensor:
        return self.log_alpha.exp()


# -- target networks ---------------------------------------------------------------------------------


@torch.no_grad()
def polyak_update(source: nn.Module, target: nn.Module, tau: float) -> None:
    """target <- tau * source + (1 - tau) * target, as one fused foreach op over all parameters."""
    torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)


@torch.no_grad()
def hard_update(source: nn.Module, target: nn.Module) -> None:
    target.load_state_dict(source.state_dict())


# -- compiled steps ---------------------------------------------------------------------------------


def compile_step(fn, mode: str | None = None):
    """``fn`` (a step of an update: forward, backward, optimizer step, no generator or host sync inside)
    through ``torch.compile`` with static shapes; ``mode="reduce-overhead"`` adds CUDA graphs on a GPU."""
    import logging

    logging.getLogger("torch._dynamo").setLevel(logging.ERROR)  # "Profiler record function ... will be ignored"
    return torch.compile(fn, mode=mode, dynamic=False)


# -- optimizers --------------------------------------------------------------------------------------


def _fused(cls: type[torch.optim.Optimizer], params: Iterable[torch.Tensor], **options: Any) -> torch.optim.Optimizer:
    """``cls(params, fused=True)`` where torch has the fused kernel for the parameters' device (CUDA, and CPU
    from torch 2.4): the same update in one kernel per step instead of one per parameter tensor. Elsewhere
    the default implementation."""
    params = list(params)
    try:
        return cls(params, fused=True, **options)
    except RuntimeError:  # "fused=True requires all the params to be floating point Tensors of supported devices"
        return cls(params, **options)


def adam(params: Iterable[torch.Tensor], lr: float) -> torch.optim.Adam:
    """Adam with torch's default betas (0.9, 0.999) and eps 1e-8, as every official code here uses it."""
    return _fused(torch.optim.Adam, params, lr=lr)


def adamw(params: Iterable[torch.Tensor], lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW (decoupled weight decay) with torch's default betas and eps."""
    return _fused(torch.optim.AdamW, params, lr=lr, weight_decay=weight_decay)
