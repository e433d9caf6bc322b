"""MR.Q's replay buffer (official buffer.py @8a44a7d, spec shared/specs/mrq.md section 6), on the device.

- One *slot* per transition holds the newest frame of its state plus (action, reward, not_done);
  the final next-state frame of an episode gets an extra slot, so an episode of length L uses
  L + 1 slots. Stacked pixel states are rebuilt from per-slot frame indices: each frame is
  stored once (uint8), never whole stacks.
- ``mask[j] = 1`` when the ``horizon``-step window starting at slot j lies inside its episode
  (windows that cross a terminal are allowed, their losses are masked by not_done; the last
  ``horizon`` start slots of a truncated episode are never sampled).
- LAP priorities: new transitions get ``max_priority``; sampling is proportional to
  priority x mask by inverse CDF (cumsum + searchsorted), with no importance weights.
- Actions are stored normalized: continuous divided by max_action, discrete as one-hot.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch


class SubTrajectories(NamedTuple):
    state: torch.Tensor  # (B, H, *obs_shape)
    next_state: torch.Tensor  # (B, H, *obs_shape)
    action: torch.Tensor  # (B, H, action_dim)
    reward: torch.Tensor  # (B, H)
    not_done: torch.Tensor  # (B, H)
    index: torch.Tensor  # (B,) start slots, for priority updates


class MRQReplay:
    def __init__(self, obs_shape: tuple[int, ...], action_dim: int, discrete: bool, max_action: float,
                 capacity: int, horizon: int, history: int, pixels: bool, device: torch.device, prioritized: bool = True,
                 min_priority: float = 1.0):
        self.capacity, self.horizon, self.history, self.device = int(capacity), horizon, history, device
        self.obs_shape, self.pixels, self.prioritized = tuple(obs_shape), pixels, prioritized
        self.discrete, self.max_action, self.action_dim = discrete, max_action, action_dim
        frame_shape = (obs_shape[0] // history, *obs_shape[1:]) if pixels else tuple(obs_shape)
        self.frames = torch.zeros((self.capacity, *frame_shape), dtype=torch.uint8 if pixels else torch.float32, device=device)
        self.state_ind = torch.zeros((self.capacity, history), dtype=torch.long, device=device)
        self.next_ind = torch.zeros((self.capacity, history), dtype=torch.long, device=device)
        self.action = torch.zeros((self.capacity, action_dim), device=device)
        self.reward = torch.zeros(self.capacity, device=device)
        self.not_done = torch.zeros(self.capacity, device=device)
        self.mask = torch.zeros(self.capacity, device=device)
        self.priority = torch.zeros(self.capacity, device=device)
        self.max_priority = torch.tensor(float(min_priority), device=device)  # starts at min_priority (1); a tensor: no host sync
        self.ptr, self.size, self.ep_len = 0, 0, 0
        self.history_slots: list[int] = []
        self.env_terminates = False

    def __len__(self) -> int:
        return self.size

    # -- writing -----------------------------------------------------------------------------------
    def _last_frame(self, obs: np.ndarray) -> torch.Tensor:
        frame_channels = self.frames.shape[1] if self.pixels else None
        x = obs[-frame_channels:] if self.pixels else obs
        return torch.as_tensor(np.asarray(x), device=self.device).to(self.frames.dtype)

    def _advance(self) -> int:
        slot = self.ptr
        self.mask[slot] = 0  # a reused slot's old windows are invalid
        self.priority[slot] = 0
        self.ptr = (self.ptr + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        return slot

    def add(self, obs: np.ndarray, action, next_obs: np.ndarray, reward: float, terminated: bool, truncated: bool,
            broadcast_discrete: bool = False) -> None:
        """``broadcast_discrete`` stores a discrete action k as ``[k, ..., k] / max_action`` instead of one-hot: the
        official one_hot_or_normalize does so for every action that is not a Python int (the numpy ints of
        ``env.action_space.sample()`` in the warm-up)."""
        slot = self._advance()
        self.frames[slot] = self._last_frame(obs)
        if self.ep_len == 0:  # first frame of an episode fills the whole history, as env frame stacking does
            self.history_slots = [slot] * self.history
        else:
            self.history_slots = self.history_slots[1:] + [slot]
        self.state_ind[slot] = torch.tensor(self.history_slots, device=self.device)
        next_slot = self.ptr  # the next transition's slot, or this episode's final-frame slot
        self.next_ind[slot] = torch.tensor(self.history_slots[1:] + [next_slot], device=self.device)
        if self.discrete and broadcast_discrete:
            self.action[slot] = float(action) / self.max_action  # the official quirk (see the docstring)
        elif self.discrete:
            self.action[slot] = 0
            self.action[slot, int(action)] = 1
        else:
            self.action[slot] = torch.as_tensor(np.asarray(action, dtype=np.float32) / self.max_action, device=self.device)
        self.reward[slot] = float(reward)
        self.not_done[slot] = 0.0 if terminated else 1.0
        self.priority[slot] = self.max_priority
        self.ep_len += 1
        if self.ep_len > self.horizon:
            self.mask[(slot - self.horizon) % self.capacity] = 1
        if terminated:
            self.env_terminates = True
        if terminated or truncated:
            final = self._advance()  # the final next-state frame in its own slot (no transition)
            self.frames[final] = self._last_frame(next_obs)
            self.reward[final], self.not_done[final] = 0.0, 0.0
            self.action[final] = 0  # no action is taken at the final frame (the zsa dynamics targets read a zero action here)
            for back in range(min(self.ep_len, self.horizon)):
                self.mask[(slot - back) % self.capacity] = 1.0 if terminated else 0.0
            self.ep_len = 0

    # -- sampling ----------------------------------------------------------------------------------
    def sample_start(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        weights = self.mask[: self.size] * (self.priority[: self.size] if self.prioritized else 1.0)
        csum = torch.cumsum(weights, 0)
        u = torch.rand(batch_size, generator=generator, device=self.device) * csum[-1]
        return torch.searchsorted(csum, u).clamp_max(self.size - 1)

    def _states(self, ind: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        frames = self.frames[which[ind]]  # (..., history, *frame_shape)
        if self.pixels:
            return frames.reshape(*ind.shape, *self.obs_shape)
        return frames[..., -1, :]

    def sample(self, batch_size: int, horizon: int, generator: torch.Generator,
               official_next_states: bool = False) -> SubTrajectories:
        """``horizon`` consecutive transitions from each of ``batch_size`` start slots.

        ``official_next_states``: the official encoder batch (buffer.py ``sample(horizon=-1)``) reads the next
        state of step k < H - 1 as the *state* of slot t + k + 1, and only the last step's from ``next_ind``.
        The state indices of an episode's final-frame slot are never written (official ``terminal()``), so a
        terminal transition inside the window gets a stale next state (from the slot's previous use, or slot
        0 on the first pass) as its dynamics target. Default: every step's own next state (``next_ind``).
        """
        start = self.sample_start(batch_size, generator)
        ind = (start[:, None] + torch.arange(horizon, device=self.device)) % self.capacity  # (B, H)
        next_state = self._states(ind, self.next_ind)
        if official_next_states and horizon > 1:
            next_state = torch.cat([self._states(ind[:, 1:], self.state_ind), next_state[:, -1:]], 1)
        return SubTrajectories(self._states(ind, self.state_ind), next_state,
                               self.action[ind], self.reward[ind], self.not_done[ind], start)

    def update_priority(self, index: torch.Tensor, priority: torch.Tensor) -> None:
        self.priority[index] = priority
        self.max_priority = torch.maximum(self.max_priority, priority.max())

    def reward_scale(self) -> torch.Tensor:
        """mean |r| over slots [0, size), final-frame slots included (buffer.py reward_scale)."""
        return self.reward[: self.size].abs().mean().clamp_min(1e-8)

    # -- checkpointing -----------------------------------------------------------------------------
    _TENSORS = ("frames", "state_ind", "next_ind", "action", "reward", "not_done", "mask", "priority")

    def state_dict(self) -> dict[str, Any]:
        n = self.size
        state = {k: getattr(self, k)[:n].cpu() for k in self._TENSORS}
        state.update(capacity=self.capacity, ptr=self.ptr, size=n, ep_len=self.ep_len, history_slots=list(self.history_slots),
                     max_priority=float(self.max_priority), env_terminates=self.env_terminates)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"replay capacity {state['capacity']} in checkpoint, {self.capacity} configured")
        n = state["size"]
        for k in self._TENSORS:
            getattr(self, k)[:n] = state[k].to(self.device)
        self.ptr, self.size, self.ep_len = state["ptr"], n, state["ep_len"]
        self.history_slots = list(state["history_slots"])
        self.max_priority = torch.tensor(state["max_priority"], device=self.device)
        self.env_terminates = state["env_terminates"]
