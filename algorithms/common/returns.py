"""n-step returns over windows of consecutive steps, shared by MR.Q and iQRL."""

from __future__ import annotations

import torch

NSTEP_FORMS = ("corrected", "head", "initial")


def nstep_return(
    reward: torch.Tensor, not_done: torch.Tensor, discount: float, form: str = "corrected"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, D) for rewards / not_dones of shape (B, n): the n-step target is R + D * Q(s_n).

    corrected (MR.Q 79abcb1, iQRL): R = sum_i (prod_{j<i} gamma nd_j) r_i, D = prod_i gamma nd_i: the rewards up to
                                    and including the first terminal, no bootstrap after one.
    head (MR.Q 8a44a7d):            R = sum_i gamma^i r_i nd_i,           D = gamma^n prod_i nd_i.
    initial (MR.Q 0f0ed0e):         R = sum_i gamma^i r_i,                D = gamma^n prod_i nd_i.
    """
    n = reward.shape[1]
    if form == "corrected":
        alive = torch.cumprod(torch.cat([torch.ones_like(not_done[:, :1]), discount * not_done[:, :-1]], 1), 1)
        return (alive * reward).sum(1, keepdim=True), (discount * not_done).prod(1, keepdim=True)
    if form not in NSTEP_FORMS:
        raise ValueError(f"unknown nstep_form {form!r}; valid: {', '.join(NSTEP_FORMS)}")
    powers = discount ** torch.arange(n, device=reward.device, dtype=reward.dtype)
    bootstrap = discount**n * not_done.prod(1, keepdim=True)
    if form == "head":
        return (powers * reward * not_done).sum(1, keepdim=True), bootstrap
    return (powers * reward).sum(1, keepdim=True), bootstrap
