"""OMD's misspecification studies as suites: ``omd-cartpole`` (paper section 7, Figure 4, Appendix D) and
``omd-halfcheetah`` (Appendix F, Figure 8; see the bottom of this module).

``omd-cartpole``:

Two sweeps on gymnasium ``CartPole-v1`` (500-step limit, as the official gym 0.18 env):

- ``CartPole-v1-width{1,2,3,4,6,12}``: the model's hidden width (transition and reward MLPs), set per task
  through ``Task.agent_overrides`` for ``omd`` and its variants (recorded in each manifest's config);
- ``CartPole-v1-distract{16,32,64,128,256,512}``: that many i.i.d. N(0, 1) dimensions appended to every
  observation (``GaussianDistractors``; the env kwarg ``distractors`` is part of the protocol).
``CartPole-v1`` is the unmodified reference (model width 32, no distractors).

Protocol (official cartpole/train.py): 200k agent steps, evaluation every 1000 steps with 10 episodes,
1000 uniform-random warm-up steps (the agent's ``start_steps``). The paper reports the final return over
10 seeds for OMD, MLE and VEP (``--algos omd,omd@mle,omd@vep --seeds 0-9``). A scaled-down CPU protocol is
the same suite with ``--steps 20k`` (recorded as a reduced budget in every protocol).
The distractor noise is drawn from the base env's own generator (official: numpy's global RNG), so it is
seeded by the env seed and captured in checkpoints: resumed runs stay exact.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np

from suites.registry import register_suite
from suites.task import Suite, Task

MODEL_WIDTHS = (1, 2, 3, 4, 6, 12)  # paper App. D
DISTRACTORS = (16, 32, 64, 128, 256, 512)  # paper App. D: 2^4 .. 2^9


class GaussianDistractors(gym.ObservationWrapper):
    """Appends ``dims`` standard-normal dimensions to each observation (mujoco/jax_rl/wrappers/add_distractors.py)."""

    def __init__(self, env: gym.Env, dims: int):
        super().__init__(env)
        self.dims = int(dims)
        space = env.observation_space
        self.observation_space = gym.spaces.Box(
            np.concatenate([space.low.astype(np.float32), np.full(self.dims, -np.inf, np.float32)]),
            np.concatenate([space.high.astype(np.float32), np.full(self.dims, np.inf, np.float32)]),
            dtype=np.float32,
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        noise = self.env.unwrapped.np_random.standard_normal(self.dims).astype(np.float32)
        return np.concatenate([np.asarray(observation, np.float32), noise])


def make_with_distractors(task: Task, seed: int) -> gym.Env:
    """``task.env_id`` (CartPole-v1 or, for omd-halfcheetah, HalfCheetah-v4) with the task's distractors."""
    kwargs = dict(task.env_kwargs)
    env = gym.make(task.env_id)
    if kwargs.get("distractors", 0):
        env = GaussianDistractors(env, kwargs["distractors"])
    env.action_space.seed(seed)
    return env


make_cartpole = make_with_distractors  # the earlier name


def _task(name: str, distractors: int = 0, model_width: int | None = None) -> Task:
    return Task(
        name=name,
        env_id="CartPole-v1",
        library="gymnasium",
        make_env=make_with_distractors,
        agent_steps=200_000,
        eval_every=1_000,
        eval_episodes=10,
        action="discrete",
        max_episode_frames=500,
        env_kwargs=(("distractors", distractors),) if distractors else (),
        agent_overrides={"omd": {"model_hidden_dim": model_width}} if model_width else {},
    )


OMD_CARTPOLE = register_suite(
    Suite(
        name="omd-cartpole",
        description="OMD misspecification study: CartPole-v1 with model width 1-12 or 16-512 Gaussian distractors "
        "(paper Fig. 4)",
        tasks=(
            _task("CartPole-v1"),
            *(_task(f"CartPole-v1-width{w}", model_width=w) for w in MODEL_WIDTHS),
            *(_task(f"CartPole-v1-distract{d}", distractors=d) for d in DISTRACTORS),
        ),
    )
)


# -- omd-cartpole-sweep: the App. D grid behind Figure 4 -----------------------------------------------------
# Figure 4 plots, per agent and setting, the best of a sweep over the Q learning rate {3e-4, 1e-3, 3e-3} and
# the target moving-average coefficient tau {0.005, 0.01} (App. D; "2 tau's x 6 hidden sizes / 6 numbers of
# distractors x 3 LRs" x 10 seeds x 3 agents = 2160 jobs). Each grid point is a task of its own, named
# ``<setting>-qlr<lr>-tau<tau>`` (so every configuration has its own store folder), with the setting's
# overrides plus ``q_lr`` and ``tau`` for omd and its variants. The selection rule and the Figure 4 layout
# are in ``analysis/omd_sweep.py`` (``bench study omd-cartpole-sweep``).
SWEEP_Q_LRS = (3e-4, 1e-3, 3e-3)  # paper App. D: learning rate of w
SWEEP_TAUS = (0.005, 0.01)  # paper App. D: moving-average coefficient of the target network


def _sweep_task(base: Task, q_lr: float, tau: float) -> Task:
    overrides = dict(base.agent_overrides.get("omd", {}), q_lr=q_lr, tau=tau)
    return dataclasses.replace(base, name=f"{base.name}-qlr{q_lr:g}-tau{tau:g}", agent_overrides={"omd": overrides})


OMD_CARTPOLE_SWEEP = register_suite(
    Suite(
        name="omd-cartpole-sweep",
        description="OMD Fig. 4 as swept in App. D: every omd-cartpole setting x Q lr {3e-4, 1e-3, 3e-3} "
        "x tau {0.005, 0.01}; best configuration per agent and setting by 'bench study omd-cartpole-sweep'",
        tasks=tuple(
            _sweep_task(base, lr, tau) for base in OMD_CARTPOLE.tasks for lr in SWEEP_Q_LRS for tau in SWEEP_TAUS
        ),
    )
)

# -- omd-halfcheetah: paper Appendix F / Figure 8 (OMD vs MLE with SAC as the inner optimizer) --------------
# Official mujoco/train.py + configs/omd_default.py (spec shared/specs/omd.md section 2): HalfCheetah-v2 under
# gym 0.18 (here gymnasium HalfCheetah-v4, the mujoco-bindings port of the same model, as the gym suite), 1M agent
# steps (max_steps), 10k uniform warm-up steps (start_training), evaluation every 5k steps with 10 episodes
# (eval_interval, eval_episodes), 1000-step episodes, distractors N(0, 1) appended after RescaleAction
# (add_distractors.py), model width 64 (model_hidden_dim "for the misspecification experiments"). Figure 8 shows
# 5 runs per point (--seeds 0-4) for --algos omd,omd@mle. The paper gives neither the widths nor the distractor
# counts of Figure 8's x-axes: HALFCHEETAH_MODEL_WIDTHS and HALFCHEETAH_DISTRACTORS are OUR CHOICE (the
# CartPole counts; widths from 4 up to the learner default 256). App. F's sweep (model lr and SAC lr in
# {1e-4, 3e-4}, K in {1, 3}) is not part of the suite: run it with --set model/sac lr and inner_steps.
HALFCHEETAH_MODEL_WIDTHS = (4, 8, 16, 32, 64, 256)  # our choice (Figure 8 left, values not printed)
HALFCHEETAH_DISTRACTORS = DISTRACTORS  # our choice (Figure 8 right, values not printed), model width 64
HALFCHEETAH_OMD = {"start_steps": 10_000}  # mujoco/train.py start_training 1e4 (the agent's default is CartPole's 1000)


def _halfcheetah(name: str, distractors: int = 0, model_width: int | None = None) -> Task:
    overrides = dict(HALFCHEETAH_OMD, **({"sac_model_hidden_dim": model_width} if model_width else {}))
    return Task(
        name=name,
        env_id="HalfCheetah-v4",
        library="gymnasium",
        make_env=make_with_distractors,
        agent_steps=1_000_000,
        eval_every=5_000,
        eval_episodes=10,
        max_episode_frames=1_000,
        env_kwargs=(("distractors", distractors),) if distractors else (),
        agent_overrides={"omd": overrides},
    )


OMD_HALFCHEETAH = register_suite(
    Suite(
        name="omd-halfcheetah",
        description="OMD vs MLE on HalfCheetah (paper App. F, Fig. 8): "
        "model width 4-256 or 16-512 Gaussian distractors; SAC inner optimizer, 1M steps, 10k warm-up; "
        "widths/counts our choice",
        tasks=(
            _halfcheetah("HalfCheetah-v4"),
            *(_halfcheetah(f"HalfCheetah-v4-width{w}", model_width=w) for w in HALFCHEETAH_MODEL_WIDTHS),
            *(_halfcheetah(f"HalfCheetah-v4-distract{d}", distractors=d) for d in HALFCHEETAH_DISTRACTORS),
        ),
    )
)
