"""``iqrl-dmc``: the 27 DMC tasks of iQRL's released code (github:aidanscannell/iqrl @dc1435a, ``cfgs/env``;
spec shared/specs/iqrl.md section 1) under its protocol.

Action repeat 2 (rewards summed), 1000-frame episodes (500 agent steps) that truncate, never terminate;
3M env frames (TrainConfig.num_episodes 3000 = 1.5M agent steps) for every task; evaluation every 20
episodes = 20k frames (10k agent steps) with 10 deterministic episodes; score / 1000. iQRL's own
warm-up (10 episodes of actor + noise, no updates) applies: the loop's uniform warm-up is 0.

The per-task iQRL settings of ``cfgs/env/*.yaml`` are task-level ``agent_overrides`` (they land in each
manifest's config): the exploration decay over 50 / 150 / 500 episodes (easy / medium / hard), n-step 3
(acrobot, fish, reacher, dog), the projection head (fish), enc_tau 0.0005 (acrobot) and the latent
width 2048 (humanoid, dog; the release's ``latent_dim: 1024`` groups of 2). Task names follow
``dmc-proprio`` (dm_control's names: ``ball_in_cup-catch`` is the release's cup-catch).
"""

import dataclasses

from suites.dmc import dmc_task
from suites.registry import register_suite
from suites.task import Suite

EASY, MEDIUM, HARD = 50, 150, 500  # cfgs/env/{easy,medium,hard}.yaml: exploration_noise_num_steps (episodes)
IQRL_TASKS = {  # task -> iQRL overrides (cfgs/env/<task>.yaml)
    "cartpole-balance": dict(exploration_decay_episodes=EASY),
    "ball_in_cup-catch": dict(exploration_decay_episodes=EASY),
    "finger-spin": dict(exploration_decay_episodes=EASY),
    "hopper-stand": dict(exploration_decay_episodes=EASY),
    "pendulum-swingup": dict(exploration_decay_episodes=EASY),
    "walker-stand": dict(exploration_decay_episodes=EASY),
    "walker-walk": dict(exploration_decay_episodes=EASY),
    "cheetah-run": dict(exploration_decay_episodes=MEDIUM),
    "finger-turn_easy": dict(exploration_decay_episodes=MEDIUM),
    "finger-turn_hard": dict(exploration_decay_episodes=MEDIUM),
    "hopper-hop": dict(exploration_decay_episodes=MEDIUM),
    "quadruped-run": dict(exploration_decay_episodes=MEDIUM),
    "quadruped-walk": dict(exploration_decay_episodes=MEDIUM),
    "walker-run": dict(exploration_decay_episodes=MEDIUM),
    "acrobot-swingup": dict(exploration_decay_episodes=MEDIUM, enc_tau=0.0005, nstep=3),
    "fish-swim": dict(exploration_decay_episodes=MEDIUM, nstep=3, use_projection=True),
    "fish-upright": dict(exploration_decay_episodes=MEDIUM, nstep=3, use_projection=True),
    "reacher-easy": dict(exploration_decay_episodes=MEDIUM, nstep=3),
    "reacher-hard": dict(exploration_decay_episodes=MEDIUM, nstep=3),
    "cartpole-swingup_sparse": dict(exploration_decay_episodes=HARD),
    "humanoid-stand": dict(exploration_decay_episodes=HARD, latent_dim=2048),
    "humanoid-walk": dict(exploration_decay_episodes=HARD, latent_dim=2048),
    "humanoid-run": dict(exploration_decay_episodes=HARD, latent_dim=2048),
    "dog-stand": dict(exploration_decay_episodes=HARD, latent_dim=2048, nstep=3),
    "dog-walk": dict(exploration_decay_episodes=HARD, latent_dim=2048, nstep=3),
    "dog-trot": dict(exploration_decay_episodes=HARD, latent_dim=2048, nstep=3),
    "dog-run": dict(exploration_decay_episodes=HARD, latent_dim=2048, nstep=3),
}


def iqrl_task(name: str, overrides: dict):
    # dmc_task only builds the Task (data); envs are made lazily by Task.make in the training loop
    return dataclasses.replace(
        dmc_task(name, pixels=False),
        agent_steps=1_500_000,  # TrainConfig: 3000 episodes x 500
        eval_every=10_000,  # eval_every_episodes 20 x 500 agent steps
        agent_overrides={"iqrl": dict(overrides)},
    )


IQRL_DMC = register_suite(
    Suite(
        name="iqrl-dmc",
        description="27 DMC tasks from states incl. humanoid and dog, action repeat 2, 3M frames, "
        "eval every 20k frames x 10; iQRL release protocol",
        tasks=tuple(iqrl_task(name, overrides) for name, overrides in IQRL_TASKS.items()),
    )
)
