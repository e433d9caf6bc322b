"""OMD (Optimal Model Design) and its MLE / VEP baselines: the agent (agent.py), its networks
(networks.py), the implicit-function gradient (implicit.py) and the exact tabular study (tabular.py)."""
from algorithms.omd import agent  # noqa: F401  (registers omd and its variants)
