"""Fixtures of the rollout tests: the evaluation tests' short-episode env and tiny policies."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
for helper in ("evaluation", "data"):  # _tiny (small policies, short task) and _demos (a small collection spec)
    if str(TESTS / helper) not in sys.path:
        sys.path.insert(0, str(TESTS / helper))

from _tiny import checkpoint, env, env_factory  # noqa: E402,F401  (fixtures)
