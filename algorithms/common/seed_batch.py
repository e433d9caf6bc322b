"""Seed-vectorized training: S agents of one algorithm, one task, S seeds, updated as one computation.

Each seed is still a whole agent built as usual (its own initialisation, replay buffer and generators),
so a seed batch starts from exactly the weights its unbatched runs start from. ``Stacked`` then moves the
parameters of S copies of one module into leaf tensors with a leading seed dimension (S, ...) and points
every agent's module at its slice (the agents' own modules alias the stacked storage, so acting,
evaluation and ``state_dict`` see every update). An algorithm's seed batch computes its losses once, as
batched matmuls over the seed dimension (``seed_sequential``, ``seed_ensemble``: the agent's own module
structure read with the stacked parameters, plain autograd, no ``vmap``: on CPU its per-op dispatch cost
more than batching saved), and steps one ``SeedAdam`` over the stacked tensors: Adam is elementwise, so with
a step count per seed that is S independent Adams (one fused kernel while the seeds move in lockstep).

Seeds need not move in lockstep: every update takes a mask of the seeds that update now (a seed that
finished, diverged, or resumed from a later checkpoint than the others), and masked seeds keep their
parameters, optimizer moments, step counts and targets untouched. A seed's state (``export``) is exactly
its unbatched agent's, optimizer state included, so a batched cell's checkpoint resumes batched or not.

Randomness stays per seed and in the unbatched order: the batch draws each seed's replay sample and
noise from that seed's own generator before the vmapped math, never inside it. Results equal the
unbatched runs' up to float rounding (batched matmuls sum in another order): ``tests/test_seed_batch.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.adam import adam as adam_step

from algorithms.common.nets import EnsembleLayerNorm, EnsembleMLP


def _set_param(module: nn.Module, name: str, value: nn.Parameter) -> None:
    owner, _, leaf = name.rpartition(".")
    (module.get_submodule(owner) if owner else module)._parameters[leaf] = value


class Stacked:
    """The parameters of ``modules`` (S copies of one architecture) as (S, ...) leaf tensors.

    ``params``: name -> stacked tensor (requires grad when ``trainable``); every module's parameter
    becomes a view of its row, so in-place updates of the stacked tensors (optimizer steps, Polyak
    averaging) are what the S agents see."""

    def __init__(self, modules: list[nn.Module], trainable: bool):
        self.template = modules[0]
        names = [n for n, _ in self.template.named_parameters()]
        per_module = [dict(m.named_parameters()) for m in modules]
        with torch.no_grad():
            self.params = {n: torch.stack([p[n].detach() for p in per_module]).requires_grad_(trainable) for n in names}
        for i, module in enumerate(modules):
            for n in names:
                _set_param(module, n, nn.Parameter(self.params[n].detach()[i], requires_grad=False))

    def tensors(self) -> list[torch.Tensor]:
        return list(self.params.values())

    @torch.no_grad()
    def release(self, i: int, module: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Give ``module`` (seed ``i``'s) parameters of its own again, with the batch's current values; its
        ``optimizer`` (the agent's own) is pointed at them, so the agent trains on as an unbatched one."""
        for n, p in self.params.items():
            _set_param(module, n, nn.Parameter(p[i].detach().clone(), requires_grad=p.requires_grad))
        if optimizer is not None:
            state = optimizer.state_dict()
            optimizer.param_groups[0]["params"] = list(module.parameters())
            optimizer.state.clear()
            optimizer.load_state_dict(state)


# -- batched forwards: a module's own structure, read with stacked (S, ...) parameters -------------------


def seed_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """S ``nn.Linear`` layers at once: x (S, B, in), weight (S, out, in), bias (S, out) -> (S, B, out)."""
    if bias is None:
        return torch.bmm(x, weight.transpose(1, 2))
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def seed_sequential(seq: nn.Sequential, params: dict[str, torch.Tensor], prefix: str, x: torch.Tensor) -> torch.Tensor:
    """``seq`` (an ``mlp()``: Linear, LayerNorm and parameter-free layers) for S seeds: ``params[prefix + name]``
    are its stacked parameters, x (S, B, in) -> (S, B, out)."""
    for i, layer in enumerate(seq):
        name = f"{prefix}{i}."
        if isinstance(layer, nn.Linear):
            x = seed_linear(x, params[name + "weight"], params.get(name + "bias"))
        elif isinstance(layer, nn.LayerNorm):
            x = F.layer_norm(x, layer.normalized_shape, eps=layer.eps)
            if layer.elementwise_affine:
                x = x * params[name + "weight"].unsqueeze(1) + params[name + "bias"].unsqueeze(1)
        elif next(layer.parameters(), None) is None:
            x = layer(x)  # an activation: elementwise
        else:
            raise TypeError(f"seed_sequential: no batched form of {type(layer).__name__}")
    return x


def seed_ensemble(
    net: EnsembleMLP, params: dict[str, torch.Tensor], prefix: str, x: torch.Tensor, member: int | None = None
) -> torch.Tensor:
    """``net`` (M members) for S seeds: ``params[prefix + name]`` are (S, M, ...) stacks of its parameters, x
    (S, B, in) is each seed's input shared by its members -> (S, M, B, out); with ``member`` only that member
    -> (S, B, out) (``EnsembleMLP.member``)."""
    s, b = x.shape[0], x.shape[1]
    m = 1 if member is not None else net.members
    if member is None:
        x = x.unsqueeze(1).expand(s, m, b, x.shape[-1]).reshape(s * m, b, x.shape[-1])

    def pick(name: str) -> torch.Tensor:  # (S * m, *per-member shape)
        p = params[prefix + name]
        return p[:, member] if member is not None else p.reshape(s * m, *p.shape[2:])

    for k, (_, norm, act) in enumerate(net._hidden):
        x = torch.baddbmm(pick(f"layers.{k}.bias"), x, pick(f"layers.{k}.weight"))
        if norm is not None:
            x = F.layer_norm(x, (norm.width,))
            if isinstance(norm, EnsembleLayerNorm) and norm.weight is not None:
                x = x * pick(f"norms.{k}.weight") + pick(f"norms.{k}.bias")
        x = act(x)
    last = len(net.layers) - 1
    x = torch.baddbmm(pick(f"layers.{last}.bias"), x, pick(f"layers.{last}.weight"))
    return x if member is not None else x.reshape(s, m, b, x.shape[-1])


def _per_seed(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.view(-1, *([1] * (like.dim() - 1)))


class SeedAdam:
    """``torch.optim.Adam`` (no amsgrad), or ``AdamW`` with ``weight_decay``, over stacked (S, ...) tensors, one
    step count per seed; ``step(grads, mask)`` updates only the seeds in ``mask``. The update is torch's:
    p <- p (1 - lr wd) (AdamW); m <- lerp(m, g, 1 - b1); v <- b2 v + (1 - b2) g^2;
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""

    def __init__(
        self,
        params: list[torch.Tensor],
        lr: float,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.params, self.lr, self.weight_decay, self.betas, self.eps = params, lr, weight_decay, betas, eps
        # step counts on the host, as the masks are: deciding the lockstep path never waits for a GPU
        self.steps = torch.zeros(params[0].shape[0], dtype=torch.float64)
        self.exp_avg = [torch.zeros_like(p, requires_grad=False) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p, requires_grad=False) for p in params]
        # torch's fused kernel where the device has it (as the unbatched agents' ``nets.adam``), else foreach
        self.fused = params[0].device.type in ("cpu", "cuda")

    def _lockstep(self, mask: torch.Tensor) -> bool:
        return bool(mask.all()) and bool((self.steps == self.steps[0]).all())

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], mask: torch.Tensor) -> None:
        """``mask``: a host (CPU) bool tensor of the seeds that step."""
        b1, b2 = self.betas
        if self._lockstep(mask):  # every seed steps and all have taken as many steps: torch's own fused Adam
            t = float(self.steps[0]) + 1.0
            state_steps = [torch.tensor(t - 1.0) for _ in self.params]  # the kernel path increments them first
            adam_step(
                self.params,
                [g.contiguous() for g in grads],  # the fused kernel reads memory in order: a transposed grad is not
                self.exp_avg,
                self.exp_avg_sq,
                [],
                state_steps,
                fused=self.fused,
                foreach=None if self.fused else True,
                amsgrad=False,
                beta1=b1,
                beta2=b2,
                lr=self.lr,
                weight_decay=self.weight_decay,
                decoupled_weight_decay=True,  # AdamW's; with weight_decay 0, Adam's
                eps=self.eps,
                maximize=False,
            )
            self.steps += 1
            return
        self.steps += mask.to(self.steps.dtype)
        t = self.steps.clamp(min=1)
        device = self.params[0].device
        step_size = (self.lr / (1 - b1**t)).to(device, self.params[0].dtype)
        bc2_sqrt = ((1 - b2**t) ** 0.5).to(device, self.params[0].dtype)
        mask = mask.to(device)
        for p, g, m, v in zip(self.params, grads, self.exp_avg, self.exp_avg_sq):
            keep = _per_seed(mask, p)
            if self.weight_decay:
                p.copy_(torch.where(keep, p * (1 - self.lr * self.weight_decay), p))
            m.copy_(torch.where(keep, m.lerp(g, 1 - b1), m))
            v.copy_(torch.where(keep, v * b2 + (1 - b2) * g * g, v))
            update = _per_seed(step_size, p) * m / (v.sqrt() / _per_seed(bc2_sqrt, p) + self.eps)
            p.sub_(torch.where(keep, update, torch.zeros((), dtype=p.dtype, device=p.device)))

    def export(self, i: int, optimizer: torch.optim.Optimizer) -> None:
        """Seed ``i``'s moments and step count into its agent's own (unbatched) ``optimizer``."""
        state = optimizer.state_dict()
        state["state"] = (
            {
                k: {"step": torch.tensor(float(self.steps[i])), "exp_avg": m[i].clone(), "exp_avg_sq": v[i].clone()}
                for k, (m, v) in enumerate(zip(self.exp_avg, self.exp_avg_sq))
            }
            if self.steps[i] > 0
            else {}
        )
        optimizer.load_state_dict(state)

    @torch.no_grad()
    def load(self, i: int, optimizer: torch.optim.Optimizer) -> None:
        """Seed ``i``'s moments and step count from its agent's own optimizer (a fresh or a resumed agent)."""
        state = optimizer.state_dict()["state"]
        self.steps[i] = float(state[0]["step"]) if state else 0.0
        for k, (m, v) in enumerate(zip(self.exp_avg, self.exp_avg_sq)):
            m[i] = state[k]["exp_avg"] if state else 0.0
            v[i] = state[k]["exp_avg_sq"] if state else 0.0


@torch.no_grad()
def masked_lerp_(targets: list[torch.Tensor], sources: list[torch.Tensor], tau: float, mask: torch.Tensor) -> None:
    """Polyak averaging of the seeds in ``mask`` (a host bool tensor): target <- lerp(target, source, tau)."""
    if bool(mask.all()):
        torch._foreach_lerp_(targets, sources, tau)
        return
    mask = mask.to(targets[0].device)
    for t, s in zip(targets, sources):
        t.copy_(torch.where(_per_seed(mask, t), t.lerp(s, tau), t))


def stack_batches(batches: list[tuple]) -> tuple:
    """Per-seed NamedTuples of tensors (replay batches) -> one NamedTuple of (S, ...) tensors."""
    return type(batches[0])(*(torch.stack(parts) for parts in zip(*batches)))


def stack_draws(draws: list):
    """Per-seed pytrees of tensors (or None) of one structure -> one pytree of (S, ...) tensors."""
    from torch.utils._pytree import tree_flatten, tree_unflatten

    flat = [tree_flatten(d) for d in draws]
    stacked = [None if parts[0] is None else torch.stack(parts) for parts in zip(*(leaves for leaves, _ in flat))]
    return tree_unflatten(stacked, flat[0][1])


def seed_vmap(fn):
    """``torch.func.vmap(fn)`` over dim 0 of every tensor argument (pytrees too); ``None`` leaves (a draw a
    config does not make) pass through unbatched."""
    from torch.utils._pytree import tree_map

    def run(*args):
        in_dims = tuple(tree_map(lambda x: 0 if isinstance(x, torch.Tensor) else None, a) for a in args)
        return torch.func.vmap(fn, in_dims=in_dims)(*args)

    return run


@torch.no_grad()
def clip_grad_norms_(grads: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_`` per seed on stacked (S, ...) gradients: each seed's gradients scaled
    by min(1, max_norm / (its total 2-norm + 1e-6)). Returns the norms before clipping, (S,)."""
    norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads], 1).norm(dim=1)
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(_per_seed(coef, g))
    return norms


class Bound(nn.Module):
    """``fn`` (a loss method of one agent) as the forward of a module holding that agent's networks under
    ``names``, so ``functional_call`` with per-seed parameters named ``<name>.<param>`` runs it for any seed."""

    def __init__(self, modules: dict[str, nn.Module], fn):
        super().__init__()
        self.nets, self.fn = nn.ModuleDict(modules), fn

    def forward(self, *args):
        return self.fn(*args)
