"""iQRL: the agent, FSQ and networks (agent.py); its Config and variants (config.py, importable without torch)."""
