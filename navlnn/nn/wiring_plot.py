"""Deprecated: moved to :mod:`navlnn.liquid.wiring_plot` (this name works for one more release)."""

from navlnn.nn import alias

alias(__name__, "navlnn.liquid.wiring_plot")
