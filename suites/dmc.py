"""``dmc-proprio`` and ``dmc-visual``: the 28 DMC tasks of MR.Q (shared/specs/mrq.md sections 3 and 9).

Both: action repeat 2 with summed rewards, 1000-frame episodes (500 agent steps) that truncate and
never terminate, 500k agent steps (1M env frames), evaluation every 5k agent steps with 10
episodes, score / 1000. Visual: 84x84 RGB from ``physics.render``, camera 0 (2 for quadruped),
the last 3 frames stacked channel-wise (9, 84, 84). Rendering is headless (MUJOCO_GL=egl).
"""

from suites.envs import make_dmc
from suites.registry import register_suite
from suites.task import Suite, Task

# The 28 default DMC tasks used by MR.Q, TD-MPC2 and DreamerV3 (MR.Q App. B.3).
DMC_TASKS = (
    "acrobot-swingup",
    "ball_in_cup-catch",
    "cartpole-balance",
    "cartpole-balance_sparse",
    "cartpole-swingup",
    "cartpole-swingup_sparse",
    "cheetah-run",
    "dog-stand",
    "dog-walk",
    "dog-trot",
    "dog-run",
    "finger-spin",
    "finger-turn_easy",
    "finger-turn_hard",
    "fish-swim",
    "hopper-stand",
    "hopper-hop",
    "humanoid-stand",
    "humanoid-walk",
    "humanoid-run",
    "pendulum-swingup",
    "quadruped-walk",
    "quadruped-run",
    "reacher-easy",
    "reacher-hard",
    "walker-stand",
    "walker-walk",
    "walker-run",
)


def dmc_task(name: str, pixels: bool) -> Task:
    domain, task = name.split("-", 1)
    camera = 2 if domain == "quadruped" else 0  # MR.Q env_preprocessing.py: camera_id 2 for quadruped
    return Task(
        name=name,
        env_id=f"{domain}/{task}",
        library="dm_control",
        make_env=make_dmc,
        agent_steps=500_000,
        eval_every=5_000,
        eval_episodes=10,
        observation="pixels" if pixels else "state",
        action_repeat=2,
        frame_stack=3 if pixels else 1,
        termination="truncate-only",
        max_episode_frames=1_000,
        normalization="dmc",
        env_kwargs=(("camera_id", camera),) if pixels else (),
    )


DMC_PROPRIO = register_suite(
    Suite(
        name="dmc-proprio",
        description="28 DMC tasks from states, action repeat 2, MR.Q protocol",
        tasks=tuple(dmc_task(name, pixels=False) for name in DMC_TASKS),
    )
)

DMC_VISUAL = register_suite(
    Suite(
        name="dmc-visual",
        description="the same 28 DMC tasks from 84x84 RGB, 3 stacked frames, MR.Q protocol",
        tasks=tuple(dmc_task(name, pixels=True) for name in DMC_TASKS),
    )
)
