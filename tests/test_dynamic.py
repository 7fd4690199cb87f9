"""vlmlab.dynamic: smart_resize, tiles one by one, the dynamic-resolution encoder against transformers' CLIP, padding masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlmlab import dynamic, tiling
from vlmlab.posembed import interpolate_pos_embed
from vlmlab.dynamic import DynamicResolutionEncoder, encode_tiles, pad_batch

from helpers import random_image as image


@pytest.fixture(scope="module")
def encoder():
    """A tiny random CLIP vision tower (image 32, patch 8: a 4x4 grid), wrapped as a VLM reads it."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    from vlmlab.clip import VLMVisionEncoder

    torch.manual_seed(0)
    config = CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37,
                              num_hidden_layers=2, num_attention_heads=4)
    return VLMVisionEncoder(CLIPVisionModel(config))


def hf_features(encoder, img, size):
    """The reference: transformers' CLIPImageProcessor resizes to ``size`` (no crop), CLIPVisionModel runs with
    interpolate_pos_encoding=True; the penultimate layer without CLS, as VLMVisionEncoder reads it."""
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor(size={"height": size[0], "width": size[1]}, do_center_crop=False)
    pixel_values = processor(images=img, return_tensors="pt")["pixel_values"]
    assert pixel_values.shape[-2:] == size
    with torch.no_grad():
        out = encoder.vision_model(pixel_values, output_hidden_states=True, interpolate_pos_encoding=True)
    return out.hidden_states[-2][0, 1:]


def test_encode_tiles_concatenates_each_tiles_patches(encoder):
    tiles = [image(32, 32, i) for i in range(3)]
    out = encode_tiles(encoder, tiles)
    assert out.shape == (1, 3 * 16, encoder.output_dim)  # 3 tiles x (32/8)² patches
    one = encode_tiles(encoder, tiles[1:2])
    torch.testing.assert_close(out[:, 16:32], one)  # tiles are encoded independently


def test_smart_resize_has_one_definition_that_tiling_re_exports():
    assert tiling.smart_resize is dynamic.smart_resize
    assert dynamic.smart_resize(1080, 1920) == (728, 1316)  # the released Qwen2-VL rule at its class defaults


def test_dynamic_output_lengths_follow_smart_resize(encoder):
    dyn = DynamicResolutionEncoder(encoder, merge_size=2)
    sizes = [(32, 32), (50, 120), (300, 20), (7, 9)]
    outs = dyn([image(h, w, i) for i, (h, w) in enumerate(sizes)])
    for (h, w), out in zip(sizes, outs):
        th, tw = dynamic.smart_resize(h, w, 16, dyn.min_pixels, dyn.max_pixels)
        assert out.shape == ((th // 8) * (tw // 8), encoder.output_dim)
        assert (th // 8) % 2 == 0 and (tw // 8) % 2 == 0  # the 2x2 merge divides the grid


@pytest.mark.parametrize("size", [(50, 120), (120, 50), (70, 70)])
def test_dynamic_equals_transformers_clip_with_interpolated_positions(encoder, size):
    """Same numbers as transformers' processor + CLIP with interpolate_pos_encoding=True at the smart-resized size."""
    dyn = DynamicResolutionEncoder(encoder)
    img = image(*size, seed=size[0])
    target = dynamic.smart_resize(*size, 16, dyn.min_pixels, dyn.max_pixels)  # patch 8 x merge 2
    assert target != (32, 32)  # a grid the position table was not trained on
    torch.testing.assert_close(dyn([img])[0], hf_features(encoder, img, target), atol=1e-5, rtol=1e-5)


def test_dynamic_at_native_size_is_the_plain_encoder(encoder):
    """At the trained 32x32 there is nothing to interpolate: transformers' CLIP as it stands."""
    dyn = DynamicResolutionEncoder(encoder)
    img = image(32, 32)
    assert dyn.pixel_values(img).shape[-2:] == (32, 32)
    torch.testing.assert_close(dyn([img])[0], hf_features(encoder, img, (32, 32)), atol=1e-5, rtol=1e-5)


def test_no_second_position_table(encoder):
    dyn = DynamicResolutionEncoder(encoder)
    assert sum(p.numel() for p in dyn.parameters()) == sum(p.numel() for p in encoder.parameters())


def test_pad_batch_masks():
    feats = [torch.ones(3, 4), 2 * torch.ones(5, 4), torch.zeros(1, 4)]
    padded, mask = pad_batch(feats)
    assert padded.shape == (3, 5, 4) and mask.shape == (3, 5) and mask.dtype == torch.bool
    assert mask.sum(1).tolist() == [3, 5, 1]
    assert torch.equal(padded[0, :3], feats[0]) and (padded[0, 3:] == 0).all()
    with pytest.raises(ValueError, match="same D"):
        pad_batch([torch.ones(2, 4), torch.ones(2, 3)])
    with pytest.raises(ValueError, match="non-empty"):
        pad_batch([])


def test_1d_flattened_interpolation_mixes_rows_2d_does_not():
    table = dynamic.coordinate_table((4, 4))  # channel 0 = row, channel 1 = column
    rows_2d = interpolate_pos_embed(table, (3, 6), num_prefix_tokens=0, old_grid=(4, 4))[:, 0].view(3, 6)
    rows_1d = dynamic.interpolate_1d_flattened(table, 18)[:, 0].view(3, 6)
    assert torch.allclose(rows_2d, rows_2d[:, :1].expand(3, 6))  # each new row reads one row height
    assert (rows_1d.max(1).values - rows_1d.min(1).values > 0.9).all()  # each 1-D "row" spans two old rows


def test_naive_resize_breaks_its_own_maximum():
    # scale = max(min(1344 / 2000, 1), 224 / 100) = 2.24: the minimum wins, 2000 -> 4480 > 1344
    assert dynamic.naive_resize_size((100, 2000), patch_size=14, min_size=224, max_size=1344) == (224, 4480)


def test_bad_arguments(encoder):
    with pytest.raises(ValueError, match="min_pixels must be <= max_pixels"):
        DynamicResolutionEncoder(encoder, min_pixels=10_000, max_pixels=100)
    with pytest.raises(TypeError, match="list of PIL"):
        DynamicResolutionEncoder(encoder)("not an image")
    with pytest.raises(ValueError, match="at least one PIL image"):
        DynamicResolutionEncoder(encoder)([])
    with pytest.raises(TypeError, match=r"images\[1\] must be a PIL.Image.Image, got ndarray"):
        DynamicResolutionEncoder(encoder)([image(32, 32), np.zeros((32, 32, 3))])
    with pytest.raises(TypeError, match="encoder must have a patch_size"):
        DynamicResolutionEncoder(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="features must be a list"):
        pad_batch(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="aspect ratio"):
        DynamicResolutionEncoder(encoder)([image(1, 400)])
    with pytest.raises(ValueError, match="at least one"):
        encode_tiles(encoder, [])
