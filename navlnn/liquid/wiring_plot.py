"""Draw a wiring: navlnn's picture with sensory, inter, command and motor neurons in columns
(:func:`draw_wiring`, ``wiring.draw(path)``), and ncps's networkx drawing (:func:`draw_graph`,
``wiring.draw_graph()``).

This module imports the wirings, never the reverse: ``navlnn.liquid`` hands these functions to
:func:`navlnn.liquid.wirings.use_drawing`, behind the methods (see the note in ``wirings.py``).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from navlnn.liquid.wirings import Wiring

EXCITATORY_COLOR = "#2e9e44"
INHIBITORY_COLOR = "#d1383d"
NEURON_COLORS = {"sensory": "#9a9a3a", "inter": "#3a76c4", "command": "#8e5bc2", "motor": "#e08a1e"}
COLUMN_ORDER = ("sensory", "inter", "command", "motor")


def _column_positions(wiring: Wiring) -> tuple[dict[str, list[int]], dict[tuple[str, int], tuple[float, float]]]:
    columns: dict[str, list[int]] = {"sensory": list(range(wiring.input_dim or 0))}
    for neuron in range(wiring.units):
        columns.setdefault(wiring.get_type_of_neuron(neuron), []).append(neuron)
    present = [c for c in COLUMN_ORDER if columns.get(c)]
    tallest = max(len(columns[c]) for c in present)
    positions: dict[tuple[str, int], tuple[float, float]] = {}
    for x, column in enumerate(present):
        ids = columns[column]
        ys = np.linspace(0, tallest - 1, len(ids)) if len(ids) > 1 else [0.5 * (tallest - 1)]
        for neuron, y in zip(ids, ys):
            positions[(column, neuron)] = (float(x), float(tallest - 1 - y))
    return {c: columns[c] for c in present}, positions


def draw_wiring(wiring: Wiring, path: str | os.PathLike, title: str | None = None, dpi: int = 150) -> str:
    """Write a PNG of the circuit and return its path.

    Neurons are columns (sensory / inter / command / motor); excitatory synapses
    are green, inhibitory red; synapses within a column are drawn as arcs.
    The file is written atomically (temporary file, then rename).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    if not wiring.is_built():
        raise ValueError("wiring is not built: call wiring.build(input_dim) (or build a CfC/LTC with it) first")
    columns, pos = _column_positions(wiring)
    kind_of = {n: wiring.get_type_of_neuron(n) for n in range(wiring.units)}
    tallest = max(len(v) for v in columns.values())
    fig, ax = plt.subplots(figsize=(2.4 * len(columns) + 1.5, max(4.0, 0.22 * tallest + 1.5)))

    def edge(src: tuple[str, int], dst: tuple[str, int], polarity: int) -> None:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        same_column = src[0] == dst[0]
        style = "arc3,rad=0.5" if same_column else "arc3,rad=0.0"
        if src == dst:
            ax.add_patch(plt.Circle((x0 + 0.12, y0), 0.12, fill=False, lw=0.8,
                                    color=EXCITATORY_COLOR if polarity > 0 else INHIBITORY_COLOR, alpha=0.7))
            return
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), connectionstyle=style, arrowstyle="-|>",
                                     mutation_scale=7, lw=0.6, alpha=0.55, shrinkA=5, shrinkB=5,
                                     color=EXCITATORY_COLOR if polarity > 0 else INHIBITORY_COLOR))

    sensory = wiring.sensory_adjacency_matrix
    for src, dst in zip(*np.nonzero(sensory)):
        edge(("sensory", int(src)), (kind_of[int(dst)], int(dst)), int(sensory[src, dst]))
    adjacency = wiring.adjacency_matrix
    for src, dst in zip(*np.nonzero(adjacency)):
        edge((kind_of[int(src)], int(src)), (kind_of[int(dst)], int(dst)), int(adjacency[src, dst]))

    for column, ids in columns.items():
        xs = [pos[(column, n)][0] for n in ids]
        ys = [pos[(column, n)][1] for n in ids]
        ax.scatter(xs, ys, s=90, color=NEURON_COLORS.get(column, "gray"), zorder=3, edgecolors="black", linewidths=0.5)
        ax.text(xs[0], tallest + 0.2, f"{column}\n({len(ids)})", ha="center", va="bottom", fontsize=10)

    ax.legend(handles=[Line2D([0], [0], color=EXCITATORY_COLOR, label="excitatory"),
                       Line2D([0], [0], color=INHIBITORY_COLOR, label="inhibitory")],
              loc="lower center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(-1.0, tallest + 1.0)
    ax.axis("off")
    ax.set_title(title or f"{wiring!r}", fontsize=9, pad=28, wrap=True)
    fig.tight_layout()
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=directory)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def draw_graph(
    wiring: Wiring,
    layout: str = "shell",
    neuron_colors: dict[str, str] | None = None,
    synapse_colors: str | dict[str, str] | None = None,
    draw_labels: bool = False,
) -> list:
    """Draw ``wiring.get_graph()`` on the current matplotlib axes with networkx (ncps's ``draw_graph``).

    Returns legend handles, one per neuron type.
    """
    import matplotlib.patches as mpatches
    import networkx as nx

    layouts = {
        "kamada": nx.kamada_kawai_layout,
        "circular": nx.circular_layout,
        "random": nx.random_layout,
        "shell": nx.shell_layout,
        "spring": nx.spring_layout,
        "spectral": nx.spectral_layout,
        "spiral": nx.spiral_layout,
    }
    if layout not in layouts:
        raise ValueError(f"layout: unknown '{layout}'; valid layouts: {list(layouts)}")
    if isinstance(synapse_colors, str):
        synapse_colors = {"excitatory": synapse_colors, "inhibitory": synapse_colors}
    synapse_colors = {"excitatory": "tab:green", "inhibitory": "tab:red", **(synapse_colors or {})}
    colors = {"inter": "tab:blue", "motor": "tab:orange", "sensory": "tab:olive"}
    colors.update(neuron_colors or {})
    graph = wiring.get_graph()
    pos = layouts[layout](graph)
    for node, data in graph.nodes(data=True):
        nx.draw_networkx_nodes(graph, pos, [node], node_color=colors.get(data["neuron_type"], "tab:blue"))
    if draw_labels:
        nx.draw_networkx_labels(graph, pos)
    for src, dest, data in graph.edges(data=True):
        nx.draw_networkx_edges(graph, pos, [(src, dest)], edge_color=synapse_colors[data["polarity"]])
    return [mpatches.Patch(color=color, label=f"{kind.capitalize()} neurons") for kind, color in colors.items()]
