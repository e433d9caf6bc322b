"""Plug-in agents. Importing this package registers every algorithm and its named variants.

One module per agent; each defines ``Config`` (paper defaults with source notes) and an ``Agent``
registered by name. See ``algorithms/base.py`` for the contract.
"""
from algorithms import alm, iqrl, mrq, omd, td3  # noqa: F401  (registers the agents and their variants)
from algorithms.base import Agent, Transition, all_algo_ids, algorithms, register, register_variant, resolve, variants

__all__ = ["Agent", "Transition", "all_algo_ids", "algorithms", "register", "register_variant", "resolve", "variants"]
