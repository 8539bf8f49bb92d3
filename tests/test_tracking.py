"""W&B tracking: offline by default with files in the run folder, disabled is a no-op, bad modes named."""

import pytest

from navlnn import tracking


def test_offline_run_writes_under_run_dir(tmp_path):
    tracker = tracking.start({"mode": "offline", "project": "navlnn-test", "group": "sweep"}, {"seed": 0}, tmp_path)
    tracker.log({"train/loss": 0.5}, step=0)
    (tmp_path / "best.pt").write_bytes(b"weights")
    tracker.log_artifact(tmp_path / "best.pt", "policy")
    tracker.finish()
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].rglob("*.wandb"))


def test_disabled_tracker_does_nothing(tmp_path):
    tracker = tracking.start({"mode": "disabled"}, {}, tmp_path)
    tracker.log({"x": 1.0}, 0)
    tracker.finish()
    assert not (tmp_path / "wandb").exists()


def test_unknown_mode_is_named(tmp_path):
    with pytest.raises(ValueError, match="logger.mode: unknown 'onlin'"):
        tracking.start({"mode": "onlin"}, {}, tmp_path)
