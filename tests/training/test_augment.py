"""Per-sequence augmentation: each lever is the same across a window's frames, differs between
windows, is the identity at its neutral setting and keeps dtype and shape, in the fast
implementation and the reference it replaced; the two agree for the same draws."""

from __future__ import annotations

import pytest
import torch

from navlnn.training.augment import ImageAugment
from navlnn.training.augment_reference import ReferenceAugment, affine_warp, gaussian_blur, rotate_hue

IMPLS = [ImageAugment, ReferenceAugment]

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


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("lever", sorted(LEVERS))
def test_each_lever_is_per_sequence_and_keeps_dtype_and_shape(lever, impl):
    images = _scene()
    before = images.clone()
    out = impl(**{**OFF, **LEVERS[lever]})(images, torch.Generator().manual_seed(0))
    assert torch.equal(images, before), f"{lever}: changed the caller's frames"  # it works in place on a copy
    assert out.dtype == torch.uint8 and out.shape == images.shape
    assert torch.equal(out, out[:, :1].expand_as(out)), f"{lever}: frames of one sequence differ"
    changed = [not torch.equal(out[i], out[0]) for i in range(1, len(out))]
    assert all(changed), f"{lever}: sequences got the same draw ({changed})"
    assert not torch.equal(out, images), f"{lever}: did nothing"


@pytest.mark.parametrize("impl", IMPLS)
def test_erasing_per_frame_differs_between_frames(impl):
    images = _scene()
    out = impl(**OFF, erase_prob=1.0, erase_area=(0.1, 0.3), erase_per="frame")(
        images, torch.Generator().manual_seed(0))
    assert not torch.equal(out[:, 1], out[:, 0])
    erased = (out != images).any(-1).float().mean(dim=(2, 3))  # (B, T) share of the frame
    assert (erased > 0.02).all() and (erased < 0.35).all()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("lever", sorted(NEUTRAL))
def test_each_lever_is_the_identity_at_its_neutral_setting(lever, impl):
    images = torch.randint(0, 256, (3, 5, 24, 40, 3), dtype=torch.uint8)
    others_on = {**OFF}  # every other lever off, this one at its neutral value
    out = impl(**{**others_on, lever: NEUTRAL[lever]})(images, torch.Generator().manual_seed(0))
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


def test_reference_keeps_the_previous_default_augmentation():
    """The reference draws and returns exactly what training did before the fast implementation."""
    images = torch.randint(0, 256, (3, 4, 24, 40, 3), dtype=torch.uint8)
    out = ReferenceAugment()(images, torch.Generator().manual_seed(7))
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


# levers whose operations are the same in both implementations (gamma moved first, noise is drawn
# differently): the same generator gives the same draws, so the frames agree to a grey level
SAME_OPERATIONS = {
    "jitter": dict(brightness=0.4, contrast=0.4, saturation=0.4),
    "colour": dict(brightness=0.4, contrast=0.4, saturation=0.4, hue_deg=30.0, channel_gain=0.2),
    "gamma alone": dict(**OFF, gamma=0.5),
    "blur and erasing": dict(blur_sigma=1.5, erase_prob=0.7),
    "erasing per frame": dict(erase_prob=0.7, erase_per="frame"),
    "geometry border": dict(shift=0.05, zoom=0.1, roll_deg=5.0),
    "geometry reflection": dict(shift=0.05, zoom=0.1, roll_deg=5.0, padding="reflection"),
    "geometry zeros": dict(shift=0.1, padding="zeros"),
}


@pytest.mark.parametrize("name", sorted(SAME_OPERATIONS))
def test_fast_agrees_with_the_reference_where_the_operations_are_the_same(name):
    images = torch.randint(0, 256, (4, 6, 36, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    settings = {"noise_std": 0.0, **SAME_OPERATIONS[name]}
    fast = ImageAugment(**settings)(images, torch.Generator().manual_seed(5)).int()
    reference = ReferenceAugment(**settings)(images, torch.Generator().manual_seed(5)).int()
    difference = (fast - reference).abs()
    assert difference.max() <= 1, f"{name}: frames differ by up to {int(difference.max())} grey levels"
    assert (difference > 0).float().mean() < 1e-3   # rounding ties only


RECIPE = dict(brightness=0.4, contrast=0.4, saturation=0.4, noise_std=6.0, hue_deg=30.0, channel_gain=0.2,
              gamma=0.3, blur_sigma=1.0, erase_prob=0.5)


def test_fast_has_the_reference_statistics_with_every_recipe_lever():
    """Round 4's levers (gamma reordered, noise from the bank): the distribution of what a sequence
    looks like (its mean colour, contrast and frame-to-frame change) matches the reference's."""
    images = _scene(batch=200, steps=3, hw=(18, 30))

    def stats(impl):
        out = impl(**RECIPE)(images, torch.Generator().manual_seed(11)).float()
        per_seq_mean = out.mean(dim=(1, 2, 3))               # (B, 3) mean colour of each sequence
        spread = out.std(dim=(1, 2, 3)).mean(-1)              # (B,) contrast
        flicker = (out[:, 1] - out[:, 0]).std(dim=(1, 2, 3)).mean(-1)   # frame-to-frame: the noise
        return per_seq_mean, spread, flicker

    fast, reference = stats(ImageAugment), stats(ReferenceAugment)
    torch.testing.assert_close(fast[0].mean(0), reference[0].mean(0), atol=3.0, rtol=0)
    torch.testing.assert_close(fast[0].std(0), reference[0].std(0), atol=3.0, rtol=0.15)
    assert abs(float(fast[1].mean() - reference[1].mean())) < 2.0
    assert abs(float(fast[2].mean() - reference[2].mean())) < 0.5


def test_noise_is_new_in_every_frame_with_the_set_spread():
    grey = torch.full((40, 6, 24, 40, 3), 128, dtype=torch.uint8)
    out = ImageAugment(**{**OFF, "noise_std": 6.0})(grey, torch.Generator().manual_seed(0)).float() - 128.0
    assert abs(float(out.mean())) < 0.05 and abs(float(out.std()) - 6.0) < 0.1
    flat = out.flatten(2)                                     # (B, T, pixels)
    corr = torch.corrcoef(torch.cat([flat[:, 0], flat[:, 1]]))[:40, 40:].diagonal()
    # consecutive frames' noise is independent: correlations within sampling error (1/sqrt(2880) = 0.019)
    assert corr.abs().max() < 0.1 and abs(float(corr.mean())) < 0.01
    assert not torch.equal(out[0], out[1])


def test_draws_depend_on_the_generator_and_the_noise_on_its_seed():
    images = _scene()
    a = ImageAugment(**RECIPE)(images, torch.Generator().manual_seed(1))
    assert torch.equal(a, ImageAugment(**RECIPE)(images, torch.Generator().manual_seed(1)))
    assert not torch.equal(a, ImageAugment(**RECIPE)(images, torch.Generator().manual_seed(2)))
    assert not torch.equal(a, ImageAugment(**RECIPE, noise_seed=1)(images, torch.Generator().manual_seed(1)))


def test_sequences_of_any_length_laid_end_to_end_get_one_draw_each():
    images = _scene(batch=1, steps=9)[0]                      # (9, H, W, 3): sequences of 2, 3 and 4 frames
    out = ImageAugment(**{**OFF, "hue_deg": 90.0, "brightness": 0.3}).frames(
        images, [2, 3, 4], torch.Generator().manual_seed(0))
    parts = out.split([2, 3, 4])
    for part in parts:
        assert torch.equal(part, part[:1].expand_as(part))
    assert not torch.equal(parts[0][0], parts[1][0]) and not torch.equal(parts[1][0], parts[2][0])
    with pytest.raises(ValueError, match="lengths"):
        ImageAugment().frames(images, [2, 3])
    with pytest.raises(ValueError, match="segment_windows=1"):
        ReferenceAugment().frames(images, [2, 3, 4])


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


@pytest.mark.parametrize("name", sorted(SAME_OPERATIONS) + ["recipe"])
def test_the_device_path_gives_the_frames_of_the_cpu_path(name):
    """The torch path a GPU runs (tested here on the CPU) and the OpenCV path agree for the same draws."""
    from navlnn.training.augment_device import augment_on_device

    settings = {**(RECIPE if name == "recipe" else SAME_OPERATIONS[name]), "noise_std": 0.0}
    augment = ImageAugment(**settings)
    frames = torch.randint(0, 256, (12, 36, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    draws = augment.draw([5, 4, 3], (36, 64), torch.Generator().manual_seed(6))
    cpu = augment.frames(frames, [5, 4, 3], draws=draws).int()
    device = augment_on_device(augment, frames, [5, 4, 3], draws).int()
    difference = (cpu - device).abs()
    assert difference.max() <= 1 and (difference > 0).float().mean() < 1e-3
    noisy = augment_on_device(ImageAugment(**{**settings, "noise_std": 6.0}), frames, [5, 4, 3], draws,
                              torch.Generator().manual_seed(0)).int()
    away_from_clipping = (device > 30) & (device < 225)
    assert abs(float((noisy - device)[away_from_clipping].float().std()) - 6.0) < 0.3


def test_a_batch_whose_longest_sequence_needs_a_larger_noise_bank_augments_every_sequence():
    """Every sequence of a batch reads the one bank sized by the longest (a short one beside a long one
    once read past the end of a smaller bank)."""
    from navlnn.training.augment import NOISE_BANK_MIN

    long = NOISE_BANK_MIN // (4 * 24 * 40 * 3) + 10            # frames: more than a quarter of the smallest bank
    frames = torch.full((long + 5, 24, 40, 3), 128, dtype=torch.uint8)
    out = ImageAugment(**{**OFF, "noise_std": 6.0}).frames(frames, [long, 5], torch.Generator().manual_seed(0))
    noise = out.float() - 128.0
    assert abs(float(noise[long:].std()) - 6.0) < 0.3 and abs(float(noise[:long].std()) - 6.0) < 0.1
