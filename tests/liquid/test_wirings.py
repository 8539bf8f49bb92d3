"""Wirings: exact adjacency parity with ncps.wirings, dict round-trip, drawing, bad input."""

import numpy as np
import pytest
import torch

from navlnn.liquid import NCP, AutoNCP, FullyConnected, Random, Wiring, wiring_from_dict, wiring_from_ncps

nw = pytest.importorskip("ncps.wirings")


def _same(ours: Wiring, theirs) -> None:
    np.testing.assert_array_equal(ours.adjacency_matrix, theirs.adjacency_matrix)
    np.testing.assert_array_equal(ours.sensory_adjacency_matrix, theirs.sensory_adjacency_matrix)
    assert ours.output_dim == theirs.output_dim


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("units,outputs,sparsity,inputs", [(34, 4, 0.5, 64), (19, 2, 0.3, 5), (50, 10, 0.8, 16)])
def test_autoncp_matches_ncps(seed, units, outputs, sparsity, inputs):
    ours, theirs = AutoNCP(units, outputs, sparsity, seed), nw.AutoNCP(units, outputs, sparsity, seed)
    ours.build(inputs)
    theirs.build(inputs)
    _same(ours, theirs)


@pytest.mark.parametrize("seed", range(6))
def test_ncp_matches_ncps(seed):
    args = (18, 12, 4, 6, 4, 6, 4)
    ours, theirs = NCP(*args, seed=seed), nw.NCP(*args, seed=seed)
    ours.build(32)
    theirs.build(32)
    _same(ours, theirs)
    assert ours.get_neurons_of_layer(0) == theirs.get_neurons_of_layer(0)
    assert [ours.get_type_of_neuron(i) for i in range(34)] == [theirs.get_type_of_neuron(i) for i in range(34)]


@pytest.mark.parametrize("seed", range(4))
def test_random_and_fully_connected_match_ncps(seed):
    ours, theirs = Random(12, 3, 0.4, seed), nw.Random(12, 3, 0.4, seed)
    ours.build(7)
    theirs.build(7)
    _same(ours, theirs)
    ours, theirs = FullyConnected(9, 2, seed, self_connections=False), nw.FullyConnected(9, 2, seed, False)
    ours.build(4)
    theirs.build(4)
    _same(ours, theirs)


def test_different_seeds_give_different_circuits():
    a, b = AutoNCP(34, 4, seed=1), AutoNCP(34, 4, seed=2)
    a.build(16)
    b.build(16)
    assert a != b


@pytest.mark.parametrize("wiring", [AutoNCP(34, 4, seed=3), NCP(6, 5, 2, 3, 2, 4, 2), Random(8, 2, 0.5), FullyConnected(5)])
def test_dict_round_trip_through_weights_only_checkpoint(wiring, tmp_path):
    wiring.build(10)
    path = tmp_path / "w.pt"
    torch.save({"wiring": wiring.to_dict()}, path)
    loaded = wiring_from_dict(torch.load(path, weights_only=True)["wiring"])
    assert type(loaded) is type(wiring)
    assert loaded == wiring
    np.testing.assert_array_equal(loaded.sensory_adjacency_matrix, wiring.sensory_adjacency_matrix)
    assert loaded.num_layers == wiring.num_layers


def test_unbuilt_wiring_round_trips():
    wiring = AutoNCP(20, 3)
    loaded = wiring_from_dict(wiring.to_dict())
    assert not loaded.is_built() and loaded.units == 20


def test_wiring_from_ncps_copies_matrices():
    theirs = nw.AutoNCP(20, 3, seed=5)
    theirs.build(6)
    ours = wiring_from_ncps(theirs)
    _same(ours, theirs)
    assert isinstance(ours, AutoNCP)


def test_draw_writes_png(tmp_path):
    cv2 = pytest.importorskip("cv2")
    wiring = AutoNCP(34, 4, seed=0)
    wiring.build(8)
    path = wiring.draw(tmp_path / "circuit.png")
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] > 200 and image.shape[1] > 200
    # both synapse colours appear (green-ish excitatory, red-ish inhibitory)
    b, g, r = image[..., 0].astype(int), image[..., 1].astype(int), image[..., 2].astype(int)
    assert ((g - r > 60) & (g - b > 40)).sum() > 50
    assert ((r - g > 80) & (r - b > 80)).sum() > 50


def test_draw_unbuilt_wiring_is_refused(tmp_path):
    with pytest.raises(ValueError, match="build"):
        AutoNCP(20, 3).draw(tmp_path / "x.png")


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: AutoNCP(10, 8), "output_size"),
        (lambda: AutoNCP(10, 2, sparsity_level=0.05), "sparsity_level"),
        (lambda: AutoNCP(10, 2, sparsity_level=1.5), "sparsity_level"),
        (lambda: NCP(4, 3, 2, sensory_fanout=5, inter_fanout=2, recurrent_command_synapses=1, motor_fanin=2), "sensory_fanout"),
        (lambda: NCP(4, 3, 2, sensory_fanout=2, inter_fanout=4, recurrent_command_synapses=1, motor_fanin=2), "inter_fanout"),
        (lambda: NCP(4, 3, 2, sensory_fanout=2, inter_fanout=2, recurrent_command_synapses=1, motor_fanin=5), "motor_fanin"),
        (lambda: NCP(0, 3, 2, 1, 1, 1, 1), "inter"),
        (lambda: Random(5, 3, sparsity_level=1.0), "sparsity_level"),
        (lambda: FullyConnected(4, output_dim=6), "output_dim"),
        (lambda: FullyConnected(-3), "units"),
    ],
)
def test_impossible_wirings_name_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_rebuild_with_other_input_width_is_refused():
    wiring = AutoNCP(20, 3)
    wiring.build(8)
    wiring.build(8)  # same width: no-op
    with pytest.raises(ValueError, match="input_dim"):
        wiring.build(9)


def test_bad_wiring_dict():
    with pytest.raises(ValueError, match="unknown wiring kind"):
        wiring_from_dict({"kind": "Nope", "params": {}, "adjacency_matrix": []})
    with pytest.raises(ValueError, match="not a wiring dict"):
        wiring_from_dict({"units": 3})
