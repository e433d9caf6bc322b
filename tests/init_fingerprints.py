"""Fingerprints of every agent's initial networks for a fixed seed: what a refactor of the network code must keep.

For each algorithm and variant, on each action/observation kind it supports (the conformance cases' small
networks), and for each algorithm's paper-sized networks: a hash of the initial parameter and buffer values
(each tensor's values and shape under its state_dict key, keys sorted, so a change of registration order is not
counted; ``rename`` maps new key names back to the recorded ones), the trainable parameter count and a
hash of the torch global RNG state after construction (initialisation drew the same numbers in the same
order). ``python -m tests.init_fingerprints`` rewrites ``tests/fixtures/init_fingerprints.json``; the record
was first written at c9f341e, before the network kit of issue 16 replaced each agent's own layers.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from algorithms import all_algo_ids, resolve

FIXTURE = Path(__file__).parent / "fixtures" / "init_fingerprints.json"
SPACES = {  # (observation space, action space) per kind; Pendulum's bounds are not +-1
    "continuous-state": (
        gym.spaces.Box(-np.inf, np.inf, (3,), np.float32),
        gym.spaces.Box(-2.0, 2.0, (1,), np.float32),
    ),
    "discrete-state": (gym.spaces.Box(-np.inf, np.inf, (4,), np.float32), gym.spaces.Discrete(2)),
    "continuous-pixels": (gym.spaces.Box(0, 255, (9, 84, 84), np.uint8), gym.spaces.Box(-1.0, 1.0, (6,), np.float32)),
    "halfcheetah": (gym.spaces.Box(-np.inf, np.inf, (17,), np.float32), gym.spaces.Box(-1.0, 1.0, (6,), np.float32)),
    "walker": (gym.spaces.Box(-np.inf, np.inf, (24,), np.float32), gym.spaces.Box(-1.0, 1.0, (6,), np.float32)),
}
PAPER_SIZED = {"td3": "halfcheetah", "mrq": "halfcheetah", "iqrl": "walker", "alm": "halfcheetah", "omd": "halfcheetah"}


def _sha(chunks) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()[:16]


def _tensor(v: torch.Tensor) -> bytes:
    return str(tuple(v.shape)).encode() + v.detach().cpu().contiguous().numpy().tobytes()


def fingerprint(algo_id: str, space: str, small: bool, seed: int = 0, rename=lambda module, key: key) -> dict:
    cls, _ = resolve(algo_id)
    overrides = dict(getattr(cls, "conformance_overrides", {})) if small else {}
    overrides["buffer_size"] = 2_000  # replay size changes no network
    _, cfg = resolve(algo_id, overrides)
    obs_space, action_space = SPACES[space]
    torch.manual_seed(seed)
    agent = cls(obs_space, action_space, cfg, "cpu", seed)
    out = {"num_parameters": agent.num_parameters(), "torch_rng_after": _sha([torch.get_rng_state().numpy().tobytes()])}
    for name, module in sorted(agent.modules().items()):
        state = {rename(name, k): _sha([_tensor(v)]) for k, v in module.state_dict().items()}
        out[name] = _sha(f"{k}={v};".encode() for k, v in sorted(state.items()))
    return out


def cases() -> list[tuple[str, str, bool]]:
    out = []
    for algo_id in all_algo_ids():
        cls, _ = resolve(algo_id)
        for space, (act, obs) in (
            ("continuous-state", ("continuous", "state")),
            ("discrete-state", ("discrete", "state")),
            ("continuous-pixels", ("continuous", "pixels")),
        ):
            if act in cls.action_kinds and obs in cls.observation_kinds:
                out.append((algo_id, space, True))
    out += [(algo, space, False) for algo, space in PAPER_SIZED.items()]
    return out


def case_id(algo_id: str, space: str, small: bool) -> str:
    return f"{algo_id}/{space}/{'small' if small else 'paper'}"


def all_fingerprints() -> dict:
    return {case_id(*c): fingerprint(*c) for c in cases()}


if __name__ == "__main__":
    record = {"torch": torch.__version__, "fingerprints": all_fingerprints()}
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"{len(record['fingerprints'])} cases -> {FIXTURE}", file=sys.stderr)
