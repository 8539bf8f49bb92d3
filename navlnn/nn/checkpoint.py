"""Deprecated: moved to :mod:`navlnn.policies.checkpoint` (this name works for one more release)."""

from navlnn.nn import alias

alias(__name__, "navlnn.policies.checkpoint")
