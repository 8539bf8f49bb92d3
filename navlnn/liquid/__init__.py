"""Neural-network parts of navlnn: NCP wirings, the liquid CfC / LTC cells and the sequence modules
that wrap them.

The names of ``ncps.torch`` and ``ncps.wirings`` are here too, so code written for ncps runs on
navlnn with its import lines changed (see "Switching from ncps" in docs/liquid-core.md).
"""

from navlnn.liquid import wiring_plot, wirings
from navlnn.liquid.cells import CfCCell, LTCCell, WiredCfCCell
from navlnn.liquid.cfc import CfC
from navlnn.liquid.convert import from_ncps
from navlnn.liquid.ltc import LTC
from navlnn.liquid.wirings import NCP, AutoNCP, FullyConnected, Random, Wiring, wiring_from_dict, wiring_from_ncps

# A wiring's draw() and ncps's draw_graph() are drawn by wiring_plot, which imports the wirings and is
# not imported by them (see the note in wirings.py); the package, which knows both, connects them.
wirings.use_drawing(wiring_plot.draw_wiring, wiring_plot.draw_graph)

__all__ = [
    "CfC",
    "LTC",
    "CfCCell",
    "WiredCfCCell",
    "LTCCell",
    "Wiring",
    "NCP",
    "AutoNCP",
    "FullyConnected",
    "Random",
    "wiring_from_dict",
    "from_ncps",
    "wiring_from_ncps",
    "wirings",
]
