"""MR.Q: networks (networks.py), replay with subtrajectories and LAP (buffer.py), the agent, its
schedule and the design-study variants (agent.py)."""
from algorithms.mrq import agent  # noqa: F401  (registers mrq and its variants)
