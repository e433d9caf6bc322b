"""Replay with length-K windows of consecutive transitions, for ALM's encoder/model loss.

``WindowReplay`` is the shared ``TransitionReplay`` (uniform single transitions, used by ALM's reward,
classifier, critic and actor updates) plus ``sample_windows``: ``window`` consecutive transitions
(s_t, a_t, s'_t), t = 0..K-1, shaped (K, B, ...) as the official ``ReplayMemory.sample_seq``.

A start slot is valid when its K transitions were written one after another (the window does not
reach the write pointer, official utils/replay_buffer.py ``_sample_idx``) and none of its first K-1
transitions ended an episode (the last one may). Validity is kept incrementally in ``window_ok``
(one flag per start slot) and sampling is uniform over valid starts by inverse CDF, on the device.

Episode ends: by default both terminals and time-limit truncations end a window's episode. The
official buffer only knows terminals (it stores time-limit ends as not-done), so its windows can run
across a timeout into the next episode's first states (spec section 9.5);
``cross_timeouts=True`` reproduces that.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from algorithms.common.replay import TransitionReplay, filled_copy


class Windows(NamedTuple):
    obs: torch.Tensor  # (K, B, obs_dim)
    action: torch.Tensor  # (K, B, action_dim)
    reward: torch.Tensor  # (K, B, 1)
    next_obs: torch.Tensor  # (K, B, obs_dim)
    not_done: torch.Tensor  # (K, B, 1)


class WindowReplay(TransitionReplay):
    def __init__(self, obs_shape: tuple[int, ...], action_dim: int, capacity: int, device: torch.device, window: int,
                 cross_timeouts: bool = False):
        super().__init__(obs_shape, action_dim, capacity, device)
        if not 1 <= window <= capacity:
            raise ValueError(f"window {window} must lie in [1, capacity {capacity}]")
        self.window, self.cross_timeouts = int(window), bool(cross_timeouts)
        self.window_ok = torch.zeros(self.capacity, dtype=torch.float32, device=device)  # 1 = valid start slot
        self.ep_len = 0  # transitions written since the last episode end (the current one included)

    def add_step(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool,
                 truncated: bool) -> None:
        slot = self.ptr
        self.add(obs, action, reward, next_obs, terminated)
        self.ep_len += 1
        k = self.window
        # starts slot-K+2 .. slot would now run past the newest transition into older (or empty) slots
        for back in range(k - 1):
            self.window_ok[(slot - back) % self.capacity] = 0.0
        # the window slot-K+1 .. slot is complete: valid iff all K transitions belong to one episode
        if self.size >= k:
            self.window_ok[(slot - k + 1) % self.capacity] = 1.0 if self.ep_len >= k else 0.0
        if terminated or (truncated and not self.cross_timeouts):
            self.ep_len = 0

    def sample_windows(self, batch_size: int, generator: torch.Generator) -> Windows:
        csum = torch.cumsum(self.window_ok[: self.size], 0)
        u = torch.rand(batch_size, generator=generator, device=self.device) * csum[-1]
        start = torch.searchsorted(csum, u, right=True).clamp_max(self.size - 1)  # first slot whose csum > u
        idx = (start[None, :] + torch.arange(self.window, device=self.device)[:, None]) % self.capacity  # (K, B)
        return Windows(self.obs[idx].float(), self.action[idx], self.reward[idx], self.next_obs[idx].float(),
                       self.not_done[idx])

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(window_ok=filled_copy(self.window_ok, self.size), ep_len=self.ep_len, window=self.window)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["window"] != self.window:
            raise ValueError(f"replay window {state['window']} in checkpoint, {self.window} configured")
        super().load_state_dict(state)
        self.window_ok[: self.size] = state["window_ok"].to(self.device)
        self.ep_len = state["ep_len"]
