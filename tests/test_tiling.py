"""vlmlab.tiling against transformers: LLaVA-NeXT anyres, InternVL tiles, Qwen2-VL smart resize.

Random sizes are drawn from a seeded generator, so a failure names a size that
can be replayed. Images are small (the processors' pixels are compared on a
few; the pure arithmetic on hundreds of sizes).
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from PIL import Image

from vlmlab import tiling
from vlmlab.tiling import (
    LLAVA_NEXT_GRID_PINPOINTS,
    TilePlan,
    internvl_grid,
    llava_next_num_tokens,
    llava_next_pack,
    naive_grid,
    plan_tiles,
    scaled_pinpoints,
    select_best_resolution,
    smart_resize,
    split_image_to_tiles,
)

from helpers import llava_next_processor, random_image, random_sizes
from processors import written


def geometry_plan(image_size, tile_size):
    """A LLaVA-NeXT TilePlan without pixels (the packing reads only its geometry)."""
    layout = tiling.llava_next_layout(image_size, tile_size)
    return TilePlan("llava-next", tiles=[], thumbnail=None, grid=layout.grid, image_size=image_size,
                    resized=layout.resized, canvas=layout.canvas, offset=layout.offset, tile_size=tile_size)


# ----------------------------------------------------------------------------- LLaVA-NeXT


def test_select_best_resolution_hand_worked():
    # 336x336 fits 336x672 and 672x672 equally (all 336² pixels kept, no upscaling counted);
    # 336x672 wastes 336² pixels, 672x672 wastes 3 * 336², so 336x672 wins.
    assert select_best_resolution((336, 336), LLAVA_NEXT_GRID_PINPOINTS) == (336, 672)
    assert select_best_resolution((1000, 1000), LLAVA_NEXT_GRID_PINPOINTS) == (672, 672)
    assert select_best_resolution((300, 1000), LLAVA_NEXT_GRID_PINPOINTS) == (336, 1008)


def test_select_best_resolution_matches_transformers():
    from transformers.image_processing_utils import select_best_resolution as reference

    rng = random.Random(1)
    for height, width in random_sizes(500):
        pins = [list(p) for p in LLAVA_NEXT_GRID_PINPOINTS]
        assert select_best_resolution((height, width), pins) == tuple(reference((height, width), pins)), (height, width)
        # other candidate lists: the toy tile size, and random lists
        small = [list(p) for p in scaled_pinpoints(64)]
        assert select_best_resolution((height, width), small) == tuple(reference((height, width), small))
        cands = [[rng.randint(1, 2000), rng.randint(1, 2000)] for _ in range(rng.randint(1, 6))]
        assert select_best_resolution((height, width), cands) == tuple(reference((height, width), cands))


def test_resized_size_matches_transformers():
    from transformers.image_processing_utils import get_patch_output_size

    for height, width in random_sizes(300, seed=2):
        target = select_best_resolution((height, width), LLAVA_NEXT_GRID_PINPOINTS)
        fake_image = np.zeros((height, width, 1), dtype=np.uint8)  # only its shape is read
        expected = get_patch_output_size(fake_image, target, input_data_format="channels_last")
        assert tiling.llava_next_resized_size((height, width), target) == tuple(expected), (height, width)


def test_llava_next_num_tokens_matches_processor_count():
    """Image placeholders the processor writes into input_ids for a blank image of each size."""
    processor = llava_next_processor()
    sizes = random_sizes(30, seed=3) + [(336, 336), (1, 1), (1, 5000), (5000, 1), (672, 1008)]
    for size in sizes:
        assert llava_next_num_tokens(size) == written(processor, size, "<image> hello", "<image>").placeholders, size


def test_llava_next_num_tokens_matches_processor_for_a_toy_encoder():
    processor = llava_next_processor(tile_size=64, patch_size=8)
    sizes = random_sizes(40, high=800, seed=4)
    counted = [written(processor, s, "<image> hello", "<image>").placeholders for s in sizes]
    assert [llava_next_num_tokens(s, tile_size=64, patch_size=8) for s in sizes] == counted


def test_llava_next_tokens_in_input_ids():
    """The real thing: the processor expands <image> into this many placeholder tokens."""
    processor = llava_next_processor()
    for i, (height, width) in enumerate([(123, 457), (500, 90), (336, 336)]):
        out = processor(text="hello <image>", images=random_image(height, width, i), return_tensors="pt")
        assert int((out["input_ids"] == 1).sum()) == llava_next_num_tokens((height, width))


def test_llava_next_pixel_values_match_image_processor():
    image_processor = llava_next_processor().image_processor
    for i, (height, width) in enumerate([(123, 457), (700, 333), (40, 41)]):
        image = random_image(height, width, i)
        expected = image_processor(images=image, return_tensors="pt")["pixel_values"][0]  # (1 + T, 3, 336, 336)
        ours, size = tiling.llava_next_pixel_values(image)
        assert size == (height, width)
        assert ours.shape == expected.shape
        torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)


def test_llava_next_pack_matches_transformers():
    """Same features, same layout as a tiny real LlavaNextModel's public pack_image_features."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaNextConfig, LlavaNextModel

    tile, patch, dim = 56, 14, 6
    side = tile // patch
    config = LlavaNextConfig(  # a few hundred random weights: only the config's geometry is read
        vision_config=CLIPVisionConfig(image_size=tile, patch_size=patch, hidden_size=8, intermediate_size=8,
                                       num_hidden_layers=1, num_attention_heads=2),
        text_config=LlamaConfig(hidden_size=dim, intermediate_size=8, num_hidden_layers=1, num_attention_heads=2,
                                num_key_value_heads=1, vocab_size=16),
        image_grid_pinpoints=[list(p) for p in scaled_pinpoints(tile)])
    model = LlavaNextModel(config).eval()
    for height, width in random_sizes(60, high=300, seed=5):
        grid = tiling.llava_next_grid((height, width), tile)
        features = torch.randn(1 + grid[0] * grid[1], side * side, dim)
        newline = torch.randn(dim)
        expected, _ = model.pack_image_features([features], torch.tensor([[height, width]]), "default", newline)
        plan = geometry_plan((height, width), tile)
        assert plan.grid == grid
        packed = llava_next_pack(features, plan, newline)
        assert torch.equal(packed, expected[0]), (height, width)
        assert packed.shape[0] == llava_next_num_tokens((height, width), tile, patch)


def test_llava_next_pack_rejects_wrong_shapes():
    plan = geometry_plan((50, 100), 56)
    assert plan.grid == (1, 2)
    with pytest.raises(ValueError, match="1 base \\+ 2 crops"):
        llava_next_pack(torch.zeros(2, 16, 4), plan, torch.zeros(4))
    with pytest.raises(ValueError, match="do not fill a square grid"):
        llava_next_pack(torch.zeros(3, 17, 4), plan, torch.zeros(4))
    with pytest.raises(ValueError, match="image_newline"):
        llava_next_pack(torch.zeros(3, 16, 4), plan, torch.zeros(5))
    with pytest.raises(TypeError, match="tokens must be a torch.Tensor|tile_features must be a torch.Tensor"):
        llava_next_pack([[0.0]], plan, torch.zeros(4))
    with pytest.raises(TypeError, match="image_newline must be a torch.Tensor"):
        llava_next_pack(torch.zeros(3, 16, 4), plan, [0.0] * 4)


def test_plan_tiles_llava_next():
    image = random_image(90, 200)  # wide: 1x2 canvas of 64-pixel tiles
    plan = plan_tiles(image, "llava-next", tile_size=64)
    assert plan.grid == tiling.llava_next_grid((90, 200), 64)
    assert len(plan.tiles) == plan.grid[0] * plan.grid[1]
    assert all(t.size == (64, 64) for t in plan.tiles)
    assert plan.thumbnail.size == (64, 64)  # the base image
    assert plan.canvas == (plan.grid[0] * 64, plan.grid[1] * 64)
    assert plan.resized == tiling.llava_next_resized_size((90, 200), plan.canvas)
    # the tiles are exactly the pictures the encoder is given (llava_next_pictures: base image, then crops)
    pictures = tiling.llava_next_pictures(image, 64)
    assert torch.equal(torch.from_numpy(np.array(plan.thumbnail)).permute(2, 0, 1), pictures[0])
    for tile, picture in zip(plan.tiles, pictures[1:]):
        assert torch.equal(torch.from_numpy(np.array(tile)).permute(2, 0, 1), picture)
    # the padding is black and exactly canvas - resized pixels
    canvas = np.concatenate([np.concatenate([np.asarray(plan.tiles[r * plan.grid[1] + c]) for c in range(plan.grid[1])], 1)
                             for r in range(plan.grid[0])], 0)
    top, left = plan.offset
    inside = np.zeros(canvas.shape[:2], bool)
    inside[top:top + plan.resized[0], left:left + plan.resized[1]] = True
    assert (canvas[~inside] == 0).all()
    assert (~inside).sum() == plan.padding_pixels


def test_plan_tiles_llava_next_max_tiles():
    plan = plan_tiles(random_image(500, 500), "llava-next", tile_size=64, max_tiles=2)
    assert plan.grid == (1, 2) and plan.max_tiles == 2  # 2x2 would be chosen without the limit
    assert plan_tiles(random_image(500, 500), "llava-next", tile_size=64).grid == (2, 2)
    with pytest.raises(ValueError, match=r"max_tiles=1 leaves no LLaVA-NeXT pinpoint \(the smallest has 2 tiles\)"):
        plan_tiles(random_image(50, 50), "llava-next", tile_size=64, max_tiles=1)


def test_llava_next_candidates():
    assert tiling.llava_next_candidates(336) == LLAVA_NEXT_GRID_PINPOINTS
    assert tiling.llava_next_candidates(336, max_tiles=2) == [(336, 672), (672, 336)]
    assert tiling.llava_next_candidates(336, max_tiles=3) == [(336, 672), (672, 336), (1008, 336), (336, 1008)]
    assert tiling.llava_next_candidates(64, pinpoints=[(64, 64), (128, 128)], max_tiles=1) == [(64, 64)]


# ----------------------------------------------------------------------------- InternVL


def test_internvl_grid_hand_worked_tie_rule():
    # a square ties (1,1), (2,2), (3,3) exactly; a larger grid wins when area > 0.5 * 448² * tiles
    assert 0.5 * 448**2 * 4 < 900 * 900 < 0.5 * 448**2 * 9
    assert internvl_grid((900, 900)) == (2, 2)
    assert internvl_grid((1000, 1000)) == (3, 3)
    assert internvl_grid((448, 448)) == (1, 1)
    assert internvl_grid((1080, 1920)) == (2, 4)  # 2:4 ties 1:2 on aspect ratio; the image is big enough
    assert internvl_grid((2400, 600)) == (4, 1)


def original_internvl_choice(width, height, image_size=448, min_num=1, max_num=12):
    """InternVL's find_closest_aspect_ratio + dynamic_preprocess (OpenGVLab/InternVL, internvl_chat), copied as it is."""
    aspect_ratio = width / height
    target_ratios = set(
        (i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1) for j in range(1, n + 1)
        if i * j <= max_num and i * j >= min_num)
    target_ratios = sorted(target_ratios, key=lambda x: x[0] * x[1])
    best_ratio_diff = float("inf")
    best_ratio = (1, 1)
    area = width * height
    for ratio in target_ratios:
        target_aspect_ratio = ratio[0] / ratio[1]
        ratio_diff = abs(aspect_ratio - target_aspect_ratio)
        if ratio_diff < best_ratio_diff:
            best_ratio_diff = ratio_diff
            best_ratio = ratio
        elif ratio_diff == best_ratio_diff:
            if area > 0.5 * image_size * image_size * ratio[0] * ratio[1]:
                best_ratio = ratio
    return best_ratio[1], best_ratio[0]  # (rows, cols)


def tie_sizes():
    """Sizes whose aspect ratio equals a grid's exactly (the tie rule decides), at many scales."""
    sizes = []
    for cols, rows in tiling.internvl_target_ratios():
        for scale in (50, 150, 224, 300, 448, 700, 1000):
            sizes.append((rows * scale, cols * scale))
    return sizes


def test_internvl_grid_matches_original_and_transformers():
    """The grid as InternVL's own code chooses it; the number of pictures as transformers' image processor
    counts them (public ``get_number_of_image_patches``: crops + a thumbnail when there are several)."""
    from transformers import GotOcr2ImageProcessor

    processor = GotOcr2ImageProcessor(crop_to_patches=True, min_patches=1, size={"height": 448, "width": 448})
    for height, width in random_sizes(800, seed=6) + tie_sizes():
        for max_num in (6, 12):
            ours = internvl_grid((height, width), max_num=max_num)
            assert ours == original_internvl_choice(width, height, max_num=max_num), (height, width, max_num)
            n = ours[0] * ours[1]
            pictures = processor.get_number_of_image_patches(height, width, {"max_patches": max_num})
            assert pictures == n + (1 if n > 1 else 0), (height, width, max_num)


def test_internvl_candidates_are_every_grid_by_area():
    """InternVL sorts a set of grids by area, so equal-area grids come in no fixed order. That never matters:
    equal-area grids can only tie on aspect-ratio error where some other grid is closer (the choice equals
    InternVL's and transformers' above, on random and tie sizes)."""
    ours = tiling.internvl_target_ratios(1, 12)
    every = [(i, j) for i in range(1, 13) for j in range(1, 13) if i * j <= 12]
    assert sorted(ours) == sorted(every)
    areas = [r[0] * r[1] for r in ours]
    assert areas == sorted(areas)


def _horizontal_gradient(height, width):
    """A grey image whose brightness grows from left to right: a tile's mean tells its column."""
    ramp = np.linspace(0, 255, width).round().astype(np.uint8)
    return Image.fromarray(np.repeat(np.repeat(ramp[None, :, None], height, 0), 3, 2))


def test_internvl_tiles_match_got_ocr2_processor():
    from transformers import GotOcr2ImageProcessor

    processor = GotOcr2ImageProcessor(crop_to_patches=True, min_patches=1, max_patches=12,
                                      size={"height": 448, "width": 448})
    for height, width in [(100, 300), (448, 448), (1000, 1000), (120, 2000), (2000, 700), (900, 1400)]:
        tiles = processor(images=_horizontal_gradient(height, width), return_tensors="pt")["pixel_values"]
        rows, cols = internvl_grid((height, width))
        n = rows * cols
        assert tiles.shape[0] == n + (1 if n > 1 else 0)  # the crops, then the thumbnail
        assert tiling.internvl_num_tokens((height, width)) == 256 * tiles.shape[0]
        # crops come row by row: brightness rises along each row of `cols` crops, then starts again
        means = tiles[:n, 0].mean(dim=(1, 2)).reshape(rows, cols)
        assert bool((means[:, 1:] > means[:, :-1]).all()) and torch.allclose(means, means[:1].expand(rows, -1))


def test_plan_tiles_internvl_thumbnail_only_with_several_tiles():
    one = plan_tiles(random_image(40, 40), "internvl", tile_size=32)  # 40² < 0.5 * 32² * 4: no 2x2
    assert one.grid == (1, 1) and one.thumbnail is None and one.num_tiles == 1
    many = plan_tiles(random_image(40, 130), "internvl", tile_size=32)
    assert many.grid == internvl_grid((40, 130), 32)
    assert many.thumbnail.size == (32, 32) and many.num_tiles == len(many.tiles) + 1
    assert many.resized == many.canvas == (many.grid[0] * 32, many.grid[1] * 32)


# ----------------------------------------------------------------------------- Qwen2-VL


# smart_resize's arguments -> the Qwen2VLImageProcessor that resizes that way (factor = patch_size * merge_size)
SMART_RESIZE_SETTINGS = [
    ({}, dict(patch_size=14, merge_size=2, min_pixels=56 * 56, max_pixels=28 * 28 * 1280)),
    (dict(factor=16, min_pixels=64, max_pixels=64 * 64 * 4), dict(patch_size=8, merge_size=2, min_pixels=64,
                                                                 max_pixels=64 * 64 * 4)),
]


def test_smart_resize_matches_transformers():
    """Hundreds of sizes against the image processor's public patch count (resized area / patch²)."""
    from transformers import Qwen2VLImageProcessor

    rng = random.Random(7)
    sizes = random_sizes(600, seed=7) + [(1, 1), (1, 200), (1, 201), (5000, 24), (20000, 20000), (56, 56)]
    sizes += [(rng.randint(1, 30), rng.randint(3000, 9000)) for _ in range(100)]  # many beyond ratio 200
    refused = 0
    for kwargs, settings in SMART_RESIZE_SETTINGS:
        processor, patch = Qwen2VLImageProcessor(**settings), settings["patch_size"]
        for height, width in sizes:
            try:
                expected = processor.get_number_of_image_patches(height, width, {})
            except ValueError:
                refused += 1
                with pytest.raises(ValueError, match="aspect ratio must be smaller than 200"):
                    smart_resize(height, width, **kwargs)
                continue
            h, w = smart_resize(height, width, **kwargs)
            assert h % patch == w % patch == 0 and (h // patch) * (w // patch) == expected, (height, width, kwargs)
    assert refused > 50  # the ratio limit was exercised


def test_smart_resize_is_the_size_the_processor_resizes_to():
    """The processor's ``image_grid_thw`` (patches down, across) times the patch size is the resized image."""
    from transformers import Qwen2VLImageProcessor

    for kwargs, settings in SMART_RESIZE_SETTINGS:
        processor, patch = Qwen2VLImageProcessor(**settings), settings["patch_size"]
        for height, width in random_sizes(8, high=2000, seed=8) + [(1, 1), (1, 150), (3000, 24), (56, 56)]:
            grid_thw = processor(images=Image.new("RGB", (width, height)), return_tensors="pt")["image_grid_thw"][0]
            resized = (int(grid_thw[1]) * patch, int(grid_thw[2]) * patch)
            assert smart_resize(height, width, **kwargs) == resized, (height, width, kwargs)


def test_qwen2_vl_matches_image_processor():
    from transformers import Qwen2VLImageProcessor

    processor = Qwen2VLImageProcessor()
    for i, (height, width) in enumerate([(123, 457), (30, 30), (700, 31), (250, 251)]):
        image = random_image(height, width, i)
        out = processor(images=image, return_tensors="pt")
        patches, grid_thw = tiling.qwen2_vl_pixel_values(image)
        assert grid_thw.tolist() == out["image_grid_thw"].tolist()
        torch.testing.assert_close(patches, out["pixel_values"], atol=1e-5, rtol=0)
        # LLM tokens: patches / merge_size²
        assert tiling.qwen2_vl_num_tokens((height, width)) == int(out["image_grid_thw"].prod()) // 4


# ----------------------------------------------------------------------------- the naive grid


def test_naive_grid_looks_only_at_aspect_ratio():
    assert naive_grid((300, 300)) == naive_grid((3000, 3000)) == (1, 1)  # resolution is ignored
    assert naive_grid((1080, 1920)) == (1, 2)
    assert naive_grid((2400, 600)) == (4, 1)


def test_split_image_to_tiles_output():
    tiles, grid = split_image_to_tiles(random_image(50, 110), tile_size=32, max_tiles=6)
    assert grid == (1, 2)
    assert len(tiles) == grid[0] * grid[1] + 1  # + the thumbnail, last
    assert all(t.size == (32, 32) for t in tiles)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("method", tiling.METHODS)
@pytest.mark.parametrize("size", [(1, 1), (1, 5000), (5000, 1)])
def test_plan_tiles_extreme_sizes(method, size):
    plan = plan_tiles(Image.new("RGB", (size[1], size[0]), (200, 30, 30)), method, tile_size=32)
    assert plan.image_size == size
    assert all(t.size == (32, 32) for t in plan.tiles)


def test_plan_tiles_refuses_huge_images_before_converting():
    huge = Image.new("1", (20000, 20000))  # 50 MB as 1-bit; converting to RGB would need 1.2 GB
    with pytest.raises(ValueError, match=r"image is 20000x20000 \(height x width\) = 400,000,000 pixels, more than the limit"):
        plan_tiles(huge, "llava-next")


@pytest.mark.parametrize("bad", [(0, 10), (10, -1), (-5, -5), 0])
def test_sizes_must_be_positive(bad):
    with pytest.raises(ValueError, match="positive"):
        select_best_resolution(bad, LLAVA_NEXT_GRID_PINPOINTS)
    with pytest.raises(ValueError, match="positive"):
        internvl_grid(bad)
    with pytest.raises(ValueError, match="positive"):
        llava_next_num_tokens(bad)


def test_smart_resize_rejects_bad_arguments():
    with pytest.raises(ValueError, match="positive"):
        smart_resize(0, 10)
    with pytest.raises(ValueError, match="min_pixels must be <= max_pixels"):
        smart_resize(100, 100, min_pixels=10_000, max_pixels=100)


def test_bad_method_and_types():
    with pytest.raises(ValueError, match="method must be one of"):
        plan_tiles(random_image(10, 10), "anyres")
    with pytest.raises(TypeError, match="PIL"):
        plan_tiles(np.zeros((10, 10, 3)), "naive")
    with pytest.raises(ValueError, match="min_num must be <= max_num"):
        internvl_grid((100, 100), min_num=5, max_num=2)
    with pytest.raises(ValueError, match="at least one"):
        select_best_resolution((10, 10), [])


def test_token_counts_refuse_bad_patch_sizes():
    with pytest.raises(ValueError, match="patch_size must be a positive int, got -14"):
        tiling.internvl_num_tokens((500, 500), patch_size=-14)
    with pytest.raises(ValueError, match="patch_size must be a positive int, got 0"):
        tiling.internvl_num_tokens((500, 500), patch_size=0)
    with pytest.raises(ValueError, match="patch_size=14 is larger than tile_size=8"):
        tiling.internvl_tokens_per_tile(8, 14)
    with pytest.raises(ValueError, match="tile_size=30 is not a multiple of patch_size=14"):
        tiling.internvl_tokens_per_tile(30, 14)
    with pytest.raises(ValueError, match="downsample=3 must divide the 32x32 patch grid"):
        tiling.internvl_tokens_per_tile(448, 14, downsample=3)
    with pytest.raises(ValueError, match="patch_size=14 is larger than tile_size=10"):
        llava_next_num_tokens((100, 100), tile_size=10, patch_size=14)
    with pytest.raises(TypeError, match="patch_size must be a positive int"):
        llava_next_num_tokens((100, 100), patch_size=14.0)


def test_internvl_tokens_per_tile_hand_worked():
    assert tiling.internvl_tokens_per_tile(448, 14) == 32 * 32 // 4 == 256
    assert tiling.internvl_tokens_per_tile(64, 8) == 8 * 8 // 4 == 16
    assert tiling.internvl_tokens_per_tile(448, 14, downsample=1) == 1024


def test_tile_plan_is_validated():
    good = dict(method="internvl", tiles=[], thumbnail=None, grid=(1, 1), image_size=(30, 40), resized=(32, 32),
                canvas=(32, 32), offset=(0, 0), tile_size=32)
    assert TilePlan(**good).distortion == pytest.approx(4 / 3)  # 30x40 squashed to a square
    with pytest.raises(TypeError):
        TilePlan("internvl", [], None, (1, 1), (32, 32), 32)  # image_size, canvas, offset are required
    with pytest.raises(ValueError, match="image_size must be positive"):
        TilePlan(**{**good, "image_size": (0, 0)})
    with pytest.raises(ValueError, match="outside the canvas"):
        TilePlan(**{**good, "offset": (1, 0)})
    with pytest.raises(ValueError, match="method must be one of"):
        TilePlan(**{**good, "method": "anyres"})


# ----------------------------------------------------------------------------- the tile-planner widget


@pytest.mark.parametrize("method", tiling.METHODS)
def test_tile_plan_figure(method):
    import matplotlib.pyplot as plt

    from vlmlab.widgets.tiling import tile_plan_figure

    image = random_image(90, 200)
    fig, info = tile_plan_figure(image, method, tile_size=32, max_tiles=6, patch_size=8)
    plt.close(fig)
    grid = {"naive": naive_grid((90, 200), 6), "llava-next": tiling.llava_next_grid((90, 200), 32),
            "internvl": internvl_grid((90, 200), 32, 1, 6)}[method]
    thumbnail = method != "internvl" or grid != (1, 1)
    assert info["grid"] == grid and info["pictures"] == grid[0] * grid[1] + thumbnail
    # tokens per picture: (32/8)² = 16 patches; InternVL's 2x2 pixel shuffle leaves 4
    if method == "llava-next":
        assert info["tokens"] == llava_next_num_tokens((90, 200), 32, 8)
        assert info["padding_pixels"] > 0 and info["distortion"] < 1.05  # padded, not stretched (up to rounding)
    else:
        assert info["tokens"] == info["pictures"] * (16 if method == "naive" else 4)


@pytest.mark.parametrize("name, tokens", [("receipt", 1200), ("document", 1376), ("chart", 1262)])
def test_tile_planner_llava_next_tokens_follow_max_tiles(name, tokens):
    """With at most 2 tiles the count comes from the 1x2 / 2x1 canvases the plan chose from."""
    import matplotlib.pyplot as plt

    from vlmlab.data import load_sample
    from vlmlab.widgets.tiling import tile_plan_figure

    image = load_sample(name)
    fig, info = tile_plan_figure(image, "llava-next", max_tiles=2)
    plt.close(fig)
    assert info["tokens"] == tokens and info["pictures"] == 3
    # the processor, given only the two 2-tile pinpoints, writes as many image placeholders into input_ids
    processor = llava_next_processor()
    processor.image_processor.image_grid_pinpoints = [[336, 672], [672, 336]]
    assert written(processor, (image.height, image.width), "<image> hello", "<image>").placeholders == tokens


def test_tile_planner_widget_uses_two_tiles_at_least_for_llava_next():
    import matplotlib.pyplot as plt

    from vlmlab.widgets.tiling import tile_planner

    box = tile_planner({"a": random_image(60, 100), "b": random_image(100, 30)})
    assert box.info["method"] == "naive" and box.info["image_size"] == (60, 100)
    controls = box.children[0].children
    controls[0].value = "b"  # image
    controls[2].value = 1  # max tiles: LLaVA-NeXT's minimum of 2 is used instead
    box.children[1].value = "llava-next"
    plt.close("all")
    assert box.info["method"] == "llava-next" and box.info["image_size"] == (100, 30)
    assert box.info["pictures"] == 3  # base image + 2 crops
    with pytest.raises(TypeError, match="images must be a dict"):
        tile_planner([random_image(10, 10)])


def test_edge_crossings_find_a_stroke_cut_by_a_tile_edge():
    from vlmlab.widgets.tiling import edge_crossings

    canvas = np.full((32, 64, 3), 255, dtype=np.uint8)  # white, exactly a 1x2 grid of 32-px InternVL tiles
    canvas[10:13, 20:45] = 0  # a black stroke across the vertical edge at x = 32, rows 10..12
    canvas[20, 2:30] = 0  # a stroke that stays inside the first tile
    plan = plan_tiles(Image.fromarray(canvas), "internvl", tile_size=32, max_tiles=2)
    assert plan.grid == (1, 2) and plan.resized == (32, 64)  # no resize: the strokes stay where they were drawn
    (edge,) = edge_crossings(plan)
    assert edge["axis"] == "vertical" and edge["at"] == 32
    assert edge["crossings"].tolist() == [10, 11, 12]
    # a horizontal edge (2x1 grid), and LLaVA-NeXT's black padding is not counted as ink
    tall = np.full((64, 20, 3), 255, dtype=np.uint8)
    tall[25:40, 7] = 0  # a vertical stroke across y = 32, column 7
    plan = plan_tiles(Image.fromarray(tall), "llava-next", tile_size=32, max_tiles=2)
    assert plan.grid == (2, 1) and plan.padding_pixels > 0
    (edge,) = edge_crossings(plan)
    top, left = plan.offset
    scale = plan.resized[1] / 20
    assert edge["axis"] == "horizontal" and edge["at"] == 32
    assert len(edge["crossings"]) >= 1 and all(left <= c < left + plan.resized[1] for c in edge["crossings"])
    assert abs(edge["crossings"].mean() - (left + 7.5 * scale)) < 2 * scale  # where the stroke is, not the padding


def test_plans_to_scale_figure_draws_every_canvas_at_one_scale():
    import matplotlib.pyplot as plt

    from vlmlab.widgets.tiling import plans_to_scale_figure

    images = {"small": random_image(40, 40), "wide": random_image(50, 200)}
    plans = {(n, m): plan_tiles(im, m, tile_size=32) for n, im in images.items() for m in ("naive", "internvl")}
    fig = plans_to_scale_figure(plans, images, ["naive", "internvl"], gap=8)
    try:
        fig.canvas.draw()
        axes = fig.axes
        assert len(axes) == 4
        inch_per_px = set()
        for ax in axes:
            box = ax.get_position()  # figure fraction
            width_in = box.width * fig.get_figwidth()
            height_in = box.height * fig.get_figheight()
            x0, x1 = ax.get_xlim()
            y1, y0 = ax.get_ylim()
            inch_per_px |= {round(width_in / (x1 - x0), 6), round(height_in / (y1 - y0), 6)}
        assert len(inch_per_px) == 1  # one scale, both ways, in every panel
        # the small square's InternVL plan has no thumbnail; the wide image's has one, drawn at 32 px
        drawn = [len(ax.images) for ax in axes]
        assert drawn == [2, 2, 1, 2]  # rows naive, internvl; columns small, wide
        assert "one pixel scale" in fig.get_suptitle()
    finally:
        plt.close(fig)
