"""Fixtures of the evaluation tests: a short-episode env with a 64x36 camera, a tiny checkpoint (from _tiny)."""

from _tiny import checkpoint, env, env_factory  # noqa: F401  (fixtures)
