"""A PNG gallery of the scenes: each scene's onboard and chase views side by side.

``python -m envs.gallery --out scenes.png`` (or ``navlnn scenes``) writes it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from envs.drone_nav import DroneNavEnv
from envs.scene import is_scene_file, modifier_names, resolve_scene, scene_names

LABEL_HEIGHT = 22  # px, band above each row holding its name


def default_scenes() -> list[str]:
    """Every scene, then every modifier applied to ``summer``."""
    return scene_names() + [f"summer+{m}" for m in modifier_names()]


def scene_views(scene: str, task: str = "fly_to_target", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Onboard image and chase image of the first frame of an episode."""
    env = DroneNavEnv(scene=scene, task=task, render_mode="rgb_array")
    try:
        obs, _ = env.reset(seed=seed)
        return obs, env.render()
    finally:
        env.close()


def gallery_image(scenes: Sequence[str], task: str = "fly_to_target", seed: int = 0) -> np.ndarray:
    """One RGB image: a row per scene, onboard view (enlarged) on the left, chase view right."""
    rows = []
    for name in scenes:
        onboard, chase = scene_views(name, task, seed)
        h = chase.shape[0]
        w = round(onboard.shape[1] * h / onboard.shape[0])
        big = cv2.resize(onboard, (w, h), interpolation=cv2.INTER_NEAREST)
        row = np.concatenate([big, np.full((h, 4, 3), 255, np.uint8), chase], axis=1)
        label = np.full((LABEL_HEIGHT, row.shape[1], 3), 255, np.uint8)
        title = resolve_scene(name)["full_name"] if is_scene_file(name) or not isinstance(name, str) else name
        text = f"{title}   onboard {onboard.shape[1]}x{onboard.shape[0]} | chase   (task {task}, seed {seed})"
        cv2.putText(label, text, (6, LABEL_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
        rows.append(np.concatenate([label, row], axis=0))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(rows, axis=0)


def write_gallery(out: str | Path = "scenes.png", scenes: Sequence[str] | None = None, task: str = "fly_to_target",
                  seed: int = 0) -> Path:
    """Write the gallery PNG and return its path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    img = gallery_image(list(scenes) if scenes else default_scenes(), task, seed)
    if not cv2.imwrite(str(out), img[..., ::-1]):
        raise OSError(f"could not write {out}")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m envs.gallery [--out scenes.png] [--scenes a b ...] [--task T] [--seed N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="scenes.png", help="PNG file to write")
    parser.add_argument("--scenes", nargs="*", default=None,
                        help="scene names or scene YAML files of your own, e.g. summer winter+fog my/desert.yaml")
    parser.add_argument("--task", default="fly_to_target")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(write_gallery(args.out, args.scenes, args.task, args.seed).resolve())


if __name__ == "__main__":
    main()
