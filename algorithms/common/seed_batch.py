"""Seed-vectorized training: S agents of one algorithm, one task, S seeds, updated as one computation.

Each seed is still a whole agent built as usual (its own initialisation, replay buffer and generators),
so a seed batch starts from exactly the weights its unbatched runs start from. ``Stacked`` then moves the
parameters of S copies of one module into leaf tensors with a leading seed dimension (S, ...) and points
every agent's module at its slice (the agents' own modules alias the stacked storage, so acting,
evaluation and ``state_dict`` see every update). An algorithm's seed batch computes its losses once,
under ``torch.func.vmap`` over the seed dimension with ``functional_call``, and steps one optimizer over
the stacked tensors: Adam is elementwise, so that is S independent Adams with the same hyperparameters.

Randomness stays per seed and in the unbatched order: the batch draws each seed's replay sample and
noise from that seed's own generator before the vmapped math, never inside it. Results equal the
unbatched runs' up to float rounding (batched matmuls sum in another order): ``tests/test_seed_batch.py``.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call


class _Method(nn.Module):
    """``module.<name>(*args)`` as a forward, so ``functional_call`` can run a method other than forward."""

    def __init__(self, module: nn.Module, name: str):
        super().__init__()
        self.inner, self.name = module, name

    def forward(self, *args):
        return getattr(self.inner, self.name)(*args)


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
        self._methods: dict[str, _Method] = {}

    def call(self, params: dict[str, torch.Tensor], *args, method: str = "forward"):
        """The module (or its ``method``) with ``params`` (one seed's slice inside vmap)."""
        if method == "forward":
            return functional_call(self.template, params, args)
        wrapper = self._methods.setdefault(method, _Method(self.template, method))
        return functional_call(wrapper, {f"inner.{n}": p for n, p in params.items()}, args)

    def tensors(self) -> list[torch.Tensor]:
        return list(self.params.values())


def set_grads(stacked: Stacked, grads: dict[str, torch.Tensor]) -> None:
    for name, p in stacked.params.items():
        p.grad = grads[name]


def stack_batches(batches: list[tuple]) -> tuple:
    """Per-seed NamedTuples of tensors (replay batches) -> one NamedTuple of (S, ...) tensors."""
    return type(batches[0])(*(torch.stack(parts) for parts in zip(*batches)))
