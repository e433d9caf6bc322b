"""Benchmark suites. Importing this package registers every suite (see ``suites/registry.py``)."""

from suites import alm_locomotion, atari, dmc, gym, iqrl_dmc, omd, smoke  # noqa: F401
from suites.registry import get_suite, get_task, register_suite, suites
from suites.task import Suite, Task

__all__ = ["Suite", "Task", "get_suite", "get_task", "register_suite", "suites"]
