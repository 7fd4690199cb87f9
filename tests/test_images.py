"""One image rule at every entry point: a phone photo with EXIF orientation 6 gives the same result as the upright image.

A camera held upright writes the picture lying on its side and stores
orientation 6 ("turn 90 degrees clockwise to view"). The reference, upright
image is made here from the stored pixels with numpy, by the EXIF spec's
wording, independent of vlmlab and of Pillow's ``exif_transpose``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import save_tiny_clip


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """``(path, upright)``: a JPEG stored sideways with orientation 6, and the upright PIL image it shows."""
    rows, cols = np.mgrid[0:40, 0:24]  # upright: 40 tall, 24 wide; every pixel different
    upright = np.stack([rows * 6, cols * 10, (rows * cols) % 256], axis=-1).astype(np.uint8)
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # what the sensor wrote: 24 tall, 40 wide
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path_factory.mktemp("exif") / "phone.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    with Image.open(path) as image:  # the decoded (lossy) stored pixels, turned by the spec: row 0 goes right
        shown = np.ascontiguousarray(np.rot90(np.asarray(image.convert("RGB")), -1))
    assert shown.shape == (40, 24, 3)
    return path, Image.fromarray(shown)


def same(a, b):
    """Equal results: tensors, arrays, PIL images, and tuples / lists / dicts of them."""
    if isinstance(a, Image.Image):
        return a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))
    if isinstance(a, torch.Tensor):
        return a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def plan_result(plan):
    return (plan.grid, plan.resized, plan.canvas, plan.offset, plan.image_size, plan.tiles, plan.thumbnail)


def entry_points():
    """(name, function of a PIL image) for every public function that takes an image."""
    from vlmlab import data, plotting, preprocess, tiling
    from vlmlab.widgets.patches import fit_to_patches

    return [
        ("data.load_image", data.load_image),
        ("preprocess.to_rgb", preprocess.to_rgb),
        ("preprocess.to_uint8_tensor", preprocess.to_uint8_tensor),
        ("preprocess.clip_transform", lambda im: preprocess.clip_transform(16)(im)),
        ("preprocess.document_transform", lambda im: preprocess.document_transform(im, 48)),
        ("preprocess.expand_to_square", preprocess.expand_to_square),
        *[(f"tiling.plan_tiles[{m}]", lambda im, m=m: plan_result(tiling.plan_tiles(im, m, tile_size=16)))
          for m in tiling.METHODS],
        ("tiling.split_image_to_tiles", lambda im: tiling.split_image_to_tiles(im, tile_size=16)),
        ("tiling.llava_next_pixel_values", lambda im: tiling.llava_next_pixel_values(im, 16)),
        ("tiling.qwen2_vl_pixel_values",
         lambda im: tiling.qwen2_vl_pixel_values(im, patch_size=4, min_pixels=64, max_pixels=4096)),
        ("plotting.as_display_array", plotting.as_display_array),
        ("widgets.patches.fit_to_patches", lambda im: fit_to_patches(im, 8, (32, 32))),
    ]


@pytest.mark.parametrize("name, entry", entry_points(), ids=[n for n, _ in entry_points()])
def test_every_entry_point_turns_the_photo_upright(photo, name, entry):
    path, upright = photo
    with Image.open(path) as sideways:
        assert sideways.size == (40, 24)  # PIL's (width, height): stored lying on its side
        got = entry(sideways)
    assert same(got, entry(upright)), name


def test_load_image_from_the_path(photo):
    from vlmlab.data import load_image

    path, upright = photo
    assert same(load_image(path), upright)


def test_tile_planner_figure(photo):
    import matplotlib.pyplot as plt

    from vlmlab.widgets.tiling import tile_plan_figure

    path, upright = photo
    with Image.open(path) as sideways:
        fig, info = tile_plan_figure(sideways, "llava-next", tile_size=16, patch_size=4)
    plt.close(fig)
    fig, expected = tile_plan_figure(upright, "llava-next", tile_size=16, patch_size=4)
    plt.close(fig)
    assert info == expected and info["image_size"] == (40, 24)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    from vlmlab.clip import VLMVisionEncoder

    return VLMVisionEncoder(save_tiny_clip(tmp_path_factory.mktemp("tiny-clip")))


def test_dynamic_encoder(photo, encoder):
    from vlmlab.dynamic import DynamicResolutionEncoder

    path, upright = photo
    dyn = DynamicResolutionEncoder(encoder)
    with Image.open(path) as sideways:
        got = dyn([sideways])[0]
    assert same(got, dyn([upright])[0])
    assert got.shape[0] == dyn.grid((40, 24))[0] * dyn.grid((40, 24))[1]  # the upright grid


@pytest.mark.parametrize("tiling", [None, "naive", "llava-next", "internvl", "dynamic"])
def test_pipeline_encode_image(photo, encoder, tiling):
    from vlmlab.pipeline import VLMVisionPipeline

    path, upright = photo
    torch.manual_seed(0)
    pipe = VLMVisionPipeline(encoder, llm_dim=16, tiling=tiling).eval()
    with torch.no_grad():
        with Image.open(path) as sideways:
            tokens, record = pipe.encode_image(sideways)
        expected, expected_record = pipe.encode_image(upright)
    assert record.image_size == expected_record.image_size == (40, 24)
    assert same(tokens, expected), tiling


def test_encoder_preprocess_and_attention_explorer(photo, encoder):
    """The encoder's own processor path and the CLIP attention explorer turn the photo upright too."""
    from vlmlab.widgets.clip import clip_attentions

    path, upright = photo
    with Image.open(path) as sideways:
        got = encoder.preprocess(sideways)
        got_list = encoder.preprocess([sideways, sideways])
        attn = clip_attentions(encoder.vision_model, encoder.processor, sideways)
    assert same(got, encoder.preprocess(upright))
    assert same(got_list[1:], got)
    assert same(attn["image"], clip_attentions(encoder.vision_model, encoder.processor, upright)["image"])
