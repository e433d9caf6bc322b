"""Environment construction: every library is wrapped once, here, behind the gymnasium API.

- gymnasium tasks: ``gym.make`` with the registered time limit (terminated / truncated as gymnasium says).
- dm_control tasks: ``DMCEnv`` flattens the observation dict, rescales actions from [-1, 1] to the
  spec's bounds, repeats each action ``action_repeat`` times summing the rewards, and ends every
  episode by truncation after 1000 frames (never a terminal, as in the DMC benchmark protocol).

Environments also expose their RNG state (``get_env_rng_state`` / ``set_env_rng_state``) so a
run resumed at an episode boundary continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import collections
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
    """A dm_control suite task as a gymnasium env with [-1, 1] actions.

    State observations are the observation dict flattened in dict order (float32). Pixel
    observations (``pixels=True``) are ``physics.render(size, size, camera_id)`` RGB frames,
    channels first, the last ``frame_stack`` frames concatenated: (3 * frame_stack, size, size) uint8.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        domain: str,
        task: str,
        seed: int,
        action_repeat: int = 1,
        environment_kwargs: dict | None = None,
        pixels: bool = False,
        frame_stack: int = 1,
        image_size: int = 84,
        camera_id: int = 0,
    ):
        from dm_control import suite  # imported lazily: slow, and needs MUJOCO_GL set first

        self._env = suite.load(domain, task, task_kwargs={"random": seed}, environment_kwargs=environment_kwargs or {})
        self.action_repeat = int(action_repeat)
        spec = self._env.action_spec()
        self._act_low, self._act_high = spec.minimum.astype(np.float64), spec.maximum.astype(np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=spec.shape, dtype=np.float32)
        self.pixels, self.frame_stack, self.image_size, self.camera_id = pixels, frame_stack, image_size, camera_id
        if pixels:
            self.observation_space = gym.spaces.Box(
                0, 255, shape=(3 * frame_stack, image_size, image_size), dtype=np.uint8
            )
            self._frames: collections.deque = collections.deque(maxlen=frame_stack)
        else:
            obs_dim = sum(int(np.prod(s.shape)) for s in self._env.observation_spec().values())
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32)
        self.frames = 0

    @staticmethod
    def _flatten(observation) -> np.ndarray:
        return np.concatenate([np.asarray(v, dtype=np.float32).ravel() for v in observation.values()])

    def _render(self) -> np.ndarray:
        image = self._env.physics.render(self.image_size, self.image_size, camera_id=self.camera_id)
        return np.ascontiguousarray(image.transpose(2, 0, 1))

    def _observe(self, time_step, reset: bool) -> np.ndarray:
        if not self.pixels:
            return self._flatten(time_step.observation)
        frame = self._render()
        if reset:  # the first frame fills the whole stack
            self._frames.extend([frame] * self.frame_stack)
        else:
            self._frames.append(frame)
        return np.concatenate(list(self._frames), axis=0)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:  # re-seed the task's RandomState, as suite.load(task_kwargs={'random': seed}) does
            self._env.task._random = np.random.RandomState(seed)
        self.frames = 0
        return self._observe(self._env.reset(), reset=True), {}

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
        return self._observe(time_step, reset=False), reward, False, bool(time_step.last()), {}

    def get_rng_state(self) -> Any:
        return self._env.task.random.get_state()

    def set_rng_state(self, state: Any) -> None:
        self._env.task.random.set_state(state)

    def close(self):
        self._env.close()


def make_dmc(task, seed: int) -> gym.Env:
    domain, name = task.env_id.split("/")
    kwargs = dict(task.env_kwargs)
    pixels = task.observation == "pixels"
    camera_id = kwargs.pop("camera_id", 0)
    return DMCEnv(
        domain,
        name,
        seed,
        action_repeat=task.action_repeat,
        environment_kwargs=kwargs,
        pixels=pixels,
        frame_stack=task.frame_stack,
        camera_id=camera_id,
    )


def make_atari(task, seed: int) -> gym.Env:
    """ALE v5 at frameskip 1, then gymnasium's AtariPreprocessing and FrameStackObservation.

    AtariPreprocessing repeats each action ``action_repeat`` frames summing rewards, stops early at a
    terminal or truncation, and max-pools the last two frames (o_j = max(f_4j+2, f_4j+3)) before
    the INTER_AREA resize to 84x84 grayscale, as MR.Q's env_preprocessing.py. No no-op starts, no
    life-loss terminals, no reward clipping (MR.Q AtariHyperparameters).
    """
    import ale_py
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    gym.register_envs(ale_py)
    env = gym.make(task.env_id, frameskip=1, **dict(task.env_kwargs))
    env = AtariPreprocessing(
        env,
        noop_max=0,
        frame_skip=task.action_repeat,
        screen_size=84,
        terminal_on_life_loss=False,
        grayscale_obs=True,
        scale_obs=False,
    )
    env = FrameStackObservation(env, task.frame_stack, padding_type="reset")  # reset frame repeated, as MR.Q
    env.action_space.seed(seed)
    return env


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
