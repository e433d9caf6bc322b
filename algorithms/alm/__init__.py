"""ALM: networks and distribution helpers (networks.py), the window replay (replay.py), the agent and its
ablation variants (agent.py)."""
from algorithms.alm import agent  # noqa: F401  (registers alm and its variants)
