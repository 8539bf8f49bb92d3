"""Neural-network parts of navlnn: NCP wirings and the liquid CfC / LTC sequence modules."""

from navlnn.nn.cfc import CfC
from navlnn.nn.convert import from_ncps, wiring_from_ncps
from navlnn.nn.ltc import LTC
from navlnn.nn.wirings import NCP, AutoNCP, FullyConnected, Random, Wiring, wiring_from_dict

__all__ = [
    "CfC",
    "LTC",
    "Wiring",
    "NCP",
    "AutoNCP",
    "FullyConnected",
    "Random",
    "wiring_from_dict",
    "from_ncps",
    "wiring_from_ncps",
]
