"""Writes one checkpoint per model config with the release before the navlnn/nn split (run it from a
checkout of that release: `python make.py <checkout> <this folder>`), and the actions each gives on
fixed frames: the fixture of tests/policies/test_previous_release.py."""
import json, sys
from pathlib import Path
import torch
root = Path(sys.argv[1]); out = Path(sys.argv[2])
sys.path.insert(0, str(root))
import navlnn; assert navlnn.__file__.startswith(str(root))
from hydra import compose, initialize_config_dir
from navlnn.nn.policy import build_policy
from navlnn.nn.checkpoint import save_checkpoint
HW = (24, 32)
actions = {}
for path in sorted((root / "conf/model").glob("*.yaml")):
    name = path.stem
    with initialize_config_dir(config_dir=str(root / "conf"), version_base="1.3"):
        cfg = compose(config_name="wiring", overrides=[f"+model={name}", "model.trunk.channels=[4,4,4,4,4]", "model.trunk.feature_dim=8"]).model
    torch.manual_seed(0)
    policy = build_policy(cfg, HW).eval()
    gen = torch.Generator().manual_seed(1)
    frames = torch.randint(0, 256, (2, 3, *HW, 3), dtype=torch.uint8, generator=gen)
    dt = torch.full((2, 3), 1 / 15)
    with torch.no_grad():
        a, _ = policy(frames, dt)
    save_checkpoint(out / f"{name}.pt", policy, {"epoch": 0})
    actions[name] = a.tolist()
    print(name, sum(p.numel() for p in policy.parameters()), (out / f"{name}.pt").stat().st_size)
(out / "actions.json").write_text(json.dumps({"image_hw": HW, "frames_seed": 1, "actions": actions}))
