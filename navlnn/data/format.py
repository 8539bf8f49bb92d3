"""The on-disk dataset format: a folder of per-episode ``.npz`` files and a ``manifest.json``.

Layout of a dataset folder::

    manifest.json                  what made the data, camera, action space, fields, episode list
    episodes/episode_000000.npz    one episode: per-step arrays plus a JSON ``meta`` string
    episodes/episode_000001.npz
    ...

Everything is readable with numpy and the json module alone (``np.load(path)`` needs no
pickle). Episode files are written to a temporary name and renamed into place (atomic on
POSIX), so a file named ``episode_*.npz`` is always complete; the manifest is rewritten the
same way. The episode files are the truth: the manifest can be rebuilt from their ``meta``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from navlnn.constants import ACTION_NAMES, ACTION_UNITS  # noqa: F401  (part of the format's vocabulary)

FORMAT = "navlnn.demonstrations"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
EPISODES_DIR = "episodes"
EPISODE_PATTERN = re.compile(r"^episode_(\d{6,})\.npz$")
TMP_MARK = ".tmp-"  # temporary files: <name>.tmp-<pid>
IMAGE_CODECS = ("npz", "jpeg")

# Per-step fields: name -> (dtype, trailing shape, unit, description). Every array has the
# episode's number of steps T as its first axis; row t describes the state *before* action t.
FIELDS: dict[str, tuple[str, tuple, str, str]] = {
    "image": ("uint8", ("H", "W", 3), "", "onboard camera frame, RGB"),
    "label": ("float32", (4,), "normalised", "the expert's action at this frame (the training target), [-1, 1]"),
    "action": ("float32", (4,), "normalised", "the action executed: the label plus injected noise, clipped"),
    "noise_on": ("bool", (), "", "True where the executed action was not the label: injected noise, or the "
                                 "policy's action in a DAgger round"),
    "dt": ("float32", (), "s", "simulated time of the step"),
    "time": ("float32", (), "s", "time since the episode start, at the frame"),
    "reward": ("float32", (), "", "env reward of the step"),
    "drone_pos_world": ("float32", (3,), "m", "drone position, world frame (z up)"),
    "drone_vel_world": ("float32", (3,), "m/s", "drone velocity, world frame"),
    "drone_vel_body": ("float32", (3,), "m/s", "drone velocity, body frame (x forward)"),
    "drone_rpy": ("float32", (3,), "rad", "roll, pitch, yaw"),
    "drone_ang_vel_body": ("float32", (3,), "rad/s", "body rates"),
    "target_pos_world": ("float32", (3,), "m", "centre of the current target's sign"),
    "target_yaw": ("float32", (), "rad", "direction the current target faces"),
    "target_approach_world": ("float32", (3,), "m", "centre of the current target's approach zone"),
    "target_index": ("int16", (), "", "index of the current target (chain task)"),
    "bearing_to_target": ("float32", (), "rad", "target direction relative to the heading (left positive)"),
    "distance_to_approach": ("float32", (), "m", "distance to the approach zone's centre"),
    "nearest_obstacle_distance": ("float32", (), "m", "distance to the nearest surface"),
}
# how the image is stored under each codec (instead of ``image``)
JPEG_FIELDS = ("image_jpeg", "image_offsets")


class DatasetError(ValueError):
    """A dataset that cannot be used: missing, corrupt, or made for another set-up."""


def code_version() -> str:
    """The package version, plus ``git describe`` when run from a git checkout."""
    from navlnn import __version__

    root = Path(__file__).resolve().parent.parent.parent
    if (root / ".git").exists():
        try:
            out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root, capture_output=True,
                                 text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                return f"{__version__}+git.{out.stdout.strip()}"
        except (OSError, subprocess.SubprocessError):
            pass
    return __version__


def episode_name(index: int) -> str:
    """File name of episode ``index``."""
    return f"episode_{index:06d}.npz"


def episode_path(folder: Path, index: int) -> Path:
    """Path of episode ``index`` in dataset ``folder``."""
    return Path(folder) / EPISODES_DIR / episode_name(index)


def field_schema(height: int, width: int, codec: str) -> dict[str, dict[str, Any]]:
    """The ``fields`` block of the manifest for a camera of ``height`` x ``width``."""
    out = {}
    for name, (dtype, shape, unit, text) in FIELDS.items():
        dims = ["T"] + [{"H": height, "W": width}.get(d, d) for d in shape]
        out[name] = {"dtype": dtype, "shape": dims, "unit": unit, "description": text}
    if codec == "jpeg":
        out["image"]["stored_as"] = ("image_jpeg (uint8, concatenated JPEG files) and image_offsets (int64, T + 1): "
                                     "frame t is image_jpeg[image_offsets[t]:image_offsets[t + 1]]")
    return out


# ---------------------------------------------------------------------- writing


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, write) -> None:
    """Write a file through ``write(fileobj)`` to a temporary name, fsync, then rename into place."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def encode_images(images: np.ndarray, codec: str, jpeg_quality: int) -> dict[str, np.ndarray]:
    """The arrays that store ``images`` (T x H x W x 3 RGB) under ``codec``."""
    if codec == "npz":
        return {"image": images}
    if codec == "jpeg":
        import cv2

        blobs = []
        for frame in images:
            # full-resolution colour (4:4:4): the default 4:2:0 smears the small red target
            ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]),
                                   [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality,
                                    cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
            if not ok:
                raise RuntimeError("JPEG encoding failed")
            blobs.append(buf.ravel())
        offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(b) for b in blobs])
        data = np.concatenate(blobs) if blobs else np.zeros(0, np.uint8)
        return {"image_jpeg": data, "image_offsets": offsets}
    raise ValueError(f"image_codec must be one of {', '.join(IMAGE_CODECS)}, got {codec!r}")


def write_episode(folder: Path, index: int, arrays: Mapping[str, np.ndarray], meta: Mapping,
                  codec: str = "npz", jpeg_quality: int = 90) -> Path:
    """Write one episode atomically; ``arrays`` holds every field of :data:`FIELDS`."""
    missing = [k for k in FIELDS if k not in arrays]
    unknown = [k for k in arrays if k not in FIELDS]
    if missing or unknown:
        raise ValueError(f"episode {index}: missing fields {missing}, unknown fields {unknown}")
    payload = {k: np.asarray(v, dtype=FIELDS[k][0]) for k, v in arrays.items() if k != "image"}
    payload.update(encode_images(np.asarray(arrays["image"], dtype=np.uint8), codec, jpeg_quality))
    payload["meta"] = np.array(json.dumps(dict(meta), sort_keys=True))
    path = episode_path(folder, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda f: np.savez_compressed(f, **payload))
    return path


def write_manifest(folder: Path, manifest: Mapping) -> Path:
    """Write ``manifest.json`` atomically."""
    path = Path(folder) / MANIFEST
    text = json.dumps(manifest, indent=1, sort_keys=False, default=_json_default) + "\n"
    atomic_write_bytes(path, lambda f: f.write(text.encode()))
    return path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def remove_temporaries(folder: Path) -> list[Path]:
    """Delete half-written temporary files left by an interrupted writer; returns them."""
    gone = []
    for sub in (Path(folder), Path(folder) / EPISODES_DIR):
        if sub.is_dir():
            for path in sub.iterdir():
                if TMP_MARK in path.name:
                    path.unlink(missing_ok=True)
                    gone.append(path)
    return gone


# ---------------------------------------------------------------------- reading


def read_manifest(folder: Path) -> dict:
    """The manifest of dataset ``folder``; :class:`DatasetError` naming the problem otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"dataset folder '{folder}' does not exist; make one with `navlnn collect data={folder}`")
    path = folder / MANIFEST
    if not path.is_file():
        episodes = list((folder / EPISODES_DIR).glob("episode_*.npz")) if (folder / EPISODES_DIR).is_dir() else []
        hint = (f"it holds {len(episodes)} episode files but the collection stopped before writing its manifest; "
                "rerun the same `navlnn collect` command to finish it") if episodes else \
            "it is not a navlnn dataset; make one with `navlnn collect`"
        raise DatasetError(f"'{path}' is missing: {hint}")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"'{path}' is corrupt (not valid JSON: {exc}); rerun the `navlnn collect` command "
                           "that made it to rewrite it") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(f"'{path}' is not a navlnn demonstrations manifest (format is "
                           f"{manifest.get('format') if isinstance(manifest, dict) else type(manifest).__name__!r}, "
                           f"expected {FORMAT!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DatasetError(f"'{path}' has format_version {manifest.get('format_version')}, this navlnn reads "
                           f"version {FORMAT_VERSION}; collect the data again with this version")
    for key in ("camera", "action_space", "fields", "episodes", "image_codec"):
        if key not in manifest:
            raise DatasetError(f"'{path}' lacks the key '{key}'; the file is damaged, rerun `navlnn collect`")
    return manifest


def read_meta(path: Path) -> dict:
    """The ``meta`` of one episode file (cheap: only that member is decompressed)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return json.loads(str(npz["meta"][()]))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, EOFError, zlib.error) as exc:
        raise DatasetError(f"'{path}' is corrupt ({type(exc).__name__}: {exc}); delete it and rerun "
                           "`navlnn collect` to make it again") from None


def load_episode(path: Path, fields: Iterable[str] | None = None, codec: str = "npz",
                 schema: Mapping[str, Mapping] | None = None) -> dict[str, np.ndarray]:
    """The per-step arrays of one episode file (``fields``: a subset; all by default).

    Checks each array against ``schema`` (the manifest's ``fields``) when given; any problem
    raises :class:`DatasetError` naming the file.
    """
    path = Path(path)
    wanted = list(FIELDS) if fields is None else list(fields)
    unknown = [f for f in wanted if f not in FIELDS]
    if unknown:
        raise DatasetError(f"unknown field(s) {', '.join(map(repr, unknown))} requested from '{path}'; "
                           f"fields are: {', '.join(FIELDS)}")
    out: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            stored = set(npz.files)
            extra = stored - set(FIELDS) - set(JPEG_FIELDS) - {"meta"}
            if extra:
                raise DatasetError(f"'{path}' holds unknown field(s) {', '.join(sorted(extra))}; it was not written "
                                   f"by this version of navlnn (fields are: {', '.join(FIELDS)})")
            for name in wanted:
                if name == "image" and codec == "jpeg":
                    out[name] = _decode_jpeg(path, npz["image_jpeg"], npz["image_offsets"])
                elif name not in stored:
                    raise DatasetError(f"'{path}' lacks the field '{name}'; delete it and rerun `navlnn collect`")
                else:
                    out[name] = npz[name]
    except DatasetError:
        raise
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, EOFError, zlib.error) as exc:
        raise DatasetError(f"'{path}' is corrupt ({type(exc).__name__}: {exc}); delete it and rerun "
                           "`navlnn collect` to make it again") from None
    if schema is not None:
        check_arrays(path, out, schema)
    return out


def _decode_jpeg(path: Path, data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    import cv2

    frames = []
    for t in range(len(offsets) - 1):
        frame = cv2.imdecode(data[offsets[t]:offsets[t + 1]], cv2.IMREAD_COLOR)
        if frame is None:
            raise DatasetError(f"'{path}': JPEG frame {t} does not decode; delete the file and rerun `navlnn collect`")
        frames.append(frame[..., ::-1])
    return np.ascontiguousarray(np.stack(frames)) if frames else np.zeros((0, 0, 0, 3), np.uint8)


def check_arrays(path: Path, arrays: Mapping[str, np.ndarray], schema: Mapping[str, Mapping]) -> int:
    """Check dtypes, shapes and a common length against the manifest's ``fields``; returns T."""
    steps = None
    for name, arr in arrays.items():
        spec = schema.get(name)
        if spec is None:
            raise DatasetError(f"'{path}': field '{name}' is not in the manifest's fields")
        if str(arr.dtype) != spec["dtype"]:
            raise DatasetError(f"'{path}': field '{name}' has dtype {arr.dtype}, the manifest says {spec['dtype']}")
        want = list(spec["shape"][1:])
        if list(arr.shape[1:]) != want:
            raise DatasetError(f"'{path}': field '{name}' has shape {tuple(arr.shape)}, the manifest says "
                               f"(T, {', '.join(map(str, want))})")
        if steps is None:
            steps = arr.shape[0]
        elif arr.shape[0] != steps:
            raise DatasetError(f"'{path}': field '{name}' has {arr.shape[0]} steps, other fields have {steps}")
    return int(steps or 0)


def scan_episodes(folder: Path) -> dict[int, Path]:
    """Episode files present in ``folder`` by index (names only; contents are not read)."""
    found = {}
    sub = Path(folder) / EPISODES_DIR
    if sub.is_dir():
        for path in sub.iterdir():
            m = EPISODE_PATTERN.match(path.name)
            if m:
                found[int(m.group(1))] = path
    return dict(sorted(found.items()))
