"""Per-sequence augmentation: each lever is the same across a window's frames, differs between
windows, is the identity at its neutral setting, keeps dtype and shape, and leaves today's
default augmentation unchanged."""

from __future__ import annotations

import pytest
import torch

from navlnn.training.augment import ImageAugment, affine_warp, gaussian_blur, rotate_hue

OFF = dict(brightness=0.0, contrast=0.0, saturation=0.0, noise_std=0.0)
# one setting per lever, with every other lever off
LEVERS = {
    "brightness": dict(brightness=0.4),
    "contrast": dict(contrast=0.4),
    "saturation": dict(saturation=0.4),
    "hue_deg": dict(hue_deg=60.0),
    "channel_gain": dict(channel_gain=0.3),
    "gamma": dict(gamma=0.5),
    "blur_sigma": dict(blur_sigma=2.0),
    "shift": dict(shift=0.1),
    "zoom": dict(zoom=0.3),
    "roll_deg": dict(roll_deg=10.0),
    "erase": dict(erase_prob=1.0, erase_area=(0.1, 0.3)),
}
NEUTRAL = {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "noise_std": 0.0, "hue_deg": 0.0,
           "channel_gain": 0.0, "gamma": 0.0, "blur_sigma": 0.0, "shift": 0.0, "zoom": 0.0, "roll_deg": 0.0,
           "erase_prob": 0.0}


def _scene(batch: int = 6, steps: int = 4, hw: tuple[int, int] = (24, 40)) -> torch.Tensor:
    """One textured colour frame repeated over every sequence and frame (so any difference is the augmentation)."""
    gen = torch.Generator().manual_seed(3)
    frame = torch.randint(30, 220, (1, 1, *hw, 3), generator=gen, dtype=torch.uint8)
    frame[..., 4:12, 6:20, 0] = 230  # a red sign, for hue and gains to act on
    return frame.expand(batch, steps, *hw, 3).contiguous()


@pytest.mark.parametrize("lever", sorted(LEVERS))
def test_each_lever_is_per_sequence_and_keeps_dtype_and_shape(lever):
    images = _scene()
    before = images.clone()
    out = ImageAugment(**{**OFF, **LEVERS[lever]})(images, torch.Generator().manual_seed(0))
    assert torch.equal(images, before), f"{lever}: changed the caller's frames"  # it works in place on a copy
    assert out.dtype == torch.uint8 and out.shape == images.shape
    assert torch.equal(out, out[:, :1].expand_as(out)), f"{lever}: frames of one sequence differ"
    changed = [not torch.equal(out[i], out[0]) for i in range(1, len(out))]
    assert all(changed), f"{lever}: sequences got the same draw ({changed})"
    assert not torch.equal(out, images), f"{lever}: did nothing"


def test_erasing_per_frame_differs_between_frames():
    images = _scene()
    out = ImageAugment(**OFF, erase_prob=1.0, erase_area=(0.1, 0.3), erase_per="frame")(
        images, torch.Generator().manual_seed(0))
    assert not torch.equal(out[:, 1], out[:, 0])
    erased = (out != images).any(-1).float().mean(dim=(2, 3))  # (B, T) share of the frame
    assert (erased > 0.02).all() and (erased < 0.35).all()


@pytest.mark.parametrize("lever", sorted(NEUTRAL))
def test_each_lever_is_the_identity_at_its_neutral_setting(lever):
    images = torch.randint(0, 256, (3, 5, 24, 40, 3), dtype=torch.uint8)
    others_on = {**OFF}  # every other lever off, this one at its neutral value
    out = ImageAugment(**{**others_on, lever: NEUTRAL[lever]})(images, torch.Generator().manual_seed(0))
    assert torch.equal(out, images)


def test_functional_transforms_at_neutral_and_full_turn():
    x = torch.randint(0, 256, (2, 3, 24, 40, 3)).float()
    torch.testing.assert_close(rotate_hue(x, torch.tensor([360.0, -360.0])), x, atol=1e-3, rtol=0)
    torch.testing.assert_close(rotate_hue(x, torch.zeros(2)), x, atol=1e-4, rtol=0)
    torch.testing.assert_close(gaussian_blur(x, torch.zeros(2)), x, atol=0, rtol=0)
    torch.testing.assert_close(affine_warp(x, torch.zeros(2, 2), torch.ones(2), torch.zeros(2)), x,
                               atol=1e-3, rtol=0)


def test_hue_rotation_keeps_greys_and_moves_red_toward_green():
    grey = torch.full((1, 1, 2, 2, 3), 120.0)
    torch.testing.assert_close(rotate_hue(grey, torch.tensor([77.0])), grey, atol=1e-3, rtol=0)
    red = torch.tensor([200.0, 40.0, 40.0]).view(1, 1, 1, 1, 3)
    turned = rotate_hue(red, torch.tensor([120.0])).flatten()
    torch.testing.assert_close(turned, torch.tensor([40.0, 200.0, 40.0]), atol=1e-3, rtol=0)  # a third of a turn


def test_shift_moves_the_content_by_the_fraction():
    x = torch.zeros(1, 1, 20, 40, 3)
    x[..., 10, 20, :] = 255.0
    out = affine_warp(x, torch.tensor([[0.1, 0.0]]), torch.ones(1), torch.zeros(1), "zeros")
    assert out[0, 0, 10, 24, 0] == pytest.approx(255.0, abs=1e-3)  # 0.1 of 40 pixels to the right


def test_default_augmentation_is_unchanged_by_the_new_levers():
    """Today's config (jitter and noise only) draws and returns exactly what it did before the levers."""
    images = torch.randint(0, 256, (3, 4, 24, 40, 3), dtype=torch.uint8)
    out = ImageAugment()(images, torch.Generator().manual_seed(7))
    gen = torch.Generator().manual_seed(7)  # the previous implementation, written out
    x = images.float()
    luma = torch.tensor((0.299, 0.587, 0.114))

    def factor(spread):
        return 1.0 + spread * (2.0 * torch.rand(3, 1, 1, 1, 1, generator=gen) - 1.0)

    grey = (x * luma).sum(-1, keepdim=True)
    x = grey + factor(0.3) * (x - grey)
    mean = (x * luma).sum(-1, keepdim=True).mean(dim=(1, 2, 3), keepdim=True)
    x = mean + factor(0.3) * (x - mean)
    x = x * factor(0.3)
    x = x + 4.0 * torch.randn(x.shape, generator=gen)
    assert torch.equal(out, x.round_().clamp_(0, 255).to(torch.uint8))


@pytest.mark.parametrize("bad", [dict(hue_deg=-1.0), dict(erase_per="clip"), dict(padding="wrap"),
                                 dict(erase_area=(0.5, 0.2)), dict(shift=0.6)])
def test_bad_settings_are_refused_with_the_key(bad):
    with pytest.raises(ValueError, match=r"train\.augment\."):
        ImageAugment(**bad)


def test_blur_keeps_flat_images_and_spreads_a_point_symmetrically():
    flat = torch.full((1, 2, 12, 16, 3), 90.0)
    torch.testing.assert_close(gaussian_blur(flat, torch.tensor([1.5])), flat, atol=1e-3, rtol=0)
    point = torch.zeros(1, 1, 13, 13, 3)
    point[0, 0, 6, 6] = 100.0
    out = gaussian_blur(point, torch.tensor([1.0]))[0, 0, ..., 0]
    assert out.sum() == pytest.approx(100.0, rel=1e-4) and out[6, 6] < 20.0
    torch.testing.assert_close(out, out.flip(0), atol=1e-4, rtol=0)
    torch.testing.assert_close(out, out.t(), atol=1e-4, rtol=0)
