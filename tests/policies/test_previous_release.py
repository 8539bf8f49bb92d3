"""Checkpoints of the release before the liquid core and the policies moved (``navlnn/nn``) still
load, and give the actions they gave then; the old import paths still work, with a warning."""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from pathlib import Path

import pytest
import torch

from navlnn.policies.checkpoint import load_policy, read_checkpoint

FIXTURE = Path(__file__).with_name("previous_release")
RECORDED = json.loads((FIXTURE / "actions.json").read_text())


@pytest.mark.parametrize("name", sorted(RECORDED["actions"]))
def test_a_previous_release_checkpoint_loads_and_acts_as_it_did(name):
    path = FIXTURE / f"{name}.pt"
    assert read_checkpoint(path)["model"]["head"]["_target_"].startswith("navlnn.nn."), "the fixture lost its subject"
    policy = load_policy(path).eval()
    gen = torch.Generator().manual_seed(RECORDED["frames_seed"])
    frames = torch.randint(0, 256, (2, 3, *RECORDED["image_hw"], 3), dtype=torch.uint8, generator=gen)
    with torch.no_grad():
        actions, _ = policy(frames, torch.full((2, 3), 1 / 15))
    torch.testing.assert_close(actions, torch.tensor(RECORDED["actions"][name]), rtol=1e-5, atol=1e-6)


def test_the_fixture_covers_every_model_config():
    conf = Path(__file__).resolve().parents[2] / "conf" / "model"
    assert {p.stem for p in conf.glob("*.yaml")} == set(RECORDED["actions"])


@pytest.mark.parametrize("old, new", [
    ("navlnn.nn.cfc", "navlnn.liquid.cfc"),
    ("navlnn.nn.wirings", "navlnn.liquid.wirings"),
    ("navlnn.nn.heads", "navlnn.policies.heads"),
    ("navlnn.nn.baselines", "navlnn.policies.heads"),
    ("navlnn.nn.checkpoint", "navlnn.policies.checkpoint"),
    ("navlnn.nn.perception", "navlnn.policies.trunk"),
])
def test_old_module_paths_are_the_new_modules_with_a_deprecation_warning(old, new):
    for name in [m for m in sys.modules if m == "navlnn.nn" or m.startswith("navlnn.nn.")]:
        del sys.modules[name]
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_old_package_names_still_import():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from navlnn.nn import CfC, NCP
        from navlnn.nn.heads import LiquidHead, RecurrentHead, TCNHead  # noqa: F401
    from navlnn.liquid import CfC as new_cfc
    assert CfC is new_cfc and NCP.__module__ == "navlnn.liquid.wirings"
    assert LiquidHead.__module__ == "navlnn.policies.heads.liquid"


def test_the_training_loss_keeps_its_old_name_with_a_warning():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
    from synthetic_windows import Windows, small_policy

    from navlnn.training import loop

    policy, data = small_policy(0), Windows(6, seed=1)
    loss_fn = loop._loss_fn(loop.TrainConfig())
    with pytest.warns(DeprecationWarning, match="use validation_loss"):
        old = loop.evaluate(policy, data, 4, loss_fn)
    assert old == loop.validation_loss(policy, data, 4, loss_fn) > 0
