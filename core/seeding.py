"""One seeding scheme: the cell seed feeds ``numpy.random.SeedSequence``, which derives one
independent, named stream per consumer of randomness.

Each stream has a fixed constant, used as the SeedSequence's spawn key: stream ``k`` of cell seed
``s`` is ``SeedSequence(s, spawn_key=(k,))``, exactly the ``k``-th child ``SeedSequence(s).spawn()``
would give, so adding a stream never changes the others. Its 32-bit seed (``generate_state(1)``,
accepted by gymnasium, dm_control's RandomState, numpy and torch) is what the consumer is seeded
with. The scheme and every derived seed are recorded in each manifest (``seeding``).

numpy only: the agents (algorithms/base.py) and the loop (runners/) both draw from here.
"""

from __future__ import annotations

import numpy as np

SCHEME = "numpy.random.SeedSequence(cell_seed, spawn_key=(k,)).generate_state(1, uint32)[0]"

# stream name -> spawn key (constant: never renumber, only append)
STREAMS = {
    "train_env": 1,  # training env: reset seed (initial states) and, for dm_control, the task's RandomState
    "eval_env": 2,  # evaluation env: its first reset, then it continues across evaluations
    "warmup": 3,  # the uniform-random warm-up actions (the training env's action space sampler)
    "agent_init": 4,  # network initialisation (torch global RNG) and Python's / numpy's global RNGs
    "agent_sampling": 5,  # the agent's torch generator: replay sampling, target noise, augmentation
    "exploration": 6,  # the agent's acting noise (numpy np_rng and torch explore_gen)
    "eval_epsilon": 7,  # evaluation's epsilon-random actions (the eval env's action space sampler)
}
LOOP_STREAMS = ("train_env", "eval_env", "warmup", "agent_init", "eval_epsilon")
AGENT_STREAMS = ("agent_sampling", "exploration")


def stream_seed(cell_seed: int, stream: str) -> int:
    """The 32-bit seed of ``stream`` for ``cell_seed``."""
    return int(np.random.SeedSequence(int(cell_seed), spawn_key=(STREAMS[stream],)).generate_state(1, np.uint32)[0])


def derived_seeds(cell_seed: int) -> dict[str, int]:
    return {name: stream_seed(cell_seed, name) for name in STREAMS}


def record(cell_seed: int) -> dict:
    """The manifest's ``seeding`` entry."""
    return {
        "cell_seed": int(cell_seed),
        "scheme": SCHEME,
        "spawn_keys": dict(STREAMS),
        "seeds": derived_seeds(cell_seed),
    }
