"""``smoke``: three cheap tasks that finish in minutes on a laptop CPU. The embedded default of ``bench run``.

Budgets are chosen so TD3 (256-256, batch 256) runs each cell in roughly a minute on 2 CPU cores,
and the random warm-up is shortened to 1000 agent steps (TD3's official value for small tasks such
as InvertedPendulum), so the agents have time to learn. MR.Q, iQRL and ALM run with smaller networks here
(``agent_overrides``, recorded in each manifest's config). Not a paper protocol: never compare
these numbers with published ones.
"""

from suites.envs import make_dmc, make_gymnasium
from suites.registry import register_suite
from suites.task import Suite, Task

SMOKE = register_suite(
    Suite(
        name="smoke",
        description="Pendulum-v1, DMC cartpole-balance, CartPole-v1 (discrete); minutes on a CPU; not a paper protocol",
        tasks=(
            Task(
                name="Pendulum-v1",
                env_id="Pendulum-v1",
                library="gymnasium",
                make_env=make_gymnasium,
                agent_steps=15_000,
                eval_every=3_000,
                eval_episodes=10,
                max_episode_frames=200,
                warmup_steps=1_000,
            ),
            Task(
                name="cartpole-balance",
                env_id="cartpole/balance",
                library="dm_control",
                make_env=make_dmc,
                agent_steps=10_000,
                eval_every=2_000,
                eval_episodes=5,
                action_repeat=2,
                termination="truncate-only",
                max_episode_frames=1_000,
                normalization="dmc",
                warmup_steps=1_000,
            ),
            Task(
                name="CartPole-v1",
                env_id="CartPole-v1",
                library="gymnasium",
                make_env=make_gymnasium,
                agent_steps=10_000,
                eval_every=2_000,
                eval_episodes=5,
                action="discrete",
                max_episode_frames=500,
                warmup_steps=1_000,
            ),
        ),
        # MR.Q at 128-wide networks (paper: 512) so a smoke cell takes minutes, not hours, on 2 CPU cores.
        # iQRL at 128-wide networks and latents (paper: 512 / 1024), no warm-up episodes beyond the 1000 random steps.
        agent_overrides={
            "mrq": dict(
                zs_dim=128, zsa_dim=128, za_dim=64, enc_hidden_dim=128, value_hidden_dim=128, policy_hidden_dim=128
            ),
            "iqrl": dict(hidden=(128, 128), enc_hidden=(128,), latent_dim=128, random_episodes=0),
            # ALM at 128/256-wide networks, batch 128, Adam 3e-4 (paper: 512/1024, 512, 1e-4), the exploration
            # schedule over 5k agent steps (paper: 100k) and the tanh actor rescaled to Pendulum's +-2 torque.
            "alm": dict(
                hidden_dim=128,
                model_hidden_dim=256,
                batch_size=128,
                model_lr=3e-4,
                reward_lr=3e-4,
                critic_lr=3e-4,
                actor_lr=3e-4,
                exploration_decay_steps=5_000,
                rescale_actions=True,
            ),
        },
    )
)
