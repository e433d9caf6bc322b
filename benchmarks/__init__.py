"""Scripts that print speed figures (run from the project root: python -m benchmarks.NAME)."""
