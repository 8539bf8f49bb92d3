"""Deprecated: moved to :mod:`navlnn.liquid.cells` (this name works for one more release)."""

from navlnn.nn import alias

alias(__name__, "navlnn.liquid.cells")
