"""The liquid heads: a CfC or LTC controller, dense or on an NCP wiring (the MIT drone work's model)."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from torch import Tensor, nn

from navlnn.liquid.cfc import CfC
from navlnn.liquid.ltc import LTC
from navlnn.liquid.wirings import NCP, FullyConnected, Wiring, wiring_from_dict
from navlnn.policies.heads.base import Head, feature_norm


class LiquidHead(Head):
    """A CfC or LTC controller; with an NCP wiring the motor neurons are the actions.

    Args:
        kind: ``"cfc"`` or ``"ltc"``.
        feature_dim: input features per frame.
        action_dim: number of actions.
        wiring: an NCP-style wiring (or its ``to_dict()``); None builds a dense head of ``units``
            neurons: a CfC with a linear readout, or an LTC on a fully connected wiring
            (``FullyConnected(units, output_dim=action_dim)``: every neuron and input reaches every
            neuron, the first ``action_dim`` neurons are the motor neurons, read out affinely).
        units: neurons of a dense head.
        time_scale: multiplies dt (seconds) into the neurons' time unit; 1.0 per frame at the
            policy rate keeps the dynamics of a model trained without timespans.
        input_norm: a LayerNorm on the features before the cell. The LTC's sensory synapses are
            sigmoids of ``sigma * (x - mu)`` with ``mu`` drawn in [0.3, 0.8], made for inputs of
            order 1; the trunk's linear features are unbounded, and a dense LTC (every neuron reading
            every feature) drives them to hundreds, where every sigmoid saturates and the command
            stops depending on the image.
        **cell_kwargs: passed to :class:`CfC` or :class:`LTC` (``mode``, ``mixed_memory``, ``ode_unfolds``...).
    """

    def __init__(
        self,
        kind: str,
        feature_dim: int,
        action_dim: int,
        wiring: Wiring | Mapping[str, Any] | None = None,
        units: int = 64,
        time_scale: float = 15.0,
        input_norm: bool = False,
        **cell_kwargs: Any,
    ) -> None:
        super().__init__()
        self.norm: nn.Module = feature_norm(feature_dim, input_norm)
        if isinstance(wiring, Mapping):
            wiring = _wiring_from_config(wiring)
        if kind not in ("cfc", "ltc"):
            raise ValueError(f"kind must be 'cfc' or 'ltc', got {kind!r}")
        if wiring is not None and wiring.output_dim != action_dim:
            raise ValueError(
                f"wiring: {wiring.output_dim} motor neurons, but the policy has {action_dim} actions; "
                f"set the wiring's motor neurons to {action_dim}"
            )
        self.kind = kind
        self.time_scale = float(time_scale)
        if kind == "cfc":
            if wiring is None:
                self.cell: nn.Module = CfC(feature_dim, units, proj_size=action_dim, **cell_kwargs)
            else:
                self.cell = CfC(feature_dim, wiring, **cell_kwargs)
        else:
            if wiring is None:
                if units < action_dim:
                    raise ValueError(f"units: a dense LTC head needs at least {action_dim} neurons (one per action), "
                                     f"got {units}")
                wiring = FullyConnected(units, output_dim=action_dim)
            self.cell = LTC(feature_dim, wiring, **cell_kwargs)
        self.state_size = self.cell.state_size

    @property
    def wiring(self) -> Optional[Wiring]:
        return self.cell.wiring

    def forward(self, features: Tensor, dt: Tensor, state: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        return self.cell(self.norm(features), state, dt * self.time_scale)

    def step(self, features: Tensor, dt: Tensor, state: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        return self.cell.step(self.norm(features), state, dt.reshape(-1, 1) * self.time_scale)


def _wiring_from_config(config: Mapping[str, Any]) -> Wiring:
    """A wiring from a checkpoint dict (``Wiring.to_dict()``) or NCP arguments from a config."""
    config = dict(config)
    if "adjacency_matrix" in config:
        return wiring_from_dict(config)
    config.pop("_target_", None)
    return NCP(**config)
