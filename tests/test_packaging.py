"""The package works when installed from a wheel, from any folder: conf/ and assets/ ship inside it."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]
DATA_PACKAGES = {"envs.conf": "conf", "envs.assets": "assets"}


def test_every_package_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set(find_packages(str(ROOT), include=["navlnn", "navlnn.*", "envs", "envs.*"])) | {"navlnn.liquid.csrc"}
    listed = set(config["packages"])
    assert found - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"
    assert listed - found == set(DATA_PACKAGES)
    assert config["package-dir"] == DATA_PACKAGES


def test_config_and_assets_are_found_through_the_package():
    import importlib.resources

    from envs import config

    assert config.CONF_DIR == Path(str(importlib.resources.files("envs.conf")))
    assert (config.CONF_DIR / "drone" / "cf2x.yaml").is_file() and config.asset("cf2x.urdf").is_file()
    from navlnn.cli import CONFIG_PATH

    assert CONFIG_PATH == "pkg://envs.conf"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """A fresh venv holding the built wheel (no editable link to the repo); dependencies come from
    this interpreter's site-packages through a path entry, so nothing is downloaded."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(root / "dist"), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next((root / "dist").glob("navlnn-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    work = root / "elsewhere"
    work.mkdir()
    return {"python": python, "navlnn": venv / "bin" / "navlnn", "work": work, "site": site}


def _run(args: list, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


@pytest.mark.e2e
def test_the_wheel_works_from_another_folder(installed):
    work, site = installed["work"], installed["site"]
    out = _run([installed["python"], "-c",
                "import envs, navlnn, gymnasium; env = gymnasium.make('DroneNav-v0'); obs, _ = env.reset(seed=0); "
                "print(envs.__file__, navlnn.__file__, obs['image'].shape if isinstance(obs, dict) else obs.shape)"],
               work).stdout.split()
    assert all(path.startswith(str(site)) for path in out[:2]), out  # the wheel, not the repo
    _run([installed["navlnn"], "wiring", f"hydra.run.dir={work / 'wiring'}"], work)
    assert (work / "wiring" / "wiring.png").stat().st_size > 1000
    _run([installed["navlnn"], "scenes", "scenes=[summer,urban+fog]", f"hydra.run.dir={work / 'scenes'}"], work)
    assert (work / "scenes" / "scenes.png").stat().st_size > 1000
    run = work / "pipeline"
    _run([installed["navlnn"], "pipeline", "episodes=3", "epochs=1", "workers=1", "logger_mode=disabled",
          "eval.scenes=[summer]", "eval.episodes=1", "video.scenes=[summer]",
          'overrides.collect=["drone.camera.width=64","drone.camera.height=36","progress=false",'
          '"task.time_limit_s=4"]',
          'overrides.train=["model.trunk.channels=[8,8,8,8,8]","train.seq_len=8","train.stride=4",'
          '"train.batch_size=4","progress=false"]',
          'overrides.eval=["progress=false","eval.reference_expert=false"]',
          'overrides.video=["layout.width=640","layout.height=360","chase_camera.width=320",'
          '"chase_camera.height=180"]',
          f"hydra.run.dir={run}"], work, timeout=900)
    assert (run / "eval" / "summary.json").is_file() and list((run / "video").glob("*.mp4"))
    exported = _run([installed["navlnn"], "export", f"checkpoint={run / 'train' / 'checkpoints' / 'best.pt'}",
                     f"hydra.run.dir={work / 'export'}", "latency_steps=5"], work)
    assert "onnxruntime matches torch" in exported.stdout and (work / "export" / "policy.onnx").is_file()
