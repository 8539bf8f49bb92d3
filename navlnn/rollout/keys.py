"""The job key: the name a flown job is cached under, so that finished work is found again.

A :class:`JobKey` is an explicit record of what decides a job's flight and what its cached file
holds, field by field:

* ``version``: :data:`KEY_VERSION`, raised whenever the record's meaning changes;
* ``checkpoint``: who flies: None for the expert alone, else the checkpoint's ``path``, the
  camera ``image_hw`` it was asked for, and the file's ``size`` and ``mtime_ns`` (a retrained
  checkpoint at the same path is a new job);
* ``env``: the env's keyword arguments (scene, task, drone);
* ``seed``: the episode's env seed;
* ``options``: every :class:`~navlnn.rollout.specs.FlyOptions` field by name (the expert and its
  share ``beta``, the image perturbation and frame timing, what is recorded, the attention probe);
* ``tags``: the labels the flight carries into its file (model, scene, task, episode).

The key is the first :data:`KEY_CHARS` hex digits of the SHA-256 of the record as canonical
JSON (sorted keys, no spaces). Each field is written out by name below, so renaming a
``FlyOptions`` field fails loudly here instead of silently changing every key.

Caches written before this record existed are named by :func:`legacy_job_key`, a frozen copy of
the old algorithm (the ``repr`` of the job); the one migration is in
:func:`navlnn.evaluation.run.find_cached`: a job missing under its key is looked up under its
legacy key, and a file found there is renamed to the new key.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields
from typing import Any, Optional

from navlnn.rollout.flight import plain_json
from navlnn.rollout.perturbations import FrameTiming, ImagePerturbation
from navlnn.rollout.specs import CheckpointPolicy, EnvFactory, FlyOptions, Job

KEY_VERSION = 2  # version 1: the legacy repr-based key (legacy_job_key)
KEY_CHARS = 20  # hex digits of the SHA-256 in a key (80 bits)


@dataclass(frozen=True)
class JobKey:
    """What decides a job's flight and its cached file (see the module docstring for each field)."""

    version: int
    checkpoint: Optional[dict]
    env: dict
    seed: int
    options: dict
    tags: dict

    @classmethod
    def of(cls, job: Job) -> "JobKey":
        """The key record of ``job`` (its policy: None or a :class:`CheckpointPolicy`; its env an :class:`EnvFactory`)."""
        if not isinstance(job.env, EnvFactory):
            raise TypeError(f"job key: a job's env must be an EnvFactory to be cached, got {type(job.env).__name__}")
        return cls(KEY_VERSION, _checkpoint(job.policy), json.loads(job.env.kwargs_json), int(job.seed),
                   flight_options(job.options), {str(k): v for k, v in job.tags})

    def canonical(self) -> str:
        """The record as canonical JSON: sorted keys, no spaces, plain values."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), default=plain_json)

    def digest(self) -> str:
        """The key: the first :data:`KEY_CHARS` hex digits of the SHA-256 of :meth:`canonical`."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:KEY_CHARS]


def job_key(job: Job) -> str:
    """The cache key of ``job`` (:class:`JobKey`, versioned)."""
    return JobKey.of(job).digest()


def _stat(path: str) -> tuple[Optional[int], Optional[int]]:
    if not os.path.exists(path):
        return None, None
    st = os.stat(path)
    return int(st.st_size), int(st.st_mtime_ns)


def _checkpoint(policy: Any) -> Optional[dict]:
    if policy is None:
        return None
    if not isinstance(policy, CheckpointPolicy):
        raise TypeError(f"job key: a job's policy must be None (the expert) or a CheckpointPolicy to be cached, "
                        f"got {type(policy).__name__}; fly it without a cache, or save it as a checkpoint")
    size, mtime_ns = _stat(policy.path)
    hw = None if policy.image_hw is None else [int(v) for v in policy.image_hw]
    return {"path": str(policy.path), "image_hw": hw, "size": size, "mtime_ns": mtime_ns}


def perturbation_fields(p: ImagePerturbation) -> dict:
    """An image perturbation by field name."""
    return {"roll_deg": float(p.roll_deg), "brightness": float(p.brightness), "contrast": float(p.contrast),
            "saturation": float(p.saturation), "noise": float(p.noise), "blur": float(p.blur)}


def timing_fields(t: FrameTiming) -> dict:
    """A frame timing by field name."""
    return {"drop": float(t.drop), "jitter": float(t.jitter)}


def flight_options(o: FlyOptions) -> dict:
    """Every flight option by name, as the key records it."""
    return {"expert": None if o.expert is None else {"params": json.loads(o.expert.params_json)},
            "beta": float(o.beta), "perturb": perturbation_fields(o.perturb), "timing": timing_fields(o.timing),
            "record_images": bool(o.record_images), "record_state": bool(o.record_state), "render": bool(o.render),
            "record_mask": bool(o.record_mask), "attention": bool(o.attention),
            "attention_perturb": None if o.attention_perturb is None else perturbation_fields(o.attention_perturb)}


# ---------------------------------------------------------------------------------------- version 1

_V1_OPTIONS = ("expert", "beta", "record_images", "record_state", "render", "perturb", "timing", "record_mask",
               "attention", "attention_perturb")  # FlyOptions' fields as version 1 printed them, in order
_V1_LATER = ("record_mask", "attention", "attention_perturb")  # left out of version 1 text when at their default
_V1_PERTURB = ("roll_deg", "brightness", "contrast", "saturation", "noise", "blur")
_V1_TIMING = ("drop", "jitter")


def _v1_value(value: Any) -> str:
    if isinstance(value, ImagePerturbation):
        return "ImagePerturbation(" + ", ".join(f"{n}={getattr(value, n)!r}" for n in _V1_PERTURB) + ")"
    if isinstance(value, FrameTiming):
        return "FrameTiming(" + ", ".join(f"{n}={getattr(value, n)!r}" for n in _V1_TIMING) + ")"
    if value is not None and hasattr(value, "params_json"):
        return f"ExpertFactory(params_json={value.params_json!r})"
    return repr(value)


def _v1_options(options: FlyOptions) -> str:
    text = "FlyOptions(" + ", ".join(f"{n}={_v1_value(getattr(options, n))}" for n in _V1_OPTIONS) + ")"
    text = text.replace("ImagePerturbation(roll_deg=0.0, ", "ImagePerturbation(")  # roll came later too
    for name in _V1_LATER:
        default = FlyOptions.__dataclass_fields__[name].default
        if getattr(options, name) == default:
            text = text.replace(f", {name}={default!r}", "")
    return text


def legacy_job_key(job: Job) -> Optional[str]:
    """The key version 1 gave ``job`` (caches written before :class:`JobKey`); None where version 1
    could not have flown it (an option it did not know, set; a policy other than a checkpoint).

    A frozen copy of the old algorithm: the SHA-256 of the ``repr`` of (policy, env factory, seed,
    options with the later options left out at their defaults, tags, checkpoint size:mtime_ns).
    """
    if any(getattr(job.options, f.name) != f.default for f in fields(FlyOptions) if f.name not in _V1_OPTIONS):
        return None
    if not isinstance(job.env, EnvFactory):
        return None
    if job.policy is None:
        policy, stamp = "None", ""
    elif isinstance(job.policy, CheckpointPolicy):
        policy = f"CheckpointPolicy(path={job.policy.path!r}, image_hw={job.policy.image_hw!r})"
        size, mtime_ns = _stat(job.policy.path)
        stamp = "" if size is None else f"{size}:{mtime_ns}"
    else:
        return None
    text = (f"({policy}, EnvFactory(kwargs_json={job.env.kwargs_json!r}), {int(job.seed)!r}, "
            f"{_v1_options(job.options)}, {tuple(job.tags)!r}, {stamp!r})")
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_CHARS]
