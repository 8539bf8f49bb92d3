"""navlnn collect: noise injection, worker-independent results, resume after SIGKILL, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from _demos import quiet, tiny_spec
from envs.config import CONF_DIR
from navlnn.commands.collect import spec_from_config
from navlnn.data.format import DatasetError, read_manifest, scan_episodes
from navlnn.rollout.collect import collect, episode_plan
from navlnn.rollout.noise import InjectedNoise, NoiseParams


CLI_SMALL = ["drone.camera.width=32", "drone.camera.height=18", "progress=false"]


def _content(folder: Path) -> dict[int, dict[str, np.ndarray]]:
    out = {}
    for index, path in scan_episodes(folder).items():
        with np.load(path) as npz:
            out[index] = {k: npz[k] for k in npz.files}
    return out


def _assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for index in a:
        assert sorted(a[index]) == sorted(b[index])
        for name in a[index]:
            if name == "meta":  # identical but for nothing: compare parsed
                assert str(a[index][name]) == str(b[index][name]), f"episode {index} meta"
            else:
                assert np.array_equal(a[index][name], b[index][name]), f"episode {index} field {name}"


def test_noise_perturbs_the_executed_action_only(tmp_path):
    spec = tiny_spec(noise={**tiny_spec().noise, "episode_fraction": 1.0, "schedule": "constant"},
                     start={"fraction": 0.0})
    collect(spec, tmp_path, 2, workers=1, progress=False, log=quiet)
    for index, ep in _content(tmp_path).items():
        on = ep["noise_on"]
        assert on.all()
        differ = np.any(ep["label"] != ep["action"], axis=1)
        assert differ.mean() > 0.9
        assert np.all(np.abs(ep["action"]) <= 1.0) and np.all(np.abs(ep["label"]) <= 1.0)
        # the label is the expert's smooth command, the executed action is not
        assert np.abs(np.diff(ep["label"], axis=0)).mean() < np.abs(np.diff(ep["action"], axis=0)).mean()


def test_noise_schedules():
    base = dict(episode_fraction=1.0, std=[0.3, 0.3, 0.2, 0.3], magnitude=[1.0, 1.0], time_constant=0.5,
                burst_on_s=[0.5, 0.5], burst_off_s=[1.0, 1.0], ramp_s=2.0)
    dt = 1 / 15
    bursts = InjectedNoise(NoiseParams.from_config({**base, "schedule": "bursts"}), np.random.default_rng(0), dt, 1.0)
    on = np.array([bursts()[1] for _ in range(150)])
    assert 0.2 < on.mean() < 0.45  # 0.5 s on, 1 s off
    ramp = InjectedNoise(NoiseParams.from_config({**base, "schedule": "ramp"}), np.random.default_rng(0), dt, 1.0)
    values = np.array([ramp()[0] for _ in range(60)])
    assert np.abs(values[:5]).mean() > 0 and np.all(values[31:] == 0)  # zero from 2 s on
    const = InjectedNoise(NoiseParams.from_config({**base, "schedule": "constant", "time_constant": 0.0}),
                          np.random.default_rng(1), dt, 1.0)
    samples = np.array([const()[0] for _ in range(4000)])
    assert np.allclose(samples.std(axis=0), base["std"], rtol=0.1)
    with pytest.raises(ValueError, match="noise.schedule must be one of constant, bursts, ramp"):
        NoiseParams.from_config({**base, "schedule": "sometimes"})
    with pytest.raises(ValueError, match="noise: unknown keys sigma"):
        NoiseParams.from_config({**base, "schedule": "ramp", "sigma": 1})


def test_episode_plan_depends_on_seed_and_index_only():
    spec = tiny_spec()
    a, b = episode_plan(spec, 5), episode_plan(spec, 5)
    assert a["env_seed"] == b["env_seed"] and a["noise_magnitude"] == b["noise_magnitude"]
    assert episode_plan(spec, 6)["env_seed"] != a["env_seed"]
    assert episode_plan(tiny_spec(seed=1), 5)["env_seed"] != a["env_seed"]


def test_same_data_with_one_or_two_workers(tmp_path):
    spec = tiny_spec()
    m1 = collect(spec, tmp_path / "one", 3, workers=1, progress=False, log=quiet)
    m2 = collect(spec, tmp_path / "two", 3, workers=2, progress=False, log=quiet)
    _assert_same(_content(tmp_path / "one"), _content(tmp_path / "two"))
    assert m1["episodes"] == m2["episodes"] and m1["fingerprint"] == m2["fingerprint"]


def _cli(*args: str, cwd: Path) -> list[str]:
    return [sys.executable, "-m", "navlnn.cli", "collect", *args, *CLI_SMALL, f"hydra.run.dir={cwd / 'run'}"]


@pytest.mark.e2e
def test_resume_after_sigkill_gives_the_uninterrupted_dataset(tmp_path):
    data = tmp_path / "killed"
    episodes = 6
    args = [f"episodes={episodes}", "workers=2", f"data={data}"]
    proc = subprocess.Popen(_cli(*args, cwd=tmp_path), cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while len(scan_episodes(data)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the collector and its workers, mid-run
    proc.wait()
    left = len(scan_episodes(data))
    assert 2 <= left < episodes, f"killed too late or too early: {left} episodes on disk"
    if (data / "manifest.json").exists():
        assert not read_manifest(data)["complete"]

    again = subprocess.run(_cli(*args, cwd=tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming" in again.stdout
    manifest = read_manifest(data)
    assert manifest["complete"] and [e["index"] for e in manifest["episodes"]] == list(range(episodes))
    assert not [p for p in (data / "episodes").iterdir() if ".tmp-" in p.name]

    # the same episodes as an uninterrupted collection of the same config
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("collect", overrides=[*CLI_SMALL, f"episodes={episodes}"])
    collect(spec_from_config(cfg), tmp_path / "straight", episodes, workers=1, progress=False, log=quiet)
    _assert_same(_content(data), _content(tmp_path / "straight"))


def test_corrupt_episode_is_recorded_again(tmp_path):
    spec = tiny_spec()
    collect(spec, tmp_path, 2, workers=1, progress=False, log=quiet)
    before = _content(tmp_path)
    path = scan_episodes(tmp_path)[1]
    path.write_bytes(path.read_bytes()[:1000])  # as a disk failure would leave it
    (tmp_path / "episodes" / "episode_000001.npz.tmp-99").write_bytes(b"junk")
    notes = []
    collect(spec, tmp_path, 2, workers=1, progress=False, log=notes.append)
    assert any("corrupt" in n for n in notes) and any(".tmp-99" in n for n in notes)
    _assert_same(before, _content(tmp_path))


def test_folder_of_another_collection_stops_unless_overwrite(tmp_path):
    collect(tiny_spec(), tmp_path, 1, workers=1, progress=False, log=quiet)
    other = tiny_spec(seed=7)
    with pytest.raises(DatasetError, match=r"another collection.*seed: 0 there, 7 now.*overwrite=true"):
        collect(other, tmp_path, 1, workers=1, progress=False, log=quiet)
    manifest = collect(other, tmp_path, 1, workers=1, overwrite=True, progress=False, log=quiet)
    assert manifest["spec"]["seed"] == 7 and manifest["complete"]


def test_more_episodes_extend_the_dataset(tmp_path):
    spec = tiny_spec()
    collect(spec, tmp_path, 1, workers=1, progress=False, log=quiet)
    first = _content(tmp_path)
    manifest = collect(spec, tmp_path, 2, workers=1, progress=False, log=quiet)
    assert manifest["complete"] and len(manifest["episodes"]) == 2
    _assert_same(first, {0: _content(tmp_path)[0]})


@pytest.mark.parametrize("override,match", [
    ("image_codec=png", "image_codec must be one of npz, jpeg"),
    ("noise.schedule=often", "noise.schedule must be one of"),
    ("episodes=0", "episodes must be at least 1"),
    ("task=fetch", "fetch"),
])
def test_bad_config_stops_with_the_key_named(tmp_path, override, match):
    result = subprocess.run(_cli(override, f"data={tmp_path / 'd'}", cwd=tmp_path), cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert match in result.stdout + result.stderr
