"""vlmlab.preprocess: the CLIP transform equals transformers' CLIPImageProcessor; document pipeline; bad input."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image

from vlmlab import preprocess
from vlmlab.preprocess import (CLIP_MEAN, CLIP_STD, clip_transform, denormalise, document_transform,
                               expand_to_square, normalise, to_rgb, to_uint8_tensor)

from helpers import random_image

STD = torch.tensor(CLIP_STD).view(3, 1, 1)


def uint8_levels(a, b):
    """Largest difference between two normalised tensors, in uint8 levels."""
    return float(((a - b) * STD * 255).abs().max())


def hf_clip(size):
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def test_clip_transform_matches_hf_processor_on_random_sizes():
    rng = random.Random(0)
    cases = [(rng.randint(20, 400), rng.randint(20, 400), rng.choice([16, 32, 64, 224])) for _ in range(60)]
    # odd and even side-minus-crop margins, both orientations (227 - 224 = 3: the rounding case)
    cases += [(227, 300, 224), (300, 227, 224), (225, 225, 224), (229, 231, 224), (65, 97, 64)]
    for i, (height, width, size) in enumerate(cases):
        image = random_image(height, width, i)
        expected = hf_clip(size)(images=image, return_tensors="pt")["pixel_values"][0]
        ours = clip_transform(size)(image)
        assert ours.shape == expected.shape == (3, size, size)
        assert uint8_levels(ours, expected) <= 2, (height, width, size)


def test_torchvision_centre_crop_differs_on_odd_margins():
    """Why CenterCropFloor exists: torchvision rounds the crop offset, transformers floors it."""
    from torchvision.transforms import v2

    x = torch.arange(7 * 7, dtype=torch.float32).view(1, 7, 7)  # margin 7 - 4 = 3: offset 1.5
    assert v2.CenterCrop(4)(x)[0, 0, 0] == 2 * 7 + 2  # rounds 1.5 to 2
    assert preprocess.CenterCropFloor(4)(x)[0, 0, 0] == 1 * 7 + 1  # floors to 1, as transformers


def test_clip_transform_train_shapes_and_randomness():
    t = clip_transform(32, train=True)
    image = random_image(50, 80)
    a, b = t(image), t(image)
    assert a.shape == b.shape == (3, 32, 32)
    assert not torch.equal(a, b)  # random crop / flip


def test_other_modes_convert_like_load_image():
    rgb = random_image(40, 50)
    for mode in ("L", "RGBA", "P", "CMYK"):
        out = clip_transform(32)(rgb.convert(mode))
        assert out.shape == (3, 32, 32)
    sixteen = Image.fromarray(np.full((40, 40), 65535, dtype=np.uint16))  # 16-bit white
    white = clip_transform(32)(sixteen)
    torch.testing.assert_close(denormalise(white), torch.ones(3, 32, 32), atol=1e-5, rtol=0)


def test_denormalise_inverts_normalisation():
    x = torch.rand(2, 3, 8, 8)
    normed = (x - torch.tensor(CLIP_MEAN).view(3, 1, 1)) / STD
    torch.testing.assert_close(denormalise(normed), x)
    with pytest.raises(ValueError, match="3, H, W"):
        denormalise(torch.zeros(4, 8, 8))


def test_document_transform_keeps_aspect_and_pads_white():
    page = Image.new("RGB", (170, 220), (10, 10, 10))  # w x h
    out = document_transform(page, target_size=110, sharpen=False)
    assert out.size == (110, 110)
    arr = np.asarray(out)
    new_w = int(170 * 110 / 220)  # 85
    left = (110 - new_w) // 2
    assert (arr[:, :left] == 255).all() and (arr[:, left + new_w:] == 255).all()  # white padding
    assert (arr[:, left + 2:left + new_w - 2] < 40).all()  # the page itself
    assert document_transform(page, 110).size == (110, 110)  # sharpened too


def test_expand_to_square_uses_clip_mean():
    out = expand_to_square(Image.new("RGB", (40, 10), (255, 0, 0)))
    assert out.size == (40, 40)
    assert out.getpixel((0, 0)) == (122, 116, 104)
    assert out.getpixel((20, 20)) == (255, 0, 0)
    with pytest.raises(ValueError, match=r"background must be an \(r, g, b\) triple of ints in 0..255, got \(300, 0, 0\)"):
        expand_to_square(Image.new("RGB", (4, 2)), background=(300, 0, 0))
    with pytest.raises(TypeError, match="background must be an"):
        expand_to_square(Image.new("RGB", (4, 2)), background="red")


def test_extreme_sizes():
    assert clip_transform(32)(Image.new("RGB", (1, 1))).shape == (3, 32, 32)
    assert clip_transform(32)(Image.new("RGB", (150, 1))).shape == (3, 32, 32)  # ratio 150: allowed
    with pytest.raises(ValueError, match="aspect ratio 5000.0 .* over the limit of 200"):
        clip_transform(224)(Image.new("RGB", (5000, 1)))  # would be a 224 x 1,120,000 strip
    assert document_transform(Image.new("RGB", (5000, 1)), 64).size == (64, 64)  # fit inside: fine
    with pytest.raises(ValueError, match="more than the limit of 89,478,485 pixels"):
        clip_transform(224)(Image.new("1", (20000, 20000)))  # refused before the RGB copy (1.2 GB)


def test_bad_arguments():
    with pytest.raises(ValueError, match="image_size must be a positive int"):
        clip_transform(0)
    with pytest.raises(TypeError, match="PIL"):
        clip_transform(32)(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="target_size must be a positive int"):
        document_transform(Image.new("RGB", (4, 4)), -1)


# ----------------------------------------------------------------------------- the one image and tensor rules


def test_to_uint8_tensor_is_channels_first_uint8():
    image = Image.new("RGB", (3, 2))  # 3 wide, 2 tall
    image.putdata([(1, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12), (13, 14, 15), (16, 17, 18)])
    x = to_uint8_tensor(image)
    assert x.dtype == torch.uint8 and x.shape == (3, 2, 3)  # (C, H, W)
    assert x[:, 1, 2].tolist() == [16, 17, 18]  # row 1, column 2
    assert x[0].tolist() == [[1, 4, 7], [10, 13, 16]]


def test_normalise_hand_worked():
    x = torch.tensor([0, 255, 128], dtype=torch.uint8).view(3, 1, 1).expand(3, 1, 2)
    out = normalise(x, mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0))
    assert out.dtype == torch.float32 and out.shape == (3, 1, 2)
    expected = [(0 - 0.5) / 0.25, (1 - 0.5) / 0.5, (128 / 255 - 0.5) / 1.0]
    torch.testing.assert_close(out[:, 0, 0], torch.tensor(expected), atol=1e-6, rtol=0)
    # a float image in [0, 1] is not rescaled again
    torch.testing.assert_close(normalise(x.float() / 255, (0.5,) * 3, (0.25, 0.5, 1.0)), out, atol=1e-6, rtol=0)


def test_normalise_matches_transformers_rescale_and_normalize():
    from transformers import CLIPImageProcessor

    image = random_image(32, 32)  # already at the processor's size: only rescale + normalise act
    theirs = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})(
        images=image, return_tensors="pt")["pixel_values"][0]
    torch.testing.assert_close(normalise(to_uint8_tensor(image)), theirs, atol=1e-6, rtol=0)


def test_normalise_bad_input():
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        normalise(np.zeros((3, 2, 2)))
    with pytest.raises(TypeError, match="uint8 .* or float .*, got dtype torch.int64"):
        normalise(torch.zeros(3, 2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"x must be \(\.\.\., 3, H, W\)"):
        normalise(torch.zeros(4, 2, 2))


def test_pixel_limit_is_read_when_called(monkeypatch):
    image = Image.new("L", (40, 30))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1199)
    with pytest.raises(ValueError, match=r"image is 30x40 \(height x width\) = 1,200 pixels, more than the limit of 1,199"):
        to_rgb(image)
    with pytest.raises(ValueError, match="more than the limit of 1,199"):
        clip_transform(16)(image)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1200)
    assert to_rgb(image).size == (40, 30)
    larger = Image.new("1", (41, 30))  # 1,230 pixels: over the limit of 1,200 ...
    with pytest.raises(ValueError, match="more than the limit of 1,200"):
        clip_transform(16)(larger)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # ... until Pillow's way to turn the guard off
    assert clip_transform(16)(larger).shape == (3, 16, 16)


def test_empty_images_are_refused():
    for size in [(0, 5), (5, 0)]:
        with pytest.raises(ValueError, match=r"image is empty: \(height, width\) = "):
            to_rgb(Image.new("RGB", size))
    with pytest.raises(ValueError, match=r"picture is empty"):
        to_rgb(Image.new("RGB", (0, 0)), name="picture")


def test_image_mean_std():
    from transformers import CLIPImageProcessor

    assert preprocess.image_mean_std(None) == (CLIP_MEAN, CLIP_STD)
    processor = CLIPImageProcessor(image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25])
    assert preprocess.image_mean_std(processor) == ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
