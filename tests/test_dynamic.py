"""vlmlab.dynamic: the seed's tile loop, the fixed dynamic-resolution encoder, padding masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vlmlab import dynamic, tiling
from vlmlab.dynamic import DynamicResolutionEncoder, encode_tiles, pad_batch


@pytest.fixture(scope="module")
def encoder():
    """A tiny random CLIP vision tower (image 32, patch 8: a 4x4 grid), wrapped as a VLM reads it."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    from vlmlab.clip import VLMVisionEncoder

    torch.manual_seed(0)
    config = CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37,
                              num_hidden_layers=2, num_attention_heads=4)
    return VLMVisionEncoder(CLIPVisionModel(config))


def image(height, width, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_encode_tiles_concatenates_each_tiles_patches(encoder):
    tiles = [image(32, 32, i) for i in range(3)]
    out = encode_tiles(encoder, tiles)
    assert out.shape == (1, 3 * 16, encoder.output_dim)  # 3 tiles x (32/8)² patches
    one = encode_tiles(encoder, tiles[1:2])
    torch.testing.assert_close(out[:, 16:32], one)  # tiles are encoded independently


def test_dynamic_output_lengths_follow_smart_resize(encoder):
    dyn = DynamicResolutionEncoder(encoder, merge_size=2)
    sizes = [(32, 32), (50, 120), (300, 20), (7, 9)]
    outs = dyn([image(h, w, i) for i, (h, w) in enumerate(sizes)])
    for (h, w), out in zip(sizes, outs):
        th, tw = tiling.smart_resize(h, w, 16, dyn.min_pixels, dyn.max_pixels)
        assert out.shape == ((th // 8) * (tw // 8), encoder.output_dim)
        assert (th // 8) % 2 == 0 and (tw // 8) % 2 == 0  # the 2x2 merge divides the grid


def test_dynamic_equals_clip_with_2d_interpolated_positions(encoder):
    """Same numbers as running HF CLIP with interpolate_pos_encoding=True on the same pixels."""
    dyn = DynamicResolutionEncoder(encoder)
    img = image(50, 120)
    pixel_values = dyn.pixel_values(img)
    expected = encoder.vision_model(pixel_values, output_hidden_states=True,
                                    interpolate_pos_encoding=True).hidden_states[-2][0, 1:]
    torch.testing.assert_close(dyn([img])[0], expected)


def test_dynamic_at_native_size_is_the_plain_encoder(encoder):
    dyn = DynamicResolutionEncoder(encoder)
    img = image(32, 32)
    pixel_values = dyn.pixel_values(img)
    assert pixel_values.shape[-2:] == (32, 32)
    torch.testing.assert_close(dyn([img])[0], encoder(pixel_values)[0])


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
    rows_2d = dynamic.interpolate_2d(table, (4, 4), (3, 6))[:, 0].view(3, 6)
    rows_1d = dynamic.interpolate_1d_flattened(table, 18)[:, 0].view(3, 6)
    assert torch.allclose(rows_2d, rows_2d[:, :1].expand(3, 6))  # each new row reads one row height
    assert (rows_1d.max(1).values - rows_1d.min(1).values > 0.9).all()  # each 1-D "row" spans two old rows


def test_seed_resize_breaks_its_own_maximum():
    h, w = dynamic.seed_resize_size((100, 2000), patch_size=14, min_size=224, max_size=1344)
    assert w > 1344


def test_bad_arguments(encoder):
    with pytest.raises(ValueError, match="min_pixels must be <= max_pixels"):
        DynamicResolutionEncoder(encoder, min_pixels=10_000, max_pixels=100)
    with pytest.raises(TypeError, match="list of PIL"):
        DynamicResolutionEncoder(encoder)("not an image")
    with pytest.raises(ValueError, match="aspect ratio"):
        DynamicResolutionEncoder(encoder)([image(1, 400)])
    with pytest.raises(ValueError, match="at least one"):
        encode_tiles(encoder, [])
