"""Environment construction: every library is wrapped once, here, behind the gymnasium API.

- gymnasium tasks: ``gym.make`` with the registered time limit (terminated / truncated as gymnasium says).
- dm_control tasks: ``DMCEnv`` flattens the observation dict, rescales actions from [-1, 1] to the
  spec's bounds, repeats each action ``action_repeat`` times summing the rewards, and ends every
  episode by truncation after 1000 frames (never a terminal, as in the DMC benchmark protocol).

Environments also expose their RNG state (``get_env_rng_state`` / ``set_env_rng_state``) so a
run resumed at an episode boundary continues exactly as an uninterrupted one.
"""
from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must be set before dm_control / mujoco import
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])


def make_gymnasium(task, seed: int) -> gym.Env:
    env = gym.make(task.env_id, **dict(task.env_kwargs))
    env.action_space.seed(seed)
    return env


class DMCEnv(gym.Env):
    """A dm_control suite task as a gymnasium env with flat float32 observations and [-1, 1] actions."""

    metadata = {"render_modes": []}

    def __init__(self, domain: str, task: str, seed: int, action_repeat: int = 1, environment_kwargs: dict | None = None):
        from dm_control import suite  # imported lazily: slow, and needs MUJOCO_GL set first

        self._env = suite.load(domain, task, task_kwargs={"random": seed}, environment_kwargs=environment_kwargs or {})
        self.action_repeat = int(action_repeat)
        spec = self._env.action_spec()
        self._act_low, self._act_high = spec.minimum.astype(np.float64), spec.maximum.astype(np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=spec.shape, dtype=np.float32)
        obs_dim = sum(int(np.prod(s.shape)) for s in self._env.observation_spec().values())
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32)
        self.frames = 0

    @staticmethod
    def _flatten(observation) -> np.ndarray:
        return np.concatenate([np.asarray(v, dtype=np.float32).ravel() for v in observation.values()])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:  # re-seed the task's RandomState, as suite.load(task_kwargs={'random': seed}) does
            self._env.task._random = np.random.RandomState(seed)
        self.frames = 0
        return self._flatten(self._env.reset().observation), {}

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        scaled = self._act_low + (action + 1.0) * 0.5 * (self._act_high - self._act_low)
        reward = 0.0
        for _ in range(self.action_repeat):  # rewards summed over the repeated frames
            time_step = self._env.step(scaled)
            self.frames += 1
            reward += time_step.reward or 0.0
            if time_step.last():
                break
        # The suite's time limit (1000 frames) ends every episode: a truncation, never a terminal.
        return self._flatten(time_step.observation), reward, False, bool(time_step.last()), {}

    def get_rng_state(self) -> Any:
        return self._env.task.random.get_state()

    def set_rng_state(self, state: Any) -> None:
        self._env.task.random.set_state(state)

    def close(self):
        self._env.close()


def make_dmc(task, seed: int) -> gym.Env:
    domain, name = task.env_id.split("/")
    return DMCEnv(domain, name, seed, action_repeat=task.action_repeat, environment_kwargs=dict(task.env_kwargs))


def get_env_rng_state(env: gym.Env) -> Any:
    inner = env.unwrapped
    if hasattr(inner, "get_rng_state"):
        return inner.get_rng_state()
    return inner.np_random.bit_generator.state


def set_env_rng_state(env: gym.Env, state: Any) -> None:
    inner = env.unwrapped
    if hasattr(inner, "set_rng_state"):
        inner.set_rng_state(state)
    else:
        inner.np_random.bit_generator.state = state
