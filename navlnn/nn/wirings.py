"""Wirings: which neuron talks to which, and with what polarity.

A wiring holds two signed adjacency matrices (``+1`` excitatory, ``-1``
inhibitory, ``0`` no synapse): ``adjacency_matrix`` (units x units, source x
destination) and ``sensory_adjacency_matrix`` (input_dim x units), the latter
known once :meth:`Wiring.build` has been given the input width.

For the same arguments and seed, every wiring here builds exactly the matrices
that the reference package ``ncps.wirings`` builds (same random draws in the
same order), so that circuits and results carry over. Neuron ids follow ncps:
in an NCP, ids ``[0, motor)`` are motor neurons, then command, then inter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Wiring", "FullyConnected", "Random", "NCP", "AutoNCP", "wiring_from_dict"]


def _check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class Wiring:
    """A generic wiring of ``units`` neurons, the first ``output_dim`` of which are read out.

    Args:
        units: number of neurons (the state size of the RNN).
        output_dim: number of motor (output) neurons; defaults to ``units``.
    """

    kind = "Wiring"

    def __init__(self, units: int, output_dim: int | None = None) -> None:
        self.units = _check_positive_int("units", units)
        self.adjacency_matrix = np.zeros([self.units, self.units], dtype=np.int32)
        self.sensory_adjacency_matrix: np.ndarray | None = None
        self.input_dim: int | None = None
        self.output_dim: int | None = None
        if output_dim is not None:
            self.set_output_dim(output_dim)

    # ----------------------------------------------------------------- structure
    @property
    def num_layers(self) -> int:
        return 1

    def get_neurons_of_layer(self, layer_id: int) -> list[int]:
        if layer_id != 0:
            raise ValueError(f"layer_id must be 0 for a single-layer wiring, got {layer_id}")
        return list(range(self.units))

    def get_type_of_neuron(self, neuron_id: int) -> str:
        return "motor" if neuron_id < (self.output_dim or 0) else "inter"

    def is_built(self) -> bool:
        return self.input_dim is not None

    def build(self, input_dim: int) -> None:
        """Fix the input width and draw the sensory synapses (once)."""
        input_dim = _check_positive_int("input_dim", input_dim)
        if self.input_dim is not None:
            if self.input_dim != input_dim:
                raise ValueError(
                    f"input_dim: this wiring was built for {self.input_dim} input features, "
                    f"got {input_dim}; build a new wiring for another input width"
                )
            return
        self.set_input_dim(input_dim)
        self._build_sensory()

    def _build_sensory(self) -> None:
        """Draw the sensory synapses; subclasses override."""

    def set_input_dim(self, input_dim: int) -> None:
        self.input_dim = int(input_dim)
        self.sensory_adjacency_matrix = np.zeros([self.input_dim, self.units], dtype=np.int32)

    def set_output_dim(self, output_dim: int) -> None:
        output_dim = _check_positive_int("output_dim", output_dim)
        if output_dim > self.units:
            raise ValueError(
                f"output_dim: {output_dim} motor neurons cannot exceed units={self.units}"
            )
        self.output_dim = output_dim

    def add_synapse(self, src: int, dest: int, polarity: int) -> None:
        if not 0 <= src < self.units or not 0 <= dest < self.units:
            raise ValueError(f"synapse {src}->{dest}: neurons must be in [0, {self.units})")
        if polarity not in (-1, 1):
            raise ValueError(f"polarity must be -1 or +1, got {polarity}")
        self.adjacency_matrix[src, dest] = polarity

    def add_sensory_synapse(self, src: int, dest: int, polarity: int) -> None:
        if self.sensory_adjacency_matrix is None:
            raise ValueError("cannot add sensory synapses before build(input_dim) was called")
        if not 0 <= src < self.input_dim or not 0 <= dest < self.units:
            raise ValueError(
                f"sensory synapse {src}->{dest}: source must be in [0, {self.input_dim}), "
                f"destination in [0, {self.units})"
            )
        if polarity not in (-1, 1):
            raise ValueError(f"polarity must be -1 or +1, got {polarity}")
        self.sensory_adjacency_matrix[src, dest] = polarity

    @property
    def synapse_count(self) -> int:
        """Synapses between neurons of the circuit."""
        return int(np.abs(self.adjacency_matrix).sum())

    @property
    def sensory_synapse_count(self) -> int:
        """Synapses from the inputs into the circuit."""
        if self.sensory_adjacency_matrix is None:
            return 0
        return int(np.abs(self.sensory_adjacency_matrix).sum())

    def layer_of_neurons(self) -> list[str]:
        """The type of each neuron id: 'inter', 'command' or 'motor'."""
        return [self.get_type_of_neuron(i) for i in range(self.units)]

    # ------------------------------------------------------------- serialisation
    def _params(self) -> dict[str, Any]:
        return {"units": self.units, "output_dim": self.output_dim}

    def to_dict(self) -> dict[str, Any]:
        """Plain data (ints and lists) that :func:`wiring_from_dict` turns back into this wiring.

        The matrices are stored, not only the seed, so a checkpoint keeps its exact circuit.
        """
        return {
            "kind": self.kind,
            "params": self._params(),
            "input_dim": self.input_dim,
            "adjacency_matrix": self.adjacency_matrix.tolist(),
            "sensory_adjacency_matrix": (
                None if self.sensory_adjacency_matrix is None else self.sensory_adjacency_matrix.tolist()
            ),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Wiring):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self._params().items())
        return f"{self.kind}({args}, input_dim={self.input_dim}, synapses={self.synapse_count})"

    def draw(self, path: str, title: str | None = None) -> str:
        """Draw the circuit to a PNG (see :func:`navlnn.nn.wiring_plot.draw_wiring`)."""
        from navlnn.nn.wiring_plot import draw_wiring

        return draw_wiring(self, path, title=title)


class FullyConnected(Wiring):
    """Every neuron connects to every neuron (and every input to every neuron), random polarity.

    Matches ``ncps.wirings.FullyConnected``: polarity drawn from ``[-1, 1, 1]``.
    """

    kind = "FullyConnected"

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        erev_init_seed: int = 1111,
        self_connections: bool = True,
    ) -> None:
        super().__init__(units, units if output_dim is None else output_dim)
        self.self_connections = bool(self_connections)
        self.erev_init_seed = int(erev_init_seed)
        self._rng = np.random.default_rng(erev_init_seed)
        for src in range(self.units):
            for dest in range(self.units):
                if src == dest and not self_connections:
                    continue
                self.add_synapse(src, dest, self._rng.choice([-1, 1, 1]))

    def _build_sensory(self) -> None:
        for src in range(self.input_dim):
            for dest in range(self.units):
                self.add_sensory_synapse(src, dest, self._rng.choice([-1, 1, 1]))

    def _params(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "output_dim": self.output_dim,
            "erev_init_seed": self.erev_init_seed,
            "self_connections": self.self_connections,
        }


class Random(Wiring):
    """A random sparse wiring with a given fraction of absent synapses.

    Matches ``ncps.wirings.Random``, including its quirk of drawing each sensory
    synapse's polarity twice (the second draw wins), so the random stream stays aligned.
    """

    kind = "Random"

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        sparsity_level: float = 0.0,
        random_seed: int = 1111,
    ) -> None:
        super().__init__(units, units if output_dim is None else output_dim)
        if not 0.0 <= sparsity_level < 1.0:
            raise ValueError(f"sparsity_level must be in [0, 1), got {sparsity_level}")
        self.sparsity_level = float(sparsity_level)
        self.random_seed = int(random_seed)
        self._rng = np.random.default_rng(random_seed)
        count = int(np.round(self.units * self.units * (1 - sparsity_level)))
        pairs = [(s, d) for s in range(self.units) for d in range(self.units)]
        for src, dest in self._rng.choice(pairs, size=count, replace=False):
            self.add_synapse(int(src), int(dest), self._rng.choice([-1, 1, 1]))

    def _build_sensory(self) -> None:
        count = int(np.round(self.input_dim * self.units * (1 - self.sparsity_level)))
        pairs = [(s, d) for s in range(self.input_dim) for d in range(self.units)]
        for src, dest in self._rng.choice(pairs, size=count, replace=False):
            self._rng.choice([-1, 1, 1])  # ncps draws twice; the first draw is overwritten
            self.add_sensory_synapse(int(src), int(dest), self._rng.choice([-1, 1, 1]))

    def _params(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "output_dim": self.output_dim,
            "sparsity_level": self.sparsity_level,
            "random_seed": self.random_seed,
        }


class NCP(Wiring):
    """A Neural Circuit Policy: sensory -> inter -> command (recurrent) -> motor.

    Args:
        inter: number of inter neurons (layer 1).
        command: number of command neurons (layer 2).
        motor: number of motor neurons (layer 3 = outputs).
        sensory_fanout: synapses from each sensory input to inter neurons.
        inter_fanout: synapses from each inter neuron to command neurons.
        recurrent_command_synapses: number of recurrent synapses among command neurons.
        motor_fanin: synapses into each motor neuron from command neurons.
        seed: seed of the wiring's random draws (``numpy.random.RandomState``, as ncps).
    """

    kind = "NCP"

    def __init__(
        self,
        inter: int,
        command: int,
        motor: int,
        sensory_fanout: int,
        inter_fanout: int,
        recurrent_command_synapses: int,
        motor_fanin: int,
        seed: int = 22222,
    ) -> None:
        inter = _check_positive_int("inter", inter)
        command = _check_positive_int("command", command)
        motor = _check_positive_int("motor", motor)
        sensory_fanout = _check_positive_int("sensory_fanout", sensory_fanout)
        inter_fanout = _check_positive_int("inter_fanout", inter_fanout)
        recurrent_command_synapses = _check_positive_int(
            "recurrent_command_synapses", recurrent_command_synapses, minimum=0
        )
        motor_fanin = _check_positive_int("motor_fanin", motor_fanin)
        if motor_fanin > command:
            raise ValueError(f"motor_fanin={motor_fanin} exceeds the {command} command neurons; use <= {command}")
        if sensory_fanout > inter:
            raise ValueError(f"sensory_fanout={sensory_fanout} exceeds the {inter} inter neurons; use <= {inter}")
        if inter_fanout > command:
            raise ValueError(f"inter_fanout={inter_fanout} exceeds the {command} command neurons; use <= {command}")
        super().__init__(inter + command + motor, motor)
        self.seed = int(seed)
        self._rng = np.random.RandomState(seed)
        self.num_inter, self.num_command, self.num_motor = inter, command, motor
        self.sensory_fanout = sensory_fanout
        self.inter_fanout = inter_fanout
        self.recurrent_command_synapses = recurrent_command_synapses
        self.motor_fanin = motor_fanin
        self.motor_neurons = list(range(0, motor))
        self.command_neurons = list(range(motor, motor + command))
        self.inter_neurons = list(range(motor + command, motor + command + inter))

    @property
    def num_layers(self) -> int:
        return 3

    def get_neurons_of_layer(self, layer_id: int) -> list[int]:
        layers = (self.inter_neurons, self.command_neurons, self.motor_neurons)
        if not 0 <= layer_id < 3:
            raise ValueError(f"layer_id must be 0 (inter), 1 (command) or 2 (motor), got {layer_id}")
        return list(layers[layer_id])

    def get_type_of_neuron(self, neuron_id: int) -> str:
        if neuron_id < self.num_motor:
            return "motor"
        if neuron_id < self.num_motor + self.num_command:
            return "command"
        return "inter"

    def _build_sensory(self) -> None:
        # The whole circuit is drawn at build time, in ncps's order, from one random stream.
        rng = self._rng
        sensory = list(range(self.input_dim))

        unreachable = list(self.inter_neurons)
        for src in sensory:
            for dest in rng.choice(self.inter_neurons, size=self.sensory_fanout, replace=False):
                if dest in unreachable:
                    unreachable.remove(dest)
                self.add_sensory_synapse(src, int(dest), rng.choice([-1, 1]))
        fanin = int(np.clip(int(self.input_dim * self.sensory_fanout / self.num_inter), 1, self.input_dim))
        for dest in unreachable:
            for src in rng.choice(sensory, size=fanin, replace=False):
                self.add_sensory_synapse(int(src), dest, rng.choice([-1, 1]))

        unreachable = list(self.command_neurons)
        for src in self.inter_neurons:
            for dest in rng.choice(self.command_neurons, size=self.inter_fanout, replace=False):
                if dest in unreachable:
                    unreachable.remove(dest)
                self.add_synapse(src, int(dest), rng.choice([-1, 1]))
        fanin = int(np.clip(int(self.num_inter * self.inter_fanout / self.num_command), 1, self.num_command))
        for dest in unreachable:
            for src in rng.choice(self.inter_neurons, size=fanin, replace=False):
                self.add_synapse(int(src), dest, rng.choice([-1, 1]))

        for _ in range(self.recurrent_command_synapses):
            src = rng.choice(self.command_neurons)
            dest = rng.choice(self.command_neurons)
            self.add_synapse(int(src), int(dest), rng.choice([-1, 1]))

        unreachable = list(self.command_neurons)
        for dest in self.motor_neurons:
            for src in rng.choice(self.command_neurons, size=self.motor_fanin, replace=False):
                if src in unreachable:
                    unreachable.remove(src)
                self.add_synapse(int(src), dest, rng.choice([-1, 1]))
        fanout = int(np.clip(int(self.num_motor * self.motor_fanin / self.num_command), 1, self.num_motor))
        for src in unreachable:
            for dest in rng.choice(self.motor_neurons, size=fanout, replace=False):
                self.add_synapse(src, int(dest), rng.choice([-1, 1]))

    def _params(self) -> dict[str, Any]:
        return {
            "inter": self.num_inter,
            "command": self.num_command,
            "motor": self.num_motor,
            "sensory_fanout": self.sensory_fanout,
            "inter_fanout": self.inter_fanout,
            "recurrent_command_synapses": self.recurrent_command_synapses,
            "motor_fanin": self.motor_fanin,
            "seed": self.seed,
        }


class AutoNCP(NCP):
    """An NCP sized from the total neuron count, the outputs and a sparsity level (as ncps).

    Args:
        units: total neurons (inter + command + motor).
        output_size: motor neurons; must be less than ``units - 2``.
        sparsity_level: in [0.1, 1.0]; higher is sparser.
        seed: seed of the wiring's random draws.
    """

    kind = "AutoNCP"

    def __init__(self, units: int, output_size: int, sparsity_level: float = 0.5, seed: int = 22222) -> None:
        units = _check_positive_int("units", units)
        output_size = _check_positive_int("output_size", output_size)
        if output_size >= units - 2:
            raise ValueError(
                f"output_size={output_size} must be less than units - 2 = {units - 2} "
                f"(inter and command neurons need at least 3 units)"
            )
        if not 0.1 <= sparsity_level <= 1.0:
            raise ValueError(f"sparsity_level must be in [0.1, 1.0], got {sparsity_level}")
        self.output_size = output_size
        self.sparsity_level = float(sparsity_level)
        density = 1.0 - sparsity_level
        inter_and_command = units - output_size
        command = max(int(0.4 * inter_and_command), 1)
        inter = inter_and_command - command
        super().__init__(
            inter,
            command,
            output_size,
            sensory_fanout=max(int(inter * density), 1),
            inter_fanout=max(int(command * density), 1),
            recurrent_command_synapses=max(int(command * density * 2), 1),
            motor_fanin=max(int(command * density), 1),
            seed=seed,
        )

    def _params(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "output_size": self.output_size,
            "sparsity_level": self.sparsity_level,
            "seed": self.seed,
        }


_KINDS: dict[str, type[Wiring]] = {
    cls.kind: cls for cls in (Wiring, FullyConnected, Random, NCP, AutoNCP)
}


def wiring_from_dict(data: dict[str, Any]) -> Wiring:
    """Rebuild a wiring from :meth:`Wiring.to_dict` output, with its exact matrices."""
    try:
        kind, params = data["kind"], dict(data["params"])
        adjacency = np.asarray(data["adjacency_matrix"], dtype=np.int32)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a wiring dict (missing {exc}); expected the output of Wiring.to_dict()") from exc
    if kind not in _KINDS:
        raise ValueError(f"unknown wiring kind '{kind}'; valid kinds: {sorted(_KINDS)}")
    wiring = _KINDS[kind](**params)
    if adjacency.shape != wiring.adjacency_matrix.shape:
        raise ValueError(
            f"adjacency_matrix has shape {adjacency.shape}, expected {wiring.adjacency_matrix.shape} for {kind}({params})"
        )
    wiring.adjacency_matrix = adjacency
    if data.get("input_dim") is not None:
        wiring.set_input_dim(int(data["input_dim"]))
        sensory = np.asarray(data["sensory_adjacency_matrix"], dtype=np.int32)
        if sensory.shape != wiring.sensory_adjacency_matrix.shape:
            raise ValueError(
                f"sensory_adjacency_matrix has shape {sensory.shape}, expected {wiring.sensory_adjacency_matrix.shape}"
            )
        wiring.sensory_adjacency_matrix = sensory
    return wiring
