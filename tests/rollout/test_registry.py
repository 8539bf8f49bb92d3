"""Recorders registered above the rollout layer: by name, in this process and in spawned workers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import navlnn.evaluation  # noqa: F401  (registers the attention recorder)
from navlnn.rollout.jobs import CheckpointPolicy, FlyOptions, run
from navlnn.rollout.recorders import Recorder, make_recorder, register_recorder


def test_a_registered_recorder_is_made_by_name_and_an_unknown_name_is_named():
    made = []

    class Probe(Recorder):
        name = "probe"

    register_recorder("probe", lambda policy, options: made.append((policy, options)) or Probe())
    assert isinstance(make_recorder("probe", "p", FlyOptions()), Probe) and made == [("p", FlyOptions())]
    with pytest.raises(LookupError, match="recorder 'nope' is not registered.*register_recorder"):
        make_recorder("nope", None, FlyOptions())


def test_rollout_alone_does_not_know_attention_and_evaluation_registers_it():
    code = ("import sys\nfrom navlnn.rollout.jobs import FlyOptions\nfrom navlnn.rollout import recorders\n"
            "try:\n    recorders.make_recorder('attention', object(), FlyOptions(attention=True))\n"
            "except LookupError as e:\n    print('refused', 'navlnn.evaluation registers' in str(e))\n"
            "assert 'navlnn.evaluation' not in sys.modules\n"
            "import navlnn.evaluation\n"
            "r = recorders.make_recorder('attention', object(), FlyOptions(attention=True))\n"
            "assert recorders.make_recorder('attention', None, FlyOptions(attention=True)) is None\n"
            "print(type(r).__module__, type(r).__name__, *recorders.recorder_providers(['attention']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["refused", "True", "navlnn.evaluation.attention", "AttentionRecorder",
                                  "navlnn.evaluation.attention"]


def test_attention_in_two_spawned_workers_equals_one_process(env_factory, checkpoint):
    options = FlyOptions(attention=True)
    one = run(CheckpointPolicy(str(checkpoint)), env_factory, [21, 22], workers=1, options=options)
    two = run(CheckpointPolicy(str(checkpoint)), env_factory, [21, 22], workers=2, options=options)
    for a, b in zip(one, two):
        assert a.target_attention.shape == (a.steps,) and b.saliency_ssim.shape == (b.steps,)
        np.testing.assert_array_equal(a.target_attention, b.target_attention)
        np.testing.assert_array_equal(a.saliency_ssim, b.saliency_ssim)
        np.testing.assert_array_equal(a.action, b.action)
