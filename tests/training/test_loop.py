"""The behaviour-cloning loop on a synthetic task: learning, exact resume, NaN guard, checkpoints."""

from __future__ import annotations

import pytest
import torch

from navlnn.training.augment import ImageAugment
from navlnn.policies.checkpoint import load_policy, read_checkpoint
from navlnn.training.loop import NonFiniteLoss, TrainConfig, fit

from synthetic_windows import HW, NO_AUGMENT, Windows, small_policy

_policy = small_policy


def _cfg(**kw) -> TrainConfig:
    base = dict(epochs=3, batch_size=8, lr=5e-3, warmup_steps=2, seed=1,
                augment=NO_AUGMENT)
    base.update(kw)
    return TrainConfig(**base)


def test_fit_learns_and_writes_checkpoints(tmp_path):
    result = fit(_policy(), Windows(32), Windows(8, seed=1), _cfg(epochs=6), tmp_path, progress=False)
    losses = [h["val_loss"] for h in result.history]
    assert losses[-1] < 0.7 * losses[0]
    state = read_checkpoint(result.best)
    assert state["best_val_loss"] == pytest.approx(min(losses))
    assert torch.load(result.last, weights_only=True)["epoch"] == 5


def test_a_run_that_stays_at_the_mean_action_is_flagged_as_not_learned(tmp_path, capsys):
    learned = fit(_policy(), Windows(32), Windows(8, seed=1), _cfg(epochs=6), tmp_path / "a", progress=False)
    assert learned.learned and learned.best_val_loss < 0.9 * learned.constant_val_loss
    # standardised MSE of the mean action: each dimension's variance over (3 std)^2, about 1/9 where it varies
    assert 0.0 < learned.constant_val_loss < 0.5
    capsys.readouterr()
    frozen = fit(_policy(), Windows(32), Windows(8, seed=1), _cfg(epochs=2, lr=0.0), tmp_path / "b", progress=False)
    assert not frozen.learned and frozen.best_val_loss >= 0.9 * frozen.constant_val_loss
    assert frozen.constant_val_loss == pytest.approx(learned.constant_val_loss)   # same labels, same floor
    assert "did not learn" in capsys.readouterr().err
    with pytest.raises(ValueError, match="train.epochs: must be >= 1"):
        fit(_policy(), Windows(8), Windows(8, seed=1), _cfg(epochs=0), tmp_path / "c", progress=False)


def test_resume_is_exact(tmp_path):
    augment = {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "noise_std": 3.0}
    full = fit(_policy(), Windows(24), Windows(8, seed=1), _cfg(augment=augment), tmp_path / "a", progress=False)
    fit(_policy(), Windows(24), Windows(8, seed=1), _cfg(augment=augment), tmp_path / "b", progress=False,
        stop_after_epochs=1)
    resumed = fit(_policy(seed=5), Windows(24), Windows(8, seed=1), _cfg(augment=augment), tmp_path / "b",
                  progress=False)
    a, b = read_checkpoint(full.last)["state_dict"], read_checkpoint(resumed.last)["state_dict"]
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=0, rtol=0)
    assert [h["val_loss"] for h in resumed.history] == [h["val_loss"] for h in full.history]


def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(tmp_path):
    fit(_policy(), Windows(16), Windows(8, seed=1), _cfg(), tmp_path, progress=False, stop_after_epochs=1)
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(NonFiniteLoss, match=r"epoch 2, batch \d+ \(windows .*3"):
        fit(_policy(), Windows(16, poison=3), Windows(8, seed=1), _cfg(), tmp_path, progress=False)
    assert (tmp_path / "last.pt").read_bytes() == before


def test_load_policy_checks_camera_and_format(tmp_path):
    result = fit(_policy(), Windows(8), Windows(8, seed=1), _cfg(epochs=1), tmp_path, progress=False)
    policy = load_policy(result.best, image_hw=HW)
    assert policy.image_hw == HW
    with pytest.raises(ValueError, match=r"trained for a 40x24 camera, the env gives 128x72"):
        load_policy(result.best, image_hw=(72, 128))
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="format"):
        load_policy(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_policy(tmp_path / "missing.pt")


def test_augment_is_per_sequence_and_seeded():
    images = torch.randint(20, 200, (3, 5, *HW, 3), dtype=torch.uint8)
    augment = ImageAugment(brightness=0.4, contrast=0.0, saturation=0.0, noise_std=0.0)
    out = augment(images, torch.Generator().manual_seed(0))
    again = augment(images, torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and out.shape == images.shape and torch.equal(out, again)
    ratio = out.float().sum(dim=(2, 3, 4)) / images.float().sum(dim=(2, 3, 4))  # (B, T)
    assert (ratio.std(dim=1) < 0.01).all()  # one brightness factor per sequence
    assert (ratio[:, 0].max() - ratio[:, 0].min()) > 0.01  # different sequences, different factors


def test_resuming_into_a_folder_of_another_model_is_refused(tmp_path):
    fit(_policy(), Windows(8), Windows(8, seed=1), _cfg(epochs=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"written for model 'ncp_cfc'.*not for this run's 'lstm'"):
        fit(small_policy(model="lstm"), Windows(8), Windows(8, seed=1), _cfg(epochs=2), tmp_path, progress=False)


def test_actions_are_learned_in_units_of_their_spread(tmp_path):
    data = Windows(16)
    policy = _policy()
    fit(policy, data, Windows(8, seed=1), _cfg(epochs=1), tmp_path, progress=False)
    labels = data.targets.reshape(-1, 4)
    torch.testing.assert_close(policy.action_mean, labels.mean(0), atol=1e-5, rtol=0)
    expected = (3.0 * labels.std(0, unbiased=False)).clamp_min(0.05)
    torch.testing.assert_close(policy.action_std, expected, atol=1e-5, rtol=1e-5)
    assert policy.action_std[1:].eq(0.05).all()  # constant dimensions get the floor, not a division by zero
    with torch.no_grad():  # the stored statistics travel with the checkpoint and map outputs back
        reloaded = load_policy(tmp_path / "last.pt")
        images = data.images[:2]
        torch.testing.assert_close(reloaded(images, torch.full((2, 4), 1 / 15))[0],
                                   policy(images, torch.full((2, 4), 1 / 15))[0])


def test_checkpoints_without_action_statistics_still_load(tmp_path):
    result = fit(_policy(), Windows(8), Windows(8, seed=1), _cfg(epochs=1, standardize_actions=False), tmp_path,
                 progress=False)
    payload = torch.load(result.last, weights_only=True)
    for key in ("action_mean", "action_std"):
        del payload["state_dict"][key]
    torch.save(payload, tmp_path / "old.pt")
    policy = load_policy(tmp_path / "old.pt")
    assert policy.action_mean.eq(0).all() and policy.action_std.eq(1).all()


def test_the_masked_loss_counts_only_the_valid_steps():
    from navlnn.training.loop import TrainConfig, _loss_fn

    torch.manual_seed(0)
    pred, target = torch.randn(3, 10, 4), torch.randn(3, 10, 4)
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[1, 6:] = False
    mask[2, 3:] = False
    for kind in ("mse", "huber"):
        loss = _loss_fn(TrainConfig(loss=kind))
        garbage = pred.clone()
        garbage[~mask] = 1e6  # padding must not matter
        valid = torch.cat([pred[mask] - target[mask]]).abs()
        expect = valid.square().mean() if kind == "mse" else torch.nn.functional.huber_loss(
            pred[mask], target[mask], delta=TrainConfig().huber_delta)
        assert torch.allclose(loss(garbage, target, mask), expect)
        assert torch.allclose(loss(pred, target, None), loss(pred, target, torch.ones_like(mask)))


def test_train_device_names_are_checked():
    from navlnn.training.loop import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="train.device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="train.device=cuda: no CUDA device"):
            resolve_device("cuda")


class _Padded(Windows):
    """Windows whose second half is padding (mask False) holding huge labels: they must not count."""

    def __getitem__(self, i: int):
        item = dict(super().__getitem__(i))
        steps = item["actions"].shape[0]
        mask = torch.arange(steps) < steps // 2
        item["actions"] = torch.where(mask[:, None], item["actions"], torch.full_like(item["actions"], 1e3))
        item["mask"] = mask
        return item


def test_padding_is_left_out_of_the_action_statistics_and_the_loss(tmp_path):
    from navlnn.training.loop import action_statistics

    data = _Padded(16, steps=6)
    mean, std = action_statistics(data)
    valid = data.targets[:, :3].reshape(-1, 4)
    assert torch.allclose(mean, valid.mean(0), atol=1e-5) and torch.allclose(std, valid.std(0, unbiased=False), atol=1e-5)
    result = fit(small_policy(), data, _Padded(8, steps=6, seed=1), _cfg(epochs=2, augment=NO_AUGMENT), tmp_path,
                 progress=False)
    assert all(r["val_loss"] < 10 for r in result.history)  # padded labels of 1e3 would give ~1e4


def test_learning_rate_scaling_rules():
    from navlnn.training.loop import scaled_lr

    assert scaled_lr(_cfg(batch_size=32)) == pytest.approx(5e-3)                      # none: as set
    assert scaled_lr(_cfg(batch_size=32, lr_scaling="sqrt")) == pytest.approx(1e-2)    # 4x the batch: 2x
    assert scaled_lr(_cfg(batch_size=16, lr_scaling="linear"), world=2) == pytest.approx(2e-2)
    with pytest.raises(ValueError, match="train.lr_scaling"):
        scaled_lr(_cfg(lr_scaling="cubic"))


def test_segments_need_a_batch_they_divide(tmp_path):
    with pytest.raises(ValueError, match="segment_windows=3 must be >= 1 and divide train.batch_size=8"):
        fit(_policy(), Windows(8), Windows(8, seed=1), _cfg(segment_windows=3), tmp_path, progress=False)
    with pytest.raises(ValueError, match="needs a dataset with segments"):
        fit(_policy(), Windows(8), Windows(8, seed=1), _cfg(segment_windows=2), tmp_path, progress=False)
