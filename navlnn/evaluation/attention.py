"""Attention recording: where a policy looks during a flight, registered with the rollout layer.

Importing this module registers :class:`AttentionRecorder` as the recorder ``attention``
(:func:`navlnn.rollout.recorders.register_recorder`); jobs with ``FlyOptions(attention=True)``
get it, in this process and in worker processes (the pool hands its spawned workers this module's
name, :func:`navlnn.rollout.recorders.recorder_providers`, and each imports it before flying).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Optional

import numpy as np

from navlnn.evaluation.saliency import saliency_maps, saliency_ssim, target_attention
from navlnn.rollout.actors import Decision, image_of
from navlnn.rollout.recorders import Recorder, register_recorder
from navlnn.rollout.seeds import ATTENTION_STREAM, attention_rng

__all__ = ["ATTENTION_STREAM", "AttentionRecorder", "attention_recorder"]


class AttentionRecorder(Recorder):
    """Where the policy looks, per step: ``target_attention`` and ``saliency_ssim`` (see
    :mod:`navlnn.evaluation.saliency`), on the steps whose frame reached the policy.

    ``target_attention`` is measured on the clean onboard frame (the target's pixel mask comes
    from the env, :meth:`envs.drone_nav.DroneNavEnv.target_mask`, in that frame's geometry);
    ``saliency_ssim`` compares the clean frame's saliency with the saliency of the frame as the
    policy saw it (the evaluation's image stress), or, with ``perturb``, of the clean frame
    perturbed by it (random numbers from ``default_rng([seed, ATTENTION_STREAM])``, apart from the
    episode's own). The policy is called beside the flight, never instead of it: the episode is
    the same with or without this recorder. Its result maps both names to ``(T,)`` float arrays
    (NaN where not measured: frame dropped, target not seen, no saliency).
    """

    name = "attention"

    def __init__(self, policy: Any, perturb: Any = None) -> None:
        self.policy, self.perturb = policy, perturb

    def start(self, env: Any, seed: int, obs: Any, info: Mapping) -> None:
        self.env = env.unwrapped
        self.env.track_target_mask = True  # the mask of each frame from its own render (no extra render)
        self.rng = attention_rng(seed) if self.perturb is not None else None
        self.kept: dict[str, list[float]] = {"target_attention": [], "saliency_ssim": []}

    def step(self, obs: Any, info: Mapping, decision: Decision) -> None:
        if not decision.frame_used:
            for values in self.kept.values():
                values.append(math.nan)
            return
        clean = np.asarray(image_of(obs), np.uint8)
        seen = self.perturb(clean, self.rng) if self.perturb is not None else np.asarray(decision.frame, np.uint8)
        same = seen is clean or np.array_equal(seen, clean)
        maps = saliency_maps(self.policy, clean[None] if same else np.stack([clean, seen]), scale=False)
        self.kept["target_attention"].append(target_attention(maps[0], self.env.target_mask()))
        self.kept["saliency_ssim"].append(1.0 if same else saliency_ssim(maps[0], maps[1]))

    def finish(self, env: Any, info: Mapping, outcome: str) -> dict[str, np.ndarray]:
        self.env.track_target_mask = False
        self.env = None
        return {k: np.asarray(v, np.float64) for k, v in self.kept.items()}


def attention_recorder(policy: Any, options: Any) -> Optional[AttentionRecorder]:
    """The attention recorder of a flight with ``options`` (None for the expert alone: nothing looks)."""
    if policy is None:
        return None
    return AttentionRecorder(policy, options.attention_perturb)


register_recorder(AttentionRecorder.name, attention_recorder)
