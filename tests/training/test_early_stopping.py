"""Early stopping (patience on the validation loss), its exact resume, and the trunk's own weight decay."""

from __future__ import annotations

import pytest
import torch

from navlnn.policies.checkpoint import read_checkpoint
from navlnn.training.loop import TrainConfig, epochs_without_improvement, fit, should_stop

from synthetic_windows import NO_AUGMENT, Windows, small_policy


def _history(*losses: float) -> list[dict]:
    return [{"epoch": i + 1, "val_loss": v} for i, v in enumerate(losses)]


def test_epochs_without_improvement_counts_from_the_best():
    assert epochs_without_improvement(_history(1.0, 0.8, 0.9, 0.85)) == 2
    assert epochs_without_improvement(_history(1.0, 0.8, 0.7)) == 0
    assert epochs_without_improvement(_history(1.0, 0.995, 0.99), min_delta=0.02) == 2  # too small to count


def test_should_stop_only_with_patience():
    cfg = TrainConfig(patience=2)
    assert not should_stop(_history(1.0, 0.8, 0.9), cfg)
    assert should_stop(_history(1.0, 0.8, 0.9, 0.95), cfg)
    assert not should_stop(_history(1.0, 0.8, 0.9, 0.95), TrainConfig())  # patience None: off


class _Scripted:
    """Replaces the loop's validation with a scripted loss per epoch (so the stop epoch is known)."""

    def __init__(self, monkeypatch, losses: list[float]) -> None:
        import navlnn.training.loop as loop

        self.losses, self.calls = losses, 0
        real = loop.validation_loss

        def scripted(policy, data, batch_size, loss_fn, segment_windows=1):
            real(policy, data, batch_size, loss_fn)  # still run it (same random state as a real run)
            self.calls += 1
            return self.losses[self.calls - 1]

        monkeypatch.setattr(loop, "validation_loss", scripted)


def _cfg(**kw) -> TrainConfig:
    base = dict(epochs=10, batch_size=8, lr=5e-3, warmup_steps=2, seed=1, augment=NO_AUGMENT, patience=2)
    base.update(kw)
    return TrainConfig(**base)


LOSSES = [1.0, 0.8, 0.7, 0.75, 0.72, 0.6, 0.5, 0.4, 0.3, 0.2]  # best at epoch 3, two worse ones: stop after 5


def test_stops_at_the_right_epoch_and_keeps_the_best(tmp_path, monkeypatch):
    _Scripted(monkeypatch, LOSSES)
    result = fit(small_policy(), Windows(16), Windows(8, seed=1), _cfg(), tmp_path, progress=False)
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5]
    assert result.stopped_early and result.best_val_loss == pytest.approx(0.7)
    assert read_checkpoint(result.best)["epoch"] == 2  # 0-based: epoch 3
    assert read_checkpoint(result.last)["epoch"] == 4


def test_without_patience_every_epoch_runs(tmp_path, monkeypatch):
    _Scripted(monkeypatch, LOSSES[:6])
    result = fit(small_policy(), Windows(16), Windows(8, seed=1), _cfg(epochs=6, patience=None), tmp_path,
                 progress=False)
    assert len(result.history) == 6 and not result.stopped_early


def test_early_stopping_resumes_exactly(tmp_path, monkeypatch):
    augment = {"brightness": 0.2, "contrast": 0.0, "saturation": 0.2, "noise_std": 3.0, "hue_deg": 30.0,
               "shift": 0.05, "erase_prob": 0.5}
    cfg = _cfg(augment=augment, trunk_weight_decay=0.05)
    _Scripted(monkeypatch, LOSSES)
    full = fit(small_policy(), Windows(16), Windows(8, seed=1), cfg, tmp_path / "a", progress=False)
    _Scripted(monkeypatch, LOSSES)
    fit(small_policy(), Windows(16), Windows(8, seed=1), cfg, tmp_path / "b", progress=False, stop_after_epochs=4)
    _Scripted(monkeypatch, LOSSES[4:])  # the resumed run sees epoch 5's loss first
    resumed = fit(small_policy(seed=5), Windows(16), Windows(8, seed=1), cfg, tmp_path / "b", progress=False)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4, 5] and resumed.stopped_early
    a, b = read_checkpoint(full.last)["state_dict"], read_checkpoint(resumed.last)["state_dict"]
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=0, rtol=0)
    _Scripted(monkeypatch, LOSSES[5:])  # a finished, early-stopped run does not train further when run again
    again = fit(small_policy(), Windows(16), Windows(8, seed=1), cfg, tmp_path / "b", progress=False)
    assert len(again.history) == 5 and again.stopped_early


def test_trunk_weight_decay_is_its_own_group(tmp_path):
    policy = small_policy()
    fit(policy, Windows(8), Windows(8, seed=1), _cfg(epochs=1, trunk_weight_decay=0.5, patience=None), tmp_path,
        progress=False)
    groups = torch.load(tmp_path / "last.pt", weights_only=True)["optimizer"]["param_groups"]
    assert [g["weight_decay"] for g in groups] == [0.5, 1e-4]
    assert len(groups[0]["params"]) == len(list(policy.trunk.parameters()))
    one = small_policy()
    fit(one, Windows(8), Windows(8, seed=1), _cfg(epochs=1, patience=None), tmp_path / "one", progress=False)
    assert len(torch.load(tmp_path / "one" / "last.pt", weights_only=True)["optimizer"]["param_groups"]) == 1


def test_bad_patience_is_refused(tmp_path):
    with pytest.raises(ValueError, match="train.patience"):
        fit(small_policy(), Windows(8), Windows(8, seed=1), _cfg(patience=0), tmp_path, progress=False)
