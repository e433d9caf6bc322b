"""``atari``: the 57 Atari games with MR.Q's preprocessing (shared/specs/mrq.md sections 3 and 9).

ALE v5 with sticky actions 0.25 and the minimal action set; frame skip 4 with the max over the
last two frames; grayscale 84x84 (INTER_AREA); 4-frame stack; no reward clipping, no no-op starts,
no life-loss terminals; episodes capped at 108k frames (27k agent steps). 2.5M agent steps
(10M frames), evaluation every 100k agent steps with 10 episodes and epsilon 1e-3 (in evaluation
only: MR.Q's HEAD also applies it in training by a bug, spec section 14.2). Human-normalized
with results/reference/normalization/atari_human_random.csv; Defender and Surround are outside
the 55-game subset that DQN/Rainbow results cover.

Discrete evaluation rule (protocol field ``discrete_eval``): "sampled", the rule behind MR.Q's Atari
table (the official select_action keeps the Gumbel noise at evaluation, spec section 8: a sample from
softmax(logits)); MR.Q's config follows it (``discrete_eval_gumbel=True``). ``atari-greedy`` is the same
suite with greedy evaluation; the claims' protocol guard refuses to compare the two.
"""

from suites.envs import make_atari
from suites.registry import register_suite
from suites.task import Suite, Task

ATARI_GAMES = (
    "Alien",
    "Amidar",
    "Assault",
    "Asterix",
    "Asteroids",
    "Atlantis",
    "BankHeist",
    "BattleZone",
    "BeamRider",
    "Berzerk",
    "Bowling",
    "Boxing",
    "Breakout",
    "Centipede",
    "ChopperCommand",
    "CrazyClimber",
    "Defender",
    "DemonAttack",
    "DoubleDunk",
    "Enduro",
    "FishingDerby",
    "Freeway",
    "Frostbite",
    "Gopher",
    "Gravitar",
    "Hero",
    "IceHockey",
    "Jamesbond",
    "Kangaroo",
    "Krull",
    "KungFuMaster",
    "MontezumaRevenge",
    "MsPacman",
    "NameThisGame",
    "Phoenix",
    "Pitfall",
    "Pong",
    "PrivateEye",
    "Qbert",
    "Riverraid",
    "RoadRunner",
    "Robotank",
    "Seaquest",
    "Skiing",
    "Solaris",
    "SpaceInvaders",
    "StarGunner",
    "Surround",
    "Tennis",
    "TimePilot",
    "Tutankham",
    "UpNDown",
    "Venture",
    "VideoPinball",
    "WizardOfWor",
    "YarsRevenge",
    "Zaxxon",
)
NOT_IN_55_GAME_SUBSET = ("Defender", "Surround")  # no DQN / Rainbow (Dopamine) results


EVAL_RULE_OVERRIDES = {
    "sampled": {"mrq": {"discrete_eval_gumbel": True}},
    "greedy": {"mrq": {"discrete_eval_gumbel": False}},
}


def atari_task(game: str, discrete_eval: str = "sampled") -> Task:
    return Task(
        name=game,
        env_id=f"ALE/{game}-v5",
        library="ale",
        make_env=make_atari,
        agent_steps=2_500_000,
        eval_every=100_000,
        eval_episodes=10,
        observation="pixels",
        action="discrete",
        action_repeat=4,
        frame_stack=4,
        max_episode_frames=108_000,
        normalization="atari-hns",
        eval_epsilon=1e-3,
        discrete_eval=discrete_eval,  # MR.Q's Atari numbers: Gumbel-sampled evaluation actions
        env_kwargs=(
            ("repeat_action_probability", 0.25),
            ("full_action_space", False),
            ("max_num_frames_per_episode", 108_000),
        ),
        agent_overrides={k: dict(v) for k, v in EVAL_RULE_OVERRIDES[discrete_eval].items()},
    )


ATARI = register_suite(
    Suite(
        name="atari",
        description="57 Atari games, ALE v5, sticky actions 0.25, MR.Q preprocessing, eval epsilon 1e-3, "
        "Gumbel-sampled discrete evaluation (MR.Q's rule)",
        tasks=tuple(atari_task(game) for game in ATARI_GAMES),
    )
)
ATARI_GREEDY = register_suite(
    Suite(
        name="atari-greedy",
        description="the atari suite with greedy (argmax) discrete evaluation; not comparable with MR.Q's Atari table",
        tasks=tuple(atari_task(game, "greedy") for game in ATARI_GAMES),
    )
)
