"""The affine map between an agent's actions in [-1, 1] and a Box action space's bounds."""

from __future__ import annotations

import numpy as np


class ActionScaler:
    """env action = bias + scale * a for a in [-1, 1], with scale = (high - low) / 2 and bias = (high + low) / 2
    (float64; ``to_env`` returns float32). ``scale`` and ``bias`` are exact for float32 bounds, so an agent that
    scales inside its actor (iQRL) takes them as float32 tensors."""

    def __init__(self, low: np.ndarray, high: np.ndarray):
        low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
        self.scale, self.bias = (high - low) / 2.0, (high + low) / 2.0

    @classmethod
    def identity(cls, dim: int) -> ActionScaler:
        """Actions passed through unchanged (scale 1, bias 0)."""
        return cls(-np.ones(dim), np.ones(dim))

    def to_env(self, action: np.ndarray) -> np.ndarray:
        return (self.bias + self.scale * action).astype(np.float32)

    def from_env(self, action: np.ndarray) -> np.ndarray:
        """The inverse map, float64 (the replay stores it as float32)."""
        return (np.asarray(action, np.float64).reshape(-1) - self.bias) / self.scale
