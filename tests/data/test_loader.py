"""The training loader: sequence windows, in-memory and lazy reading, clear errors on bad data."""

from __future__ import annotations

import json
import shutil

import gymnasium as gym
import numpy as np
import pytest
import torch

from navlnn.data import DatasetError, Demonstrations, SequenceWindows


@pytest.fixture
def copy(dataset, tmp_path):
    """A private copy of the shared dataset, to damage."""
    folder = tmp_path / "data"
    shutil.copytree(dataset[0], folder)
    return folder


def test_window_index_counts_strides_and_covers_ends(dataset):
    demos = Demonstrations(dataset[0])
    steps = demos.steps
    for length, stride in ((1, 1), (8, 3), (16, 16)):
        index = demos.windows(length, stride)
        for k, t in enumerate(steps):
            starts = index[index[:, 0] == k, 1]
            expect = list(range(0, t - length + 1, stride))
            if expect[-1] != t - length:
                expect.append(t - length)
            assert starts.tolist() == expect
        plain = demos.windows(length, stride, cover_end=False)
        assert len(plain) == sum((t - length) // stride + 1 for t in steps)
    with pytest.raises(DatasetError, match="no episode has 10000 steps"):
        demos.windows(10000)
    with pytest.raises(ValueError, match="at least 1"):
        demos.windows(4, 0)


def test_windows_hold_the_episode_slices(dataset):
    demos = Demonstrations(dataset[0], fields=("image", "label", "dt", "noise_on"))
    assert demos.in_memory
    windows = SequenceWindows(demos, length=12, stride=5)
    ids = np.array([0, len(windows) // 2, len(windows) - 1])
    batch = windows.batch(ids)
    assert batch["image"].dtype == torch.uint8 and batch["image"].shape == (3, 12, 36, 64, 3)
    assert batch["label"].dtype == torch.float32 and batch["label"].shape == (3, 12, 4)
    assert batch["noise_on"].dtype == torch.bool
    for row, i in enumerate(ids):
        k, start = windows.index[i]
        ep = demos.episode(int(k))
        for name in demos.fields:
            assert np.array_equal(batch[name][row].numpy(), ep[name][start:start + 12])
    single = windows[int(ids[1])]
    assert all(torch.equal(single[k], batch[k][1]) for k in batch)


def test_an_epoch_visits_every_window_once_in_a_seeded_order(dataset):
    windows = SequenceWindows(Demonstrations(dataset[0], fields=("label",)), length=6, stride=2)
    seen = torch.cat([b["label"] for b in windows.batches(7, seed=3)])
    assert len(seen) == len(windows)
    first = [b["label"] for b in windows.batches(7, seed=3)]
    again = [b["label"] for b in windows.batches(7, seed=3)]
    other = [b["label"] for b in windows.batches(7, seed=4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    assert all(len(b["label"]) == 7 for b in windows.batches(7, drop_last=True))


def test_lazy_reading_matches_memory(dataset):
    memory = SequenceWindows(Demonstrations(dataset[0]), length=10, stride=4)
    lazy = SequenceWindows(Demonstrations(dataset[0], memory_limit=0), length=10, stride=4)
    assert memory.demos.in_memory and not lazy.demos.in_memory
    ids = np.arange(len(memory))[::3]
    a, b = memory.batch(ids), lazy.batch(ids)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_selection_by_outcome_and_index(dataset):
    manifest = dataset[1]
    demos = Demonstrations(dataset[0], outcomes=["success"], episodes=[2, 0])
    assert [e["index"] for e in demos.episodes] == [2, 0]
    assert all(e["outcome"] == "success" for e in demos.episodes)
    assert len(demos.arrays["label"]) == sum(manifest["episodes"][i]["steps"] for i in (2, 0))
    with pytest.raises(DatasetError, match=r"no episode\(s\) \[9\]"):
        Demonstrations(dataset[0], episodes=[9])
    with pytest.raises(ValueError, match="unknown outcome"):
        Demonstrations(dataset[0], outcomes=["crash"])


def test_matching_expectations_pass(dataset):
    env_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    Demonstrations(dataset[0], camera=(36, 64), action_space=env_space)
    Demonstrations(dataset[0], action_space={"names": ["vx", "vy", "vz", "yaw_rate"], "scale": [2, 2, 1, 1.5]})


# ---------------------------------------------------------------------- bad input


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match=r"'.*nowhere' does not exist.*navlnn collect data="):
        Demonstrations(tmp_path / "nowhere")


def test_missing_manifest_of_an_interrupted_collection(copy):
    (copy / "manifest.json").unlink()
    with pytest.raises(DatasetError, match=r"manifest.json' is missing.*4 episode files.*rerun the same"):
        Demonstrations(copy)


def test_corrupt_manifest(copy):
    (copy / "manifest.json").write_text('{"format": "navlnn.demonstrations", "episodes": [')
    with pytest.raises(DatasetError, match=r"manifest.json' is corrupt \(not valid JSON"):
        Demonstrations(copy)
    (copy / "manifest.json").write_text('{"format": "something else"}')
    with pytest.raises(DatasetError, match="not a navlnn demonstrations manifest"):
        Demonstrations(copy)


def test_missing_episode_file(copy):
    (copy / "episodes" / "episode_000002.npz").unlink()
    with pytest.raises(DatasetError, match=r"episode_000002.npz' is listed in .* but missing"):
        Demonstrations(copy)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_episode_file(copy, damage):
    path = copy / "episodes" / "episode_000001.npz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00" * 100)
    with pytest.raises(DatasetError, match=r"episode_000001.npz' is corrupt .*rerun `navlnn collect`"):
        Demonstrations(copy)


def test_episode_that_disagrees_with_the_manifest(copy):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["episodes"][0]["steps"] += 1
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"episode_000000.npz' has \d+ steps, .* says \d+"):
        Demonstrations(copy)


def test_other_camera_size(dataset):
    with pytest.raises(DatasetError, match=r"recorded with a 64x36 camera .* expects 128x72.*drone.camera.width=128"):
        Demonstrations(dataset[0], camera=(72, 128))


def test_other_action_space(dataset):
    with pytest.raises(DatasetError, match=r"action space has low=.*expects low="):
        Demonstrations(dataset[0], action_space=gym.spaces.Box(-2.0, 2.0, (4,), np.float32))
    with pytest.raises(DatasetError, match=r"action space has scale=\[2.0, 2.0, 1.0, 1.5\].*expects scale=\[3"):
        Demonstrations(dataset[0], action_space={"scale": [3.0, 3.0, 1.0, 1.5]})
    with pytest.raises(DatasetError, match=r"names="):
        Demonstrations(dataset[0], action_space={"names": ["vx", "vy", "yaw_rate", "vz"]})


def test_unknown_field(dataset):
    with pytest.raises(DatasetError, match=r"unknown field\(s\) 'depth' for the dataset .*manifest.json'; its fields are: image"):
        Demonstrations(dataset[0], fields=("image", "depth"))


def test_incomplete_dataset_needs_consent(copy):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["complete"] = False
    manifest["episodes"] = manifest["episodes"][:2]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"incomplete \(2 of 4 episodes\); rerun the same"):
        Demonstrations(copy)
    assert len(Demonstrations(copy, allow_incomplete=True)) == 2


def test_errors_are_value_errors():
    assert issubclass(DatasetError, ValueError)


def test_jpeg_dataset_reads_like_the_lossless_one(tmp_path):
    from _demos import quiet, tiny_spec
    from navlnn.rollout.collect import collect

    collect(tiny_spec(), tmp_path / "npz", 1, workers=1, progress=False, log=quiet)
    manifest = collect(tiny_spec(image_codec="jpeg", jpeg_quality=90), tmp_path / "jpeg", 1, workers=1,
                       progress=False, log=quiet)
    assert manifest["image_codec"] == "jpeg" and "stored_as" in manifest["fields"]["image"]
    exact, lossy = Demonstrations(tmp_path / "npz"), Demonstrations(tmp_path / "jpeg")
    assert np.array_equal(exact.arrays["label"], lossy.arrays["label"])
    assert exact.arrays["image"].shape == lossy.arrays["image"].shape
    assert np.abs(exact.arrays["image"].astype(int) - lossy.arrays["image"]).mean() < 6  # a colour swap gives tens


@pytest.mark.parametrize("memory_limit", [None, 0])
def test_short_episodes_give_one_padded_masked_window(dataset, memory_limit):
    kwargs = {} if memory_limit is None else {"memory_limit": memory_limit}
    demos = Demonstrations(dataset[0], fields=("image", "label", "dt"), **kwargs)
    length = int(demos.steps.min()) + 5  # longer than the shortest episode, shorter than the longest
    plain = SequenceWindows(demos, length=length, stride=4)
    padded = SequenceWindows(demos, length=length, stride=4, pad_short=True)
    short = [k for k, t in enumerate(demos.steps) if t < length]
    assert short and "mask" not in plain.batch(np.array([0]))
    assert len(padded) == len(plain) + len(short) and padded.padded_windows == len(short)
    batch = padded.batch(np.arange(len(padded)))
    for row, (k, start) in enumerate(padded.index):
        steps = int(demos.steps[k])
        valid = min(length, steps - int(start))
        ep = demos.episode(int(k))
        assert batch["mask"][row].tolist() == [True] * valid + [False] * (length - valid)
        for name in demos.fields:
            got = batch[name][row].numpy()
            assert np.array_equal(got[:valid], ep[name][start:start + valid])
            assert all(np.array_equal(got[t], ep[name][steps - 1]) for t in range(valid, length))  # the last step repeated


@pytest.mark.parametrize("memory_limit", [None, 0])
@pytest.mark.parametrize("per_segment", [1, 3])
def test_segments_hold_every_window_once_and_each_frame_once(dataset, memory_limit, per_segment):
    """A segment's frames cover its windows: gathering a window's steps through ``index`` gives
    exactly what :meth:`SequenceWindows.batch` gives, and no frame of a segment is repeated."""
    kwargs = {} if memory_limit is None else {"memory_limit": memory_limit}
    demos = Demonstrations(dataset[0], fields=("image", "label", "dt"), **kwargs)
    length = int(demos.steps.min()) + 5                     # some episodes give one padded window
    windows = SequenceWindows(demos, length=length, stride=4, pad_short=True)
    segments = windows.segments(per_segment)
    assert segments[:, 1].max() <= per_segment and segments[:, 1].sum() == len(windows)
    covered = np.concatenate([np.arange(first, first + n) for first, n in segments])
    assert covered.tolist() == list(range(len(windows)))   # every window once, in order
    assert all(len(set(windows.index[first:first + n, 0])) == 1 for first, n in segments)  # one episode each
    chosen = segments[[0, len(segments) // 2, len(segments) - 1]]
    batch = windows.segment_batch(chosen)
    ids = np.concatenate([np.arange(first, first + n) for first, n in chosen])
    expect = windows.batch(ids)
    assert torch.equal(batch["frames"][batch["index"]], expect["image"])
    for name in ("label", "dt", "mask"):
        assert torch.equal(batch[name], expect[name])
    assert sum(batch["lengths"]) == len(batch["frames"])
    if per_segment == 1:                                     # one window a segment: exactly the window's frames
        assert torch.equal(batch["frames"], expect["image"].flatten(0, 1))
    else:
        full = [i for i, n in enumerate(chosen[:, 1]) if n > 1]
        assert full and all(batch["lengths"][i] < chosen[i, 1] * length for i in full)
    with pytest.raises(ValueError, match="segment_windows"):
        windows.segments(0)
