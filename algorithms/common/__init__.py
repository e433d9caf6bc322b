"""Machinery shared by the agents: networks, replay buffers."""
