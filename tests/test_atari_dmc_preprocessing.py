"""Atari preprocessing on a known frame sequence; DMC pixel stacking; DMC episode length; eval epsilon."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from runners.loop import evaluate
from suites import get_suite


class FakeALE:
    def __init__(self, env):
        self.env = env

    def getScreenGrayscale(self, out):
        out[...] = self.env.frame(self.env.n)

    def lives(self):
        return 3


class FakeAtari(gym.Env):
    """Frame n (n = 0 at reset) is 210x160: top half n*10, bottom half 250 - n*10; reward of frame n is n."""

    observation_space = gym.spaces.Box(0, 255, (210, 160), np.uint8)
    action_space = gym.spaces.Discrete(3)
    _frameskip = 1

    def __init__(self, terminal_at=None):
        self.ale, self.n, self.terminal_at = FakeALE(self), 0, terminal_at

    @staticmethod
    def frame(n):
        f = np.empty((210, 160), np.uint8)
        f[:105], f[105:] = n * 10, 250 - n * 10
        return f

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.n = 0
        return self.frame(0), {}

    def step(self, action):
        self.n += 1
        return self.frame(self.n), float(self.n), self.n == self.terminal_at, False, {}


def _wrap(env):
    env = AtariPreprocessing(
        env, noop_max=0, frame_skip=4, screen_size=84, terminal_on_life_loss=False, grayscale_obs=True, scale_obs=False
    )
    return FrameStackObservation(env, 4, padding_type="reset")


def test_atari_pooled_resized_stacked():
    env = _wrap(FakeAtari())
    obs, _ = env.reset()
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert (obs[:, :40] == 0).all() and (obs[:, 44:] == 250).all()  # the reset frame fills the stack
    obs, reward, terminated, truncated, _ = env.step(0)
    assert reward == 1 + 2 + 3 + 4  # rewards of the 4 skipped frames, summed, unclipped
    # pooled = max(frame 3, frame 4): top max(30, 40) = 40, bottom max(220, 210) = 220
    assert (obs[-1, :40] == 40).all() and (obs[-1, 44:] == 220).all()
    assert (obs[:3, :40] == 0).all()  # older entries are still the reset frame
    obs, reward, *_ = env.step(0)
    assert reward == 5 + 6 + 7 + 8
    assert (obs[-1, :40] == 80).all() and (obs[-1, 44:] == 180).all() and (obs[-2, :40] == 40).all()


def test_atari_stops_at_terminal_inside_the_skip():
    env = _wrap(FakeAtari(terminal_at=6))
    env.reset()
    env.step(0)
    _, reward, terminated, _, _ = env.step(0)
    assert terminated and reward == 5 + 6


def test_real_atari_task_protocol():
    task = get_suite("atari").task("Pong")
    env = task.make(seed=0)
    try:
        obs, _ = env.reset(seed=0)
        assert obs.shape == (4, 84, 84) and env.action_space.n == 6
        ale = env.unwrapped.ale
        assert ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
        assert ale.getInt("max_num_frames_per_episode") == 108_000
        assert env.unwrapped._frameskip == 1  # the skip of 4 happens in AtariPreprocessing (max-pooling)
    finally:
        env.close()
    assert (task.action_repeat, task.frame_stack, task.eval_epsilon, task.agent_steps, task.env_frames) == (
        4,
        4,
        1e-3,
        2_500_000,
        10_000_000,
    )


def test_dmc_visual_stacks_three_rgb_frames_and_quadruped_uses_camera_2():
    suite = get_suite("dmc-visual")
    env = suite.task("cartpole-swingup").make(seed=0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (9, 84, 84) and obs.dtype == np.uint8
    np.testing.assert_array_equal(obs[0:3], obs[6:9])  # reset frame repeated
    first = obs[6:9].copy()
    for _ in range(10):
        previous = obs
        obs, *_ = env.step(np.ones(1, np.float32))
    np.testing.assert_array_equal(obs[0:6], previous[3:9])  # the stack shifts by one frame per step
    assert not np.array_equal(obs[6:9], first)  # the newest frame comes last
    env.close()
    quad = suite.task("quadruped-run").make(seed=0)
    assert quad.unwrapped.camera_id == 2
    quad.close()


def test_dmc_proprio_episode_is_500_agent_steps():
    env = get_suite("dmc-proprio").task("walker-walk").make(seed=0)
    env.reset(seed=0)
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        done = truncated
        steps += 1
    assert steps == 500


class _NeverAct:
    def act(self, obs, explore):
        raise AssertionError("epsilon 1 must take only random actions")


def test_eval_epsilon_takes_random_actions():
    env = get_suite("smoke").task("CartPole-v1").make(seed=0)
    returns = evaluate(_NeverAct(), env, episodes=2, first_seed=100, epsilon=1.0)
    assert len(returns) == 2 and all(r > 0 for r in returns)
