"""OMD (Optimal Model Design) and its MLE / VEP baselines: the agent (agent.py), its networks
(networks.py), the implicit-function gradient (implicit.py), the exact tabular study (tabular.py);
its Config and variants (config.py, importable without torch)."""
