"""The versioned job key: named fields, canonical JSON, every flight option in it, and the frozen
legacy key that finds caches written before it (keys the old code gave, in legacy_cache/inputs.json)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from navlnn.rollout.keys import KEY_VERSION, JobKey, job_key, legacy_job_key
from navlnn.rollout.perturbations import FrameTiming, ImagePerturbation
from navlnn.rollout.specs import CheckpointPolicy, EnvFactory, ExpertFactory, FlyOptions, Job

LEGACY = json.loads((Path(__file__).resolve().parents[1] / "evaluation" / "legacy_cache" / "inputs.json").read_text())
ENV = EnvFactory.of(scene="summer")
CKPT = CheckpointPolicy("x.pt")


def _legacy_jobs() -> dict[str, Job]:
    """The jobs whose old keys legacy_cache/inputs.json recorded (every option of the old FlyOptions)."""
    expert = ExpertFactory.of(None)
    return {
        "plain": Job(CKPT, ENV, 5),
        "expert_alone": Job(None, EnvFactory.of(scene="fall", task="fly_to_target"), 7, FlyOptions(expert=expert, beta=1.0),
                            (("kind", "expert"),)),
        "expert_params": Job(None, EnvFactory.of(scene="fall"), 7,
                             FlyOptions(expert=ExpertFactory.of({"gain": 1.5}), beta=1.0)),
        "dagger": Job(CheckpointPolicy("y.pt", (36, 64)), EnvFactory.of(scene="winter"), 2**31 + 9,
                      FlyOptions(expert=expert, beta=0.3, record_images=True, record_state=True)),
        "video": Job(CKPT, ENV, 1, FlyOptions(render=True, record_images=True, record_mask=True)),
        "stress": Job(CKPT, ENV, 5, FlyOptions(perturb=ImagePerturbation(brightness=0.1, contrast=0.9, saturation=0.5,
                                                                         noise=0.05, blur=1.0),
                                               timing=FrameTiming(drop=0.3, jitter=0.2)), (("a", 1), ("b", "x"))),
        "roll": Job(CKPT, ENV, 5, FlyOptions(perturb=ImagePerturbation(roll_deg=180.0))),
        "attention": Job(CKPT, ENV, 5, FlyOptions(attention=True)),
        "attention_probe": Job(CKPT, ENV, 5, FlyOptions(attention=True, attention_perturb=ImagePerturbation(noise=0.1))),
        "probe_only": Job(CKPT, ENV, 5, FlyOptions(attention_perturb=ImagePerturbation())),
        "tags_episode": Job(CKPT, EnvFactory.of(scene={"name": "summer", "label": "s2"}, drone={"camera": {"width": 64}}),
                            5, FlyOptions(), (("kind", "policy"), ("episode", 0))),
    }


@pytest.mark.parametrize("name", sorted(LEGACY["jobs"]))
def test_the_legacy_key_is_the_key_the_old_code_gave(name):
    job = _legacy_jobs()[name]
    assert repr(job) == LEGACY["jobs"][name]["repr"]  # the same job as then
    assert legacy_job_key(job) == LEGACY["jobs"][name]["key"]


def test_the_key_records_every_flight_option_by_name():
    record = JobKey.of(Job(CKPT, ENV, 5, FlyOptions(attention_perturb=ImagePerturbation())))
    assert set(record.options) == {f.name for f in dataclasses.fields(FlyOptions)}  # a new option must be keyed
    assert set(record.options["perturb"]) == {f.name for f in dataclasses.fields(ImagePerturbation)}
    assert set(record.options["attention_perturb"]) == {f.name for f in dataclasses.fields(ImagePerturbation)}
    assert set(record.options["timing"]) == {f.name for f in dataclasses.fields(FrameTiming)}
    text = record.canonical()
    assert json.loads(text)["version"] == KEY_VERSION and " " not in text
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("change", [
    {"seed": 6}, {"env": EnvFactory.of(scene="winter")}, {"policy": None}, {"policy": CheckpointPolicy("x.pt", (36, 64))},
    {"tags": (("a", 2),)}, {"options": FlyOptions(beta=0.5)}, {"options": FlyOptions(perturb=ImagePerturbation(noise=0.1))},
    {"options": FlyOptions(timing=FrameTiming(drop=0.1))}, {"options": FlyOptions(record_images=True)},
    {"options": FlyOptions(attention=True)}, {"options": FlyOptions(attention_perturb=ImagePerturbation())},
    {"options": FlyOptions(expert=ExpertFactory.of(None))},
])
def test_whatever_decides_the_flight_changes_the_key(change):
    base = Job(CKPT, ENV, 5, FlyOptions(), (("a", 1),))
    assert job_key(dataclasses.replace(base, **change)) != job_key(base)


def test_numbers_are_keyed_by_value_not_by_spelling():
    assert job_key(Job(CKPT, ENV, 5, FlyOptions(perturb=ImagePerturbation(noise=0)))) == \
        job_key(Job(CKPT, ENV, 5, FlyOptions(perturb=ImagePerturbation(noise=0.0))))


def test_a_rewritten_checkpoint_is_a_new_job(tmp_path):
    path = tmp_path / "c.pt"
    path.write_bytes(b"weights")
    job = Job(CheckpointPolicy(str(path)), ENV, 5)
    record = JobKey.of(job).checkpoint
    assert record["size"] == 7 and record["mtime_ns"] == path.stat().st_mtime_ns
    before = job_key(job)
    os.utime(path, ns=(1, 1))
    assert job_key(job) != before


def test_jobs_the_key_cannot_name_say_so():
    with pytest.raises(TypeError, match="CheckpointPolicy"):
        job_key(Job(lambda: None, ENV, 5))
    assert legacy_job_key(Job(lambda: None, ENV, 5)) is None
