"""The navlnn command line: dispatch, Hydra overrides, printed output paths, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _navlnn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "navlnn.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_wiring_command_writes_png_and_prints_its_path(tmp_path):
    result = _navlnn("wiring", "input_size=8", "wiring.seed=3", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    png = tmp_path / "run" / "wiring.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(png.resolve()) in result.stdout
    assert "inter" in result.stdout and "'motor': 4" in result.stdout


def test_impossible_wiring_config_fails_with_the_argument_named(tmp_path):
    result = _navlnn("wiring", "wiring.motor_fanin=50", f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert result.returncode != 0
    assert "motor_fanin=50" in result.stdout + result.stderr


def test_unknown_command_lists_the_valid_ones(tmp_path):
    result = _navlnn("fly", cwd=tmp_path)
    assert result.returncode != 0
    assert "unknown command 'fly'" in result.stderr and "wiring" in result.stderr


def test_help_lists_commands(tmp_path):
    result = _navlnn("--help", cwd=tmp_path)
    assert result.returncode == 0 and "wiring" in result.stdout
