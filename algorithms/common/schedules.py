"""Schedules shared by the agents."""

from __future__ import annotations


def linear_schedule(start: float, end: float, duration: int, step: int) -> float:
    """``start`` at step 0, linearly to ``end`` at step ``duration``, then ``end``: the value at ``step`` of
    ``np.linspace(start, end, duration + 1)`` (iQRL's schedule, duration 0: always ``start``) computed as ALM's
    utils/env.py linear_schedule, end + (1 - min(step / duration, 1)) * (start - end). The two formulas differ
    by at most a few float64 ulps (iQRL's exploration std)."""
    if duration <= 0:
        return start
    return end + (1.0 - min(step / duration, 1.0)) * (start - end)
