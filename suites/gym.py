"""``gym``: MR.Q's five MuJoCo locomotion tasks (shared/specs/mrq.md section 9).

gymnasium ``-v4`` envs as MR.Q used (gymnasium.make with the default 1000-step TimeLimit and the
envs' own terminations, no wrappers), 1M agent steps (= env frames, no action repeat), evaluation
every 5k steps with 10 episodes (MR.Q main.py DefaultExperimentArguments). Scores are
TD3-normalized with the TD7 constants (results/reference/normalization/gym_td3_random.csv).
"""

from suites.envs import make_gymnasium
from suites.registry import register_suite
from suites.task import Suite, Task

GYM_TASKS = ("Ant-v4", "HalfCheetah-v4", "Hopper-v4", "Humanoid-v4", "Walker2d-v4")

GYM = register_suite(
    Suite(
        name="gym",
        description="MuJoCo locomotion, gymnasium -v4, MR.Q protocol",
        tasks=tuple(
            Task(
                name=name,
                env_id=name,
                library="gymnasium",
                make_env=make_gymnasium,
                agent_steps=1_000_000,
                eval_every=5_000,
                eval_episodes=10,
                max_episode_frames=1_000,
                normalization="gym-td3",
            )
            for name in GYM_TASKS
        ),
    )
)
