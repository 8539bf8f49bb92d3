"""``navlnn wiring``: build the configured wiring and draw it to a PNG in the run folder."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from navlnn.liquid.wirings import Wiring


def run(cfg: DictConfig) -> list[Path]:
    """Instantiate ``cfg.wiring``, build it for ``cfg.input_size`` inputs, draw it, save its dict."""
    wiring = instantiate(cfg.wiring)
    if not isinstance(wiring, Wiring):
        raise ValueError(f"wiring._target_ must name a navlnn.liquid wiring class, got {type(wiring).__name__}")
    wiring.build(int(cfg.input_size))
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    png = Path(wiring.draw(out_dir / cfg.output))
    counts = {kind: sum(1 for n in range(wiring.units) if wiring.get_type_of_neuron(n) == kind)
              for kind in ("inter", "command", "motor")}
    print(f"{wiring!r}: {counts}, {wiring.sensory_synapse_count} sensory synapses")
    return [png]
