"""The on-disk format: readable with numpy alone, atomic writes, compression, codecs."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from navlnn.data.format import (
    FIELDS,
    FORMAT,
    DatasetError,
    atomic_write_bytes,
    episode_path,
    load_episode,
    remove_temporaries,
    write_episode,
)


def test_episode_files_open_with_numpy_alone(dataset):
    folder, manifest = dataset
    assert manifest["format"] == FORMAT and manifest["complete"]
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk["episodes"] == manifest["episodes"]
    for row in manifest["episodes"]:
        with np.load(folder / row["file"], allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"][()]))
            assert meta["index"] == row["index"] and meta["seed"] == row["seed"]
            assert npz["image"].shape == (row["steps"], 36, 64, 3) and npz["image"].dtype == np.uint8
            assert npz["label"].shape == (row["steps"], 4)
            assert set(npz.files) == set(FIELDS) | {"meta"}
            for name, spec in manifest["fields"].items():
                assert str(npz[name].dtype) == spec["dtype"]
                assert list(npz[name].shape[1:]) == spec["shape"][1:]


def test_manifest_records_what_made_the_data(dataset):
    _, manifest = dataset
    assert manifest["camera"]["height"] == 36 and manifest["camera"]["width"] == 64
    assert manifest["action_space"]["names"] == ["vx", "vy", "vz", "yaw_rate"]
    assert manifest["action_space"]["scale"] == [2.0, 2.0, 1.0, 1.5]
    assert manifest["spec"]["noise"]["schedule"] in ("constant", "bursts", "ramp")
    assert manifest["code_version"].startswith("0.")
    assert manifest["env"]["dt"] == pytest.approx(1 / 15)
    for row in manifest["episodes"]:
        assert row["outcome"] in ("success", "collision", "out_of_bounds", "timeout")
        assert {"time_s", "path_length_m", "min_clearance_m"} <= set(row["metrics"])
    assert manifest["summary"]["steps"] == sum(r["steps"] for r in manifest["episodes"])


def test_images_are_stored_at_least_3x_smaller_than_raw(dataset):
    folder, manifest = dataset
    for row in manifest["episodes"]:
        with zipfile.ZipFile(folder / row["file"]) as z:
            info = z.getinfo("image.npy")
        assert info.file_size / info.compress_size >= 3.0


def _arrays(steps: int = 5, h: int = 12, w: int = 16) -> dict:
    rng = np.random.default_rng(0)
    out = {}
    for name, (dtype, shape, _, _) in FIELDS.items():
        dims = [{"H": h, "W": w}.get(d, d) for d in shape]
        out[name] = (rng.uniform(0, 255, (steps, *dims)) if name == "image" else rng.normal(size=(steps, *dims)))
        out[name] = out[name].astype(dtype)
    # a smooth image, as JPEG expects
    yy, xx = np.mgrid[:h, :w]
    out["image"] = np.stack([np.stack([xx * 10, yy * 15, (xx + yy) * 5], -1)] * steps).astype(np.uint8)
    return out


def test_jpeg_codec_round_trip(tmp_path):
    arrays = _arrays()
    path = write_episode(tmp_path, 3, arrays, {"index": 3}, codec="jpeg", jpeg_quality=95)
    assert path == episode_path(tmp_path, 3)
    back = load_episode(path, codec="jpeg")
    assert back["image"].shape == arrays["image"].shape
    assert np.abs(back["image"].astype(int) - arrays["image"]).mean() < 3
    assert np.array_equal(back["label"], arrays["label"])


def test_writer_rejects_missing_and_unknown_fields(tmp_path):
    arrays = _arrays()
    del arrays["dt"]
    arrays["depth"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"missing fields \['dt'\].*unknown fields \['depth'\]"):
        write_episode(tmp_path, 0, arrays, {})


def test_a_failed_write_leaves_no_file_and_no_temporary(tmp_path):
    target = tmp_path / "episode_000000.npz"

    def boom(f):
        f.write(b"half an episode")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(target, boom)
    assert list(tmp_path.iterdir()) == []


def test_leftover_temporaries_are_removed(tmp_path):
    (tmp_path / "episodes").mkdir()
    stale = tmp_path / "episodes" / "episode_000001.npz.tmp-4242"
    stale.write_bytes(b"PK\x03\x04 truncated")
    assert remove_temporaries(tmp_path) == [stale]
    assert not stale.exists()


def test_unknown_stored_field_is_named(tmp_path):
    arrays = _arrays()
    path = write_episode(tmp_path, 0, arrays, {})
    with np.load(path) as npz:
        content = {k: npz[k] for k in npz.files}
    content["depth"] = np.zeros(5)
    np.savez_compressed(path, **content)
    with pytest.raises(DatasetError, match=r"episode_000000.npz' holds unknown field\(s\) depth"):
        load_episode(path)
    with pytest.raises(DatasetError, match=r"unknown field\(s\) 'depth' requested"):
        load_episode(path, ["image", "depth"])
