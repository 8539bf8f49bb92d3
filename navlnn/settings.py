"""Small helpers for settings sections read from config mappings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def known_keys(section: str, cfg: Mapping[str, Any] | None, valid: Iterable[str]) -> dict[str, Any]:
    """``cfg`` as a dict, or a ``ValueError`` naming ``section``'s unknown keys and the valid ones."""
    cfg = dict(cfg or {})
    names = set(valid)
    unknown = sorted(set(cfg) - names)
    if unknown:
        raise ValueError(f"{section}: unknown keys {', '.join(unknown)} (valid: {', '.join(sorted(names))})")
    return cfg
