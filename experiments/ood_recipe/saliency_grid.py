"""Where each arm's policy looks: VisualBackProp saliency of several checkpoints on the same frames.

    python experiments/ood_recipe/saliency_grid.py --out experiments/ood_recipe/results/saliency.png \
        --checkpoint baseline=outputs/ood_recipe/train/baseline/ncp_cfc-seed0/checkpoints/best.pt \
        --checkpoint erasing=outputs/ood_recipe/train/erasing/ncp_cfc-seed0/checkpoints/best.pt

The expert flies one layout per scene (``navlnn eval`` seeds of ``--seed``; the default 1 is the
summer validation's, never the test's) and records its onboard frames and the sign's pixel mask;
the frame where the sign is largest (up to ``--max-share`` of the flight) is shown raw, then with
each checkpoint's saliency, all on the same pixels. Each tile's caption gives the target
attention on that frame (saliency share on the sign over its pixel share; 1 = chance).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from envs import DroneNavEnv
from envs.expert import Expert
from navlnn.evaluation.saliency import saliency_maps, target_attention
from navlnn.evaluation.video import saliency_overlay
from navlnn.policies.checkpoint import load_policy
from navlnn.policies.trunk import unit_scale
from navlnn.rollout import ExpertActor, FrameRecorder, rollout
from navlnn.rollout.seeds import eval_seeds

SCALE = 3          # tile upscaling, pixels per camera pixel
CAPTION_PX = 22    # caption band above each tile
ALPHA = 0.75       # saliency overlay strength


def sign_frame(scene: str, seed: int, max_share: float) -> tuple[np.ndarray, np.ndarray]:
    """The expert's onboard frame of ``scene`` at the layout of ``seed`` where the sign is largest, and its mask."""
    env = DroneNavEnv(scene=scene, task="fly_to_target")
    out = rollout(env, ExpertActor(Expert(env)), seed, [FrameRecorder(images=True, target_mask=True)])["frames"]
    env.close()
    images, masks = out["images"], out["target_mask"]
    last = max(1, int(max_share * len(images)))
    k = int(np.argmax(masks[:last].reshape(last, -1).sum(1)))
    return images[k], masks[k]


def caption(tile: np.ndarray, text: str) -> np.ndarray:
    band = np.full((CAPTION_PX, tile.shape[1], 3), 20, np.uint8)
    cv2.putText(band, text, (4, CAPTION_PX - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (235, 235, 235), 1, cv2.LINE_AA)
    return np.concatenate([band, tile])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", action="append", required=True, help="label=path, once per column")
    parser.add_argument("--scenes", nargs="+", default=["summer", "fall", "urban"])
    parser.add_argument("--seed", type=int, default=1, help="navlnn eval seed of the layout (1: validation's)")
    parser.add_argument("--episode", type=int, default=0, help="which layout of that seed")
    parser.add_argument("--max-share", type=float, default=0.7, help="pick the frame from this first share of the flight")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    columns = [c.split("=", 1) for c in args.checkpoint]
    if any(len(c) != 2 for c in columns):
        parser.error("--checkpoint: expected label=path")
    policies = [(label, load_policy(path).eval()) for label, path in columns]
    seed = eval_seeds(args.seed, args.episode + 1)[args.episode]
    rows = []
    for scene in args.scenes:
        frame, mask = sign_frame(scene, seed, args.max_share)
        big = lambda img: cv2.resize(img, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_NEAREST)  # noqa: E731
        tiles = [caption(big(frame), f"{scene}: onboard frame")]
        for label, policy in policies:
            raw = saliency_maps(policy, frame[None], scale=False)
            sal = unit_scale(torch.from_numpy(raw))[0].numpy()
            attention = target_attention(raw[0], mask)
            tiles.append(caption(big(saliency_overlay(frame, sal, ALPHA)), f"{label}: target attention {attention:.1f}x"))
        rows.append(np.concatenate(tiles, axis=1))
    grid = np.concatenate(rows, axis=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), grid[..., ::-1])
    print(f"wrote {args.out} ({len(args.scenes)} scenes x {len(policies)} checkpoints, layout {seed})")


if __name__ == "__main__":
    main()
