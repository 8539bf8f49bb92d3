"""The old import paths of the moved modules still work for one release, with a DeprecationWarning,
and give the very objects of the new homes; the seed scheme is unchanged."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from navlnn.rollout.collect import CollectSpec, episode_plan
from navlnn.rollout.seeds import SEED_BITS, eval_seeds

CHECK = """
import importlib, warnings
old, new, names = {old!r}, {new!r}, {names!r}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    module = importlib.import_module(old)
assert any(issubclass(w.category, DeprecationWarning) and new.split(":")[0] in str(w.message) for w in caught), caught
for name in names:
    home, _, attr = name.rpartition(".")
    assert getattr(module, attr) is getattr(importlib.import_module(home), attr), name
print("ok")
"""

MOVED = [
    ("navlnn.evaluation.evaluate", "navlnn.evaluation.plan",
     ["navlnn.evaluation.plan.plan", "navlnn.evaluation.plan.BadInput", "navlnn.evaluation.plan.check_env_fits",
      "navlnn.evaluation.plan.plan_jobs", "navlnn.evaluation.plan.scene_label", "navlnn.evaluation.run.evaluate",
      "navlnn.evaluation.run.parse_shard", "navlnn.evaluation.run.shard_jobs", "navlnn.evaluation.report.Result",
      "navlnn.evaluation.report.write_report", "navlnn.evaluation.report.write_csv",
      "navlnn.evaluation.report.markdown_table", "navlnn.rollout.seeds.eval_seeds",
      "navlnn.rollout.seeds.EVAL_SEED_OFFSET"]),
    ("navlnn.evaluation.stress", "navlnn.rollout.perturbations",
     ["navlnn.rollout.perturbations.ImagePerturbation", "navlnn.rollout.perturbations.FrameTiming",
      "navlnn.rollout.perturbations.roll"]),
    ("navlnn.data.collect", "navlnn.rollout.collect",
     ["navlnn.rollout.collect.collect", "navlnn.rollout.collect.CollectSpec", "navlnn.rollout.collect.episode_plan",
      "navlnn.rollout.seeds.SEED_BITS"]),
    ("navlnn.settings", "navlnn.rollout.noise", ["navlnn.rollout.noise.known_keys"]),
]


def test_old_import_paths_warn_and_give_the_new_objects():
    for old, new, names in MOVED:  # a fresh interpreter each: the warning comes on the first import
        code = CHECK.format(old=old, new=new, names=names)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and out.stdout.strip() == "ok", f"{old}: {out.stderr[-1500:]}"


def test_the_attention_recorder_moved_out_of_the_rollout_layer_with_a_warning():
    import navlnn.rollout.recorders as recorders
    from navlnn.evaluation.attention import AttentionRecorder
    from navlnn.rollout.seeds import ATTENTION_STREAM

    with pytest.warns(DeprecationWarning, match="navlnn.evaluation.attention"):
        assert recorders.AttentionRecorder is AttentionRecorder
    with pytest.warns(DeprecationWarning, match="navlnn.rollout.seeds"):
        assert recorders.ATTENTION_STREAM == ATTENTION_STREAM == 2
    with pytest.raises(AttributeError):
        recorders.Nothing


def test_evaluation_and_collection_seeds_are_disjoint_and_unchanged():
    seeds = eval_seeds(0, 50)
    assert seeds[:2] == [2**31 + int(np.random.default_rng([0, i]).integers(2**31)) for i in range(2)]
    spec = CollectSpec(scene={}, modifiers=[], task={}, drone={}, expert={},
                       noise={"episode_fraction": 0.5, "std": [0.1] * 4, "magnitude": [0.5, 1.0], "time_constant": 0.5,
                              "schedule": "constant", "burst_on_s": [1, 2], "burst_off_s": [1, 2], "ramp_s": 2.0},
                       start={}, seed=0)
    collected = [episode_plan(spec, i)["env_seed"] for i in range(50)]
    assert collected[0] == int(np.random.default_rng([0, 0]).integers(2**31))  # the first draw of ([seed, i])
    assert max(collected) < 2**SEED_BITS <= min(seeds)
