"""Deprecated: moved to :mod:`navlnn.liquid.cfc` (this name works for one more release)."""

from navlnn.nn import alias

alias(__name__, "navlnn.liquid.cfc")
