"""Wirings: which neuron talks to which, and with what polarity.

A wiring holds two signed adjacency matrices (``+1`` excitatory, ``-1``
inhibitory, ``0`` no synapse): ``adjacency_matrix`` (units x units, source x
destination) and ``sensory_adjacency_matrix`` (input_dim x units), the latter
known once :meth:`Wiring.build` has been given the input width.

For the same arguments and seed, every wiring here builds exactly the matrices
that the reference package ``ncps.wirings`` builds (same random draws in the
same order), so that circuits and results carry over. Neuron ids follow ncps:
in an NCP, ids ``[0, motor)`` are motor neurons, then command, then inter.

The public interface of ``ncps.wirings`` is here too (its keyword names, ``get_config`` /
``from_config`` with ncps's config dicts, ``get_graph``, ``draw_graph``, ``erev_initializer``), and
:func:`as_wiring` turns an ``ncps.wirings`` object into the equivalent navlnn wiring.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = [
    "Wiring",
    "FullyConnected",
    "Random",
    "NCP",
    "AutoNCP",
    "wiring_from_dict",
    "wiring_from_ncps",
    "is_ncps_wiring",
    "as_wiring",
    "use_drawing",
]


# Drawing. The code that draws a wiring is in navlnn.liquid.wiring_plot, which imports this module;
# this module never imports it (not even inside a method: a lazy import is still an arrow, and the two
# would import each other). Wiring still has the methods, navlnn's `draw` and ncps's `draw_graph`, so
# that a wiring draws itself as ncps's do; they call the functions handed to `use_drawing`, which the
# package's __init__ does with wiring_plot's, and importing any navlnn.liquid module runs that first.
# The alternatives: wiring_plot setting the methods onto Wiring would hide them from the class's own
# definition, and a plotting base class for Wiring would make this module import the plot again.
_DRAWING: dict[str, Callable[..., Any]] = {}


def use_drawing(draw: Callable[..., str], draw_graph: Callable[..., list]) -> None:
    """Set the functions behind :meth:`Wiring.draw` and :meth:`Wiring.draw_graph` (``navlnn.liquid``
    sets :func:`~navlnn.liquid.wiring_plot.draw_wiring` and :func:`~navlnn.liquid.wiring_plot.draw_graph`)."""
    _DRAWING.update(draw=draw, draw_graph=draw_graph)


def _drawing(name: str) -> Callable[..., Any]:
    if name not in _DRAWING:
        raise RuntimeError(f"Wiring.{name}: no drawing functions are set; import navlnn.liquid, which sets them")
    return _DRAWING[name]


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
        """Draw the circuit to a PNG (see :func:`navlnn.liquid.wiring_plot.draw_wiring`)."""
        return _drawing("draw")(self, path, title=title)

    # ------------------------------------------------------------ ncps interface
    def erev_initializer(self, shape: Any = None, dtype: Any = None) -> np.ndarray:
        """A copy of the signed adjacency matrix: the initial reversal potentials of an LTC (as ncps)."""
        return np.copy(self.adjacency_matrix)

    def sensory_erev_initializer(self, shape: Any = None, dtype: Any = None) -> np.ndarray:
        """A copy of the signed sensory adjacency matrix (as ncps); ``None`` before :meth:`build`."""
        return None if self.sensory_adjacency_matrix is None else np.copy(self.sensory_adjacency_matrix)

    def get_config(self) -> dict[str, Any]:
        """ncps's config dict of this wiring (the matrices, for a generic :class:`Wiring`).

        Subclasses return their constructor arguments under ncps's names, so a config written by
        navlnn loads in ``ncps.wirings`` and one written by ncps loads here (:meth:`from_config`).
        """
        return {
            "units": self.units,
            "adjacency_matrix": self.adjacency_matrix.tolist(),
            "sensory_adjacency_matrix": (
                None if self.sensory_adjacency_matrix is None else self.sensory_adjacency_matrix.tolist()
            ),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Wiring":
        """Rebuild a generic wiring, matrices included, from :meth:`get_config` output (ncps's or ours)."""
        wiring = Wiring(config["units"], config.get("output_dim"))
        if config.get("adjacency_matrix") is not None:
            _set_matrix(wiring, "adjacency_matrix", config["adjacency_matrix"])
        if config.get("input_dim") is not None:
            wiring.set_input_dim(int(config["input_dim"]))
            if config.get("sensory_adjacency_matrix") is not None:
                _set_matrix(wiring, "sensory_adjacency_matrix", config["sensory_adjacency_matrix"])
        return wiring

    def get_graph(self, include_sensory_neurons: bool = True):
        """The circuit as a ``networkx.DiGraph`` (as ncps): nodes ``neuron_<i>`` and ``sensory_<i>``
        with a ``neuron_type``, edges with ``polarity`` ``"excitatory"`` or ``"inhibitory"``."""
        if not self.is_built():
            raise ValueError(
                "wiring is not built: call wiring.build(input_dim) (or build a CfC/LTC with it) first"
            )
        import networkx as nx

        graph = nx.DiGraph()
        for i in range(self.units):
            graph.add_node(f"neuron_{i}", neuron_type=self.get_type_of_neuron(i))
        if include_sensory_neurons:
            for i in range(self.input_dim):
                graph.add_node(f"sensory_{i}", neuron_type="sensory")
            for src, dest in zip(*np.nonzero(self.sensory_adjacency_matrix)):
                polarity = "excitatory" if self.sensory_adjacency_matrix[src, dest] > 0 else "inhibitory"
                graph.add_edge(f"sensory_{src}", f"neuron_{dest}", polarity=polarity)
        for src, dest in zip(*np.nonzero(self.adjacency_matrix)):
            polarity = "excitatory" if self.adjacency_matrix[src, dest] > 0 else "inhibitory"
            graph.add_edge(f"neuron_{src}", f"neuron_{dest}", polarity=polarity)
        return graph

    def draw_graph(
        self,
        layout: str = "shell",
        neuron_colors: dict[str, str] | None = None,
        synapse_colors: str | dict[str, str] | None = None,
        draw_labels: bool = False,
    ) -> list:
        """Draw :meth:`get_graph` on the current matplotlib axes with networkx (as ncps).

        Returns legend handles, one per neuron type. For a saved picture with the layers in
        columns, see :meth:`draw`. Drawn by :func:`navlnn.liquid.wiring_plot.draw_graph`.
        """
        return _drawing("draw_graph")(self, layout, neuron_colors, synapse_colors, draw_labels)


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

    def get_config(self) -> dict[str, Any]:
        """ncps's config dict: the constructor arguments."""
        return self._params()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "FullyConnected":
        """The wiring that :meth:`get_config` (ours or ncps's) describes."""
        return cls(**config)


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

    def get_config(self) -> dict[str, Any]:
        """ncps's config dict: the constructor arguments."""
        return self._params()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Random":
        """The wiring that :meth:`get_config` (ours or ncps's) describes."""
        return cls(**config)


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
        seed: seed of the wiring's random draws (``numpy.random.RandomState``, as ncps); ``None`` draws
            a fresh seed (kept in :attr:`seed`).
        inter_neurons, command_neurons, motor_neurons: ncps's names of ``inter``, ``command`` and
            ``motor`` (keyword only; give one name or the other).
    """

    kind = "NCP"

    def __init__(
        self,
        inter: int | None = None,
        command: int | None = None,
        motor: int | None = None,
        sensory_fanout: int | None = None,
        inter_fanout: int | None = None,
        recurrent_command_synapses: int | None = None,
        motor_fanin: int | None = None,
        seed: int | None = 22222,
        *,
        inter_neurons: int | None = None,
        command_neurons: int | None = None,
        motor_neurons: int | None = None,
    ) -> None:
        inter = _one_of("inter", inter, "inter_neurons", inter_neurons)
        command = _one_of("command", command, "command_neurons", command_neurons)
        motor = _one_of("motor", motor, "motor_neurons", motor_neurons)
        for name, value in (("sensory_fanout", sensory_fanout), ("inter_fanout", inter_fanout),
                            ("recurrent_command_synapses", recurrent_command_synapses),
                            ("motor_fanin", motor_fanin)):
            if value is None:
                raise TypeError(f"NCP() missing required argument '{name}'")
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0] >> 1)
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

    def get_config(self) -> dict[str, Any]:
        """ncps's config dict (its keyword names): neuron counts and the seed.

        ncps 1.0.1's own ``NCP.get_config`` writes the neuron id lists and ``seed=None``;
        :meth:`from_config` reads those too (a list counts its neurons).
        """
        return {
            "inter_neurons": self.num_inter,
            "command_neurons": self.num_command,
            "motor_neurons": self.num_motor,
            "sensory_fanout": self.sensory_fanout,
            "inter_fanout": self.inter_fanout,
            "recurrent_command_synapses": self.recurrent_command_synapses,
            "motor_fanin": self.motor_fanin,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "NCP":
        """The NCP that :meth:`get_config` (ours or ncps's) describes."""
        config = dict(config)
        for key in ("inter_neurons", "command_neurons", "motor_neurons"):
            if isinstance(config.get(key), (list, tuple)):
                config[key] = len(config[key])
        return cls(**config)


def _one_of(name: str, value: Any, alias: str, alias_value: Any) -> Any:
    """The argument given under ``name`` or under its ncps ``alias`` (exactly one of them)."""
    if value is not None and alias_value is not None:
        raise TypeError(f"NCP() got both '{name}' and its ncps name '{alias}'; give one")
    if value is None and alias_value is None:
        raise TypeError(f"NCP() missing required argument '{name}' (ncps: '{alias}')")
    return alias_value if value is None else value


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

    def get_config(self) -> dict[str, Any]:
        """ncps's config dict: the constructor arguments."""
        return self._params()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AutoNCP":
        """The wiring that :meth:`get_config` (ours or ncps's) describes."""
        return cls(**config)


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
    _set_matrix(wiring, "adjacency_matrix", adjacency, f" for {kind}({params})")
    if data.get("input_dim") is not None:
        wiring.set_input_dim(int(data["input_dim"]))
        _set_matrix(wiring, "sensory_adjacency_matrix", data["sensory_adjacency_matrix"])
    return wiring


def _set_matrix(wiring: Wiring, name: str, values: Any, context: str = "") -> None:
    """Put ``values`` (ints) in place of the wiring's matrix ``name``; it must have that matrix's shape."""
    matrix = np.asarray(values, dtype=np.int32)
    expected = getattr(wiring, name).shape
    if matrix.shape != expected:
        raise ValueError(f"{name} has shape {matrix.shape}, expected {expected}{context}")
    setattr(wiring, name, matrix)


def is_ncps_wiring(obj: Any) -> bool:
    """Whether ``obj`` is a wiring of the reference package ``ncps.wirings`` (or of a subclass of one)."""
    return any((klass.__module__ or "").startswith("ncps.wirings") for klass in type(obj).__mro__)


def wiring_from_ncps(ncps_wiring: Any) -> Wiring:
    """Our wiring with the same structure and exactly the same matrices as an ``ncps.wirings`` object.

    An unbuilt wiring keeps ncps's random stream where it is, so building ours later draws the same
    synapses that building ncps's would. A custom subclass of ncps's ``Wiring`` becomes a generic
    :class:`Wiring` with its matrices (build it first).
    """
    if not is_ncps_wiring(ncps_wiring):
        raise ValueError(f"wiring_from_ncps expects an ncps.wirings object, got {type(ncps_wiring).__name__}")
    name = type(ncps_wiring).__name__
    w = ncps_wiring
    if name == "AutoNCP":
        ours: Wiring = AutoNCP(w.units, w._output_size, w._sparsity_level, w._seed)
        ours._rng.set_state(w._rng.get_state())
    elif name == "NCP":
        ours = NCP(w._num_inter_neurons, w._num_command_neurons, w._num_motor_neurons, w._sensory_fanout,
                   w._inter_fanout, w._recurrent_command_synapses, w._motor_fanin)
        ours._rng.set_state(w._rng.get_state())
    elif name == "FullyConnected":
        ours = FullyConnected(w.units, w.output_dim, w._erev_init_seed, w.self_connections)
        ours._rng.bit_generator.state = w._rng.bit_generator.state
    elif name == "Random":
        ours = Random(w.units, w.output_dim, w.sparsity_level, w._random_seed)
        ours._rng.bit_generator.state = w._rng.bit_generator.state
    else:
        ours = Wiring(w.units, w.output_dim)
    ours.adjacency_matrix = np.asarray(w.adjacency_matrix, dtype=np.int32).copy()
    if w.input_dim is not None:
        ours.set_input_dim(int(w.input_dim))
        ours.sensory_adjacency_matrix = np.asarray(w.sensory_adjacency_matrix, dtype=np.int32).copy()
    return ours


def as_wiring(wiring: Any, input_dim: int | None = None) -> Any:
    """``wiring`` itself, or for an ``ncps.wirings`` object the equivalent navlnn :class:`Wiring`.

    As ncps's modules do, an unbuilt ncps object is built in place for ``input_dim`` first (so its
    own ``sensory_adjacency_matrix`` and synapse counts are there afterwards); the result has the
    same matrices. A built one is left as it is (ncps would draw a second set of synapses into a
    shared NCP). Anything else is returned unchanged for the caller to check.
    """
    if not is_ncps_wiring(wiring):
        return wiring
    if input_dim is not None and not wiring.is_built():
        wiring.build(input_dim)
    return wiring_from_ncps(wiring)
