"""Uniform transition replay, kept on the training device so sampling never copies through the host.

Used by TD3 (as the official code: 1e6 transitions, uniform sampling, ``not_done`` from true
terminals only) and OMD. Agents that also learn from windows of steps (MR.Q, iQRL, ALM) use
``sequence_replay.SequenceReplay``, which returns single transitions as the same ``Batch``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch


def filled_copy(storage: torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n`` rows of a buffer as a new CPU tensor. A slice is a view, and ``torch.save`` of a view
    writes its whole storage (a 1M-slot buffer after 600 steps); ``.cpu()`` of a CPU tensor copies nothing."""
    return storage[:n].to("cpu", copy=True)


class Batch(NamedTuple):
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor  # (B, 1)
    next_obs: torch.Tensor
    not_done: torch.Tensor  # (B, 1): 0 only after a true terminal, never after a time limit


class TransitionReplay:
    def __init__(
        self,
        obs_shape: tuple[int, ...],
        action_dim: int,
        capacity: int,
        device: torch.device,
        obs_dtype: torch.dtype = torch.float32,
    ):
        self.capacity = int(capacity)
        self.device = device
        self.obs = torch.zeros((self.capacity, *obs_shape), dtype=obs_dtype, device=device)
        self.next_obs = torch.zeros_like(self.obs)
        self.action = torch.zeros((self.capacity, action_dim), dtype=torch.float32, device=device)
        self.reward = torch.zeros((self.capacity, 1), dtype=torch.float32, device=device)
        self.not_done = torch.zeros((self.capacity, 1), dtype=torch.float32, device=device)
        self.ptr = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool) -> None:
        i = self.ptr
        self.obs[i] = torch.as_tensor(obs, device=self.device)
        self.action[i] = torch.as_tensor(np.asarray(action, dtype=np.float32).reshape(-1), device=self.device)
        self.reward[i, 0] = float(reward)
        self.next_obs[i] = torch.as_tensor(next_obs, device=self.device)
        self.not_done[i, 0] = 0.0 if terminated else 1.0
        self.ptr = (self.ptr + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        idx = torch.randint(0, self.size, (batch_size,), device=self.device, generator=generator)
        return Batch(
            self.obs[idx].float(), self.action[idx], self.reward[idx], self.next_obs[idx].float(), self.not_done[idx]
        )

    def state_dict(self) -> dict[str, Any]:
        n = self.size  # only the filled part is saved
        return {
            "ptr": self.ptr,
            "size": self.size,
            "capacity": self.capacity,
            **{key: filled_copy(getattr(self, key), n) for key in ("obs", "next_obs", "action", "reward", "not_done")},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"replay capacity {state['capacity']} in checkpoint, {self.capacity} configured")
        n = state["size"]
        for key in ("obs", "next_obs", "action", "reward", "not_done"):
            getattr(self, key)[:n] = state[key].to(self.device)
        self.ptr, self.size = state["ptr"], n
