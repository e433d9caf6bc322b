"""ALM: networks and distribution helpers (networks.py), the window replay (replay.py), the agent
(agent.py); its Config and ablation variants (config.py, importable without torch)."""
