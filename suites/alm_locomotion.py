"""``alm-locomotion``: the protocol of ALM's Table 1 (Ghugare et al., ICLR 2023, section 5.1).

Five MuJoCo locomotion tasks, 204,999 environment steps (= agent steps, no action repeat): Table 1's
"200k" is the official ``_train_step`` 200000, which counts the steps after the 4,999 uniform warm-up
steps (the released ``scores/*.csv`` equal Table 1 at ``Step`` = 200000; ``analysis.importers``
places them at env step ``Step + 4999``), so the run ends, and is evaluated, at 4,999 + 200,000 env
steps, warm-up included. Evaluation every 5k steps with 5 episodes (official ``eval_episode_interval``
/ ``num_eval_episodes``), 5 seeds (``--seeds 0-4``), raw undiscounted returns as in Table 1 (no
normalization: the TD3-normalization constants are for the ``-v4`` tasks, not these). Our
intermediate evaluations fall at multiples of 5k, the official ones 4,999 later (within one interval).

- ``T-Humanoid`` and ``T-Ant`` are MBPO's truncated-observation tasks (jannerm/mbpo mbpo/env/humanoid.py
  and ant.py, which ALM's utils/env.py copies; spec shared/specs/alm.md section 6), *not* MBBL's:
  the observation is [qpos[2:], qvel] of the MuJoCo state, 45 dims (22 + 23) for Humanoid and 27
  (13 + 14) for Ant, i.e. Humanoid without cinert, cvel, qfrc_actuator and cfrc_ext, Ant
  without the contact forces. Reward, termination, dynamics and the 1000-step limit are the standard
  task's. Built here as ``TruncatedObservation`` over gymnasium's ``Humanoid-v5`` / ``Ant-v5``.
- ``HalfCheetah``, ``Walker2d``, ``Hopper``: the standard tasks.

What differs from the paper's gym 0.17.2 ``-v2`` tasks on mujoco-py 1.50 / MuJoCo 1.50 (which no
longer install): the tasks are gymnasium ``-v5`` on MuJoCo 3 (the version is recorded in every
protocol). ``-v5`` is the closest current version for T-Ant and T-Humanoid because it computes the
contact forces (``mj_rnePostConstraint``) and charges their contact costs as ``-v2`` did on MuJoCo 1.50
(MuJoCo >= 2 left ``cfrc_ext`` at zero in ``-v2``/``-v3``; Ant-v4 drops the contact cost unless contact
forces are observed and Humanoid-v4 never charges it). Other ``-v5`` changes: the healthy reward is paid
only while healthy (``-v2`` also paid it on the terminating step), Walker2d-v5's two feet have the same
friction (1.9; ``-v2`` gave the right foot 0.9), the physics is MuJoCo 3's, and Humanoid-v5's
ctrl range is +-0.4 as before (ALM's tanh actor is not rescaled to it, as in the official code). So numbers
here are comparable with each other, and only approximately with Table 1.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from suites.registry import register_suite
from suites.task import Suite, Task

TABLE1_ENV_STEPS = (
    4_999 + 200_000
)  # official explore_steps range(1, 5000) + _train_step 200000 (= analysis ALM_TABLE1_STEP)
TRUNCATED_BASE = {"HumanoidTruncatedObs-v5": "Humanoid-v5", "AntTruncatedObs-v5": "Ant-v5"}


class TruncatedObservation(gym.ObservationWrapper):
    """MBPO's truncated observation: ``np.concatenate([qpos.flat[2:], qvel.flat])`` of the MuJoCo state
    (jannerm/mbpo mbpo/env/ant.py and humanoid.py ``_get_obs``); everything else is the wrapped task's."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        data = env.unwrapped.data
        dim = data.qpos.size - 2 + data.qvel.size
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float64)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        data = self.env.unwrapped.data
        return np.concatenate([data.qpos.flat[2:], data.qvel.flat])


def make_truncated_obs(task, seed: int) -> gym.Env:
    env = TruncatedObservation(gym.make(TRUNCATED_BASE[task.env_id], **dict(task.env_kwargs)))
    env.action_space.seed(seed)
    return env


def make_standard(task, seed: int) -> gym.Env:
    env = gym.make(task.env_id, **dict(task.env_kwargs))
    env.action_space.seed(seed)
    return env


def _task(name: str, env_id: str, make_env) -> Task:
    # 4,999 warm-up + 200k training steps: the point of Table 1 (official Step 200000), see the module docstring
    return Task(
        name=name,
        env_id=env_id,
        library="gymnasium",
        make_env=make_env,
        agent_steps=TABLE1_ENV_STEPS,
        eval_every=5_000,
        eval_episodes=5,
        max_episode_frames=1_000,
        normalization=None,
    )


ALM_LOCOMOTION = register_suite(
    Suite(
        name="alm-locomotion",
        description="ALM Table 1: T-Humanoid, T-Ant (MBPO truncated obs), HalfCheetah, Walker2d, Hopper; "
        "gymnasium -v5; 200k steps after the 4,999-step warm-up, 5 seeds",
        tasks=(
            _task("T-Humanoid", "HumanoidTruncatedObs-v5", make_truncated_obs),
            _task("T-Ant", "AntTruncatedObs-v5", make_truncated_obs),
            _task("HalfCheetah-v5", "HalfCheetah-v5", make_standard),
            _task("Walker2d-v5", "Walker2d-v5", make_standard),
            _task("Hopper-v5", "Hopper-v5", make_standard),
        ),
    )
)
