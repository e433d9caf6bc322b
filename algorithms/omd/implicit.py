"""The implicit-function gradient OMD trains its model with (paper eq. 13; spec section 0).

The inner problem is the Q (critic) parameters phi solving grad_phi L_inner(phi, theta) = 0; the outer
loss is L_outer(phi*(theta)). The implicit function theorem gives

    dL_outer/dtheta = -(d^2 L_inner / dtheta dphi)^T  [d^2 L_inner / dphi^2]^{-1}  grad_phi L_outer

evaluated at the inner solution phi*. The official code (cartpole/utils.py ``root_solve``) replaces the
inverse Hessian by the identity (``inverse="identity"``, the default) or, with ``--with_inv_jac``, solves
(H + 1e-5 I) v = g by conjugate gradients (``inverse="cg"``, at most 100 iterations, as
``jax.scipy.sparse.linalg.cg``). Both are one vector-Jacobian product of theta -> grad_phi L_inner with
the cotangent v, done here by double backward: no Hessian is ever formed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

Tensors = Sequence[torch.Tensor]


def _dot(a: Tensors, b: Tensors) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))


def conjugate_gradient(
    matvec: Callable[[list[torch.Tensor]], list[torch.Tensor]], b: Tensors, max_iter: int = 100, tol: float = 1e-5
) -> list[torch.Tensor]:
    """Solve A x = b for symmetric positive (semi-)definite A given as ``matvec``; x0 = 0.

    Stops when ||r|| <= tol * ||b|| (jax.scipy.sparse.linalg.cg's default tol=1e-5, atol=0) or after
    ``max_iter`` iterations. Runs a fixed number of host syncs (one norm check per iteration).
    """
    x = [torch.zeros_like(t) for t in b]
    r = [t.clone() for t in b]
    p = [t.clone() for t in r]
    rs = _dot(r, r)
    stop = (tol**2) * rs
    for _ in range(max_iter):
        if bool(rs <= stop) or bool(rs == 0):
            break
        ap = matvec(p)
        alpha = rs / _dot(p, ap)
        x = [xi + alpha * pi for xi, pi in zip(x, p)]
        r = [ri - alpha * api for ri, api in zip(r, ap)]
        rs_new = _dot(r, r)
        p = [ri + (rs_new / rs) * pi for ri, pi in zip(r, p)]
        rs = rs_new
    return x


def implicit_gradient(
    inner_loss: torch.Tensor,
    phi: Tensors,
    theta: Tensors,
    outer_grad: Tensors,
    inverse: str = "identity",
    cg_damping: float = 1e-5,
    cg_max_iter: int = 100,
) -> list[torch.Tensor]:
    """-(d^2 L_inner/dtheta dphi)^T H^{-1} g at the current phi (the inner solution).

    ``inner_loss`` must be computed from ``phi`` and ``theta`` (both requiring grad) with a graph;
    ``outer_grad`` is g = grad_phi L_outer(phi*). ``inverse``: "identity" (H^{-1} ~ I, official default)
    or "cg" (conjugate gradients on H + cg_damping * I, official ``--with_inv_jac``).
    """
    grad_phi = torch.autograd.grad(inner_loss, list(phi), create_graph=True)
    v = [g.detach() for g in outer_grad]
    if inverse == "cg":

        def hvp(x: list[torch.Tensor]) -> list[torch.Tensor]:
            hx = torch.autograd.grad(grad_phi, list(phi), grad_outputs=x, retain_graph=True, allow_unused=True)
            return [(h if h is not None else torch.zeros_like(xi)) + cg_damping * xi for h, xi in zip(hx, x)]

        v = conjugate_gradient(hvp, v, max_iter=cg_max_iter)
    elif inverse != "identity":
        raise ValueError(f"unknown inverse {inverse!r}; valid: identity, cg")
    mixed = torch.autograd.grad(grad_phi, list(theta), grad_outputs=v, allow_unused=True)
    return [-m if m is not None else torch.zeros_like(t) for m, t in zip(mixed, theta)]
