"""MR.Q: networks (networks.py), replay with subtrajectories and LAP (buffer.py), the agent and its
schedule (agent.py); its Config and design-study variants (config.py, importable without torch)."""
