"""Every vlmlab.budget family against transformers' own processor, built offline with the released numbers.

For each family, the whole processor runs on blank images of a few dozen
awkward sizes, and the test counts what it really writes into ``input_ids``
(``processors.written``): the image placeholders (``TokenBudget.tokens``), and
every position the image adds, placeholders plus the marker tokens around them
(``TokenBudget.context_tokens``). Hundreds more sizes go through the image
processors' public ``get_number_of_image_patches``, which counts tiles.
"""

from __future__ import annotations

import pytest

import processors
from helpers import random_sizes
from vlmlab import families
from vlmlab.budget import FAMILIES, token_budget

SIZES = random_sizes(300, low=1, high=4000, seed=21)
# whole-processor runs: random sizes, plus strips (a refusal for some families) and exact tile sizes
PROCESSED = SIZES[:18] + [(1, 1), (2, 3000), (3000, 2), (336, 336), (448, 448), (777, 123)]
SMALL = [(37, 501), (300, 300), (480, 640), (777, 123)]


def _ours_or_error(size, family):
    try:
        return token_budget(size, family)
    except ValueError:
        return None


# family -> (build the processor, prompt, the image token in the prompt, the placeholder counted, the
# TokenBudget field that equals every position the image adds). That field is "context_tokens" where the
# processor writes the markers around the placeholders itself; "tokens" where it writes placeholders only
# (Qwen's <|vision_start|>/<|vision_end|> come from the chat template); None where it also adds prompt
# formatting of its own (PaliGemma's BOS and newline, Llama's BOS).
COUNTED = {
    "llava-1.5": (processors.llava_processor, "<image> describe", "<image>", None, "tokens"),
    "llava-next": (processors.llava_next_processor, "<image> hello", "<image>", None, "tokens"),
    "qwen2-vl": (lambda: processors.qwen_processor("qwen2-vl"), "<|image_pad|> describe", "<|image_pad|>", None,
                 "tokens"),
    "qwen2.5-vl": (lambda: processors.qwen_processor("qwen2.5-vl"), "<|image_pad|> describe", "<|image_pad|>", None,
                   "tokens"),
    "llava-onevision": (processors.onevision_processor, "<image> describe", "<image>", None, "tokens"),
    "internvl3": (processors.internvl_processor, "<IMG_CONTEXT> describe", "<IMG_CONTEXT>", None, "context_tokens"),
    "idefics3": (lambda: processors.idefics3_processor("idefics3"), "<image> describe", "<image>", None,
                 "context_tokens"),
    "smolvlm": (lambda: processors.idefics3_processor("smolvlm"), "<image> describe", "<image>", None,
                "context_tokens"),
    "pixtral": (processors.pixtral_processor, "[IMG] describe", "[IMG]", None, "context_tokens"),
    "gemma3": (processors.gemma3_processor, "<start_of_image> describe", "<start_of_image>", "<image_soft_token>",
               "context_tokens"),
    "paligemma": (processors.paligemma_processor, "<image> describe", "<image>", None, None),
    "llama-3.2-vision": (processors.mllama_processor, "<|image|> describe", "<|image|>", None, None),
}


@pytest.mark.parametrize("family", list(COUNTED))
def test_token_count_equals_the_processor(family):
    """Image placeholders in input_ids == .tokens; all positions the image adds == .context_tokens (or .tokens)."""
    build, prompt, image_token, placeholder, context_field = COUNTED[family]
    processor = build()
    checked = 0
    # a centre crop always gives LLaVA-1.5 the same count; resizing a strip's short side to 336 is slow
    sizes = PROCESSED[:18] if family == "llava-1.5" else PROCESSED
    for size in sizes:
        ours = _ours_or_error(size, family)
        try:
            got = processors.written(processor, size, prompt, image_token, placeholder)
        except ValueError:  # the processor refuses (Qwen: aspect ratio > 200): so must we
            assert ours is None, (family, size)
            continue
        if ours is None:  # we refuse only what would give the processor no patch to encode
            assert family == "pixtral" and got.placeholders == 0, (family, size, got.placeholders)
            continue
        assert got.placeholders == ours.tokens, (family, size)
        if context_field:
            assert got.context == getattr(ours, context_field), (family, size)
        checked += 1
    assert checked >= len(sizes) - 3


def test_marker_tokens_are_counted_apart_from_the_placeholders():
    """InternVL writes <img> and </img> around its 256 placeholders per tile: 2 markers, not image tokens."""
    got = processors.written(processors.internvl_processor(), (448, 448), "<IMG_CONTEXT> describe", "<IMG_CONTEXT>")
    b = token_budget((448, 448), "internvl3")
    assert got.placeholders == b.tokens == 256  # one tile
    assert got.context == b.context_tokens == 256 + 2


def test_qwen2_vl_released_config_and_class_default():
    from vlmlab.budget import QWEN2_VL_CLASS_DEFAULT_MAX_PIXELS

    # Qwen/Qwen2-VL-7B-Instruct ships max_pixels 12845056 = 28*28*16384: at most 16384 tokens
    assert FAMILIES["qwen2-vl"].preset["max_pixels"] == 28 * 28 * 16384 == 12845056
    assert token_budget((1080, 1920), "qwen2-vl").tokens == 2691
    assert token_budget((4000, 3000), "qwen2-vl").tokens == 15301
    # the processor class default, asked for explicitly
    assert token_budget((1080, 1920), "qwen2-vl", max_pixels=QWEN2_VL_CLASS_DEFAULT_MAX_PIXELS).tokens == 1222
    from transformers import Qwen2VLImageProcessor

    assert Qwen2VLImageProcessor().size["longest_edge"] == QWEN2_VL_CLASS_DEFAULT_MAX_PIXELS


def test_qwen2_vl_patches_equal_the_image_processor_count():
    """Hundreds of sizes: patches before the 2x2 merge, as the image processor's public count."""
    image_processor = processors.qwen_processor("qwen2-vl").image_processor
    for size in SIZES:
        b = _ours_or_error(size, "qwen2-vl")
        if b is None:
            continue
        assert b.patch_grid[0] * b.patch_grid[1] == image_processor.get_number_of_image_patches(*size, {}), size
        assert b.tokens * 4 == b.patch_grid[0] * b.patch_grid[1]


def test_internvl2_tiles_equal_transformers_got_ocr2():
    """Hundreds of sizes through the image processor's public tile count; a few through the whole processor."""
    processor = processors.internvl_processor()
    for size in SIZES:
        b = token_budget(size, "internvl2")
        tiles = processor.image_processor.get_number_of_image_patches(*size, {})  # crops + thumbnail
        assert b.tiles == tiles, size
        assert b.tokens == 256 * tiles and b.context_tokens == b.tokens + 2, size  # + <img>, </img>
    for size in SMALL:
        got = processors.written(processor, size, "<IMG_CONTEXT> describe", "<IMG_CONTEXT>", return_tensors="pt")
        b = token_budget(size, "internvl2")
        assert got.outputs["pixel_values"].shape[0] == b.tiles, size
        assert (got.placeholders, got.context) == (b.tokens, b.context_tokens), size


def test_idefics3_tiles_equal_the_image_processor():
    image_processor = processors.idefics3_processor("idefics3").image_processor
    for size in SIZES:
        patches, rows, cols = image_processor.get_number_of_image_patches(*size, {})
        b = token_budget(size, "idefics3")
        assert b.tiles == max(patches, 1) and (b.grid == (rows, cols) or (rows, cols) == (0, 0)), size


def test_smolvlm_image_processor_cuts_the_same_tiles():
    """SmolVLM's counts run through Idefics3's processor above (same prompt layout); its own image processor
    must cut the same tiles."""
    from transformers import SmolVLMImageProcessor

    o = FAMILIES["smolvlm"].preset
    image_processor = SmolVLMImageProcessor(do_image_splitting=True, size={"longest_edge": o["longest_edge"]},
                                            max_image_size={"longest_edge": o["tile_size"]})
    for size in SIZES:
        patches, rows, cols = image_processor.get_number_of_image_patches(*size, {})
        b = token_budget(size, "smolvlm")
        assert b.tiles == max(patches, 1) and (b.grid == (rows, cols) or (rows, cols) == (0, 0)), size
    for size in SMALL[:2]:
        out = image_processor(images=[processors.blank_image(*size)], return_tensors="pt")
        assert out["pixel_values"].shape[1] == token_budget(size, "smolvlm").tiles


def test_onevision_features_equal_the_processor():
    """LLaVA-OneVision's anyres_max_9 feature count, as placeholders the processor writes."""
    processor = processors.onevision_processor()
    for size in SIZES[:12] + [(384, 384), (100, 3000), (3000, 100)]:
        got = processors.written(processor, size, "<image> describe", "<image>")
        assert families.onevision_num_tokens(size) == got.placeholders, size


def test_gemma3_pan_and_scan_equals_the_processor():
    processor = processors.gemma3_processor(pan_and_scan=True)
    for size in [(300, 900), (900, 300), (400, 500), (256, 1500), (600, 1300), (200, 800)]:
        got = processors.written(processor, size, "<start_of_image> describe", "<start_of_image>",
                                 "<image_soft_token>", do_pan_and_scan=True, return_tensors="pt")
        b = token_budget(size, "gemma3", pan_and_scan=True)
        assert got.placeholders == b.tokens and got.outputs["pixel_values"].shape[0] == b.tiles, size
        # one <start_of_image> ... <end_of_image> per picture (the prose between them is the processor's prompt)
        ids = got.outputs["input_ids"][0].tolist()
        assert ids.count(processor.tokenizer.convert_tokens_to_ids("<end_of_image>")) == b.tiles, size
    assert token_budget((300, 900), "gemma3", pan_and_scan=True).tiles == 4  # 3 crops + the whole image


def _white_box(pixel_values, grid, tile):
    """(height, width) of the image content on the canvas that ``grid`` tiles of ``tile`` px reassemble to.

    A white image is positive after normalisation, the processor's black padding negative; tiles come
    row-major. Also checks that the content is one rectangle at the top left.
    """
    rows, cols = grid
    tiles = pixel_values[0, 0, : rows * cols, 0]  # (rows*cols, tile, tile), red channel
    canvas = tiles.reshape(rows, cols, tile, tile).permute(0, 2, 1, 3).reshape(rows * tile, cols * tile)
    inside = canvas > 0
    height, width = int(inside.any(1).sum()), int(inside.any(0).sum())
    assert bool(inside[:height, :width].all()), "the content is not one top-left rectangle"
    return height, width


def test_llama_3_2_vision_tokens_and_cross_attention():
    from PIL import Image

    for size in SIZES:
        b = token_budget(size, "llama-3.2-vision")
        assert b.tokens == 1  # one <|image|> in the context
        assert b.cross_attention_tokens == b.tiles * ((560 // 14) ** 2 + 1)  # 1600 patches + CLS per tile
    processor = processors.mllama_processor()
    for size in SMALL + [(1000, 300), (1500, 1500), (200, 2000)]:
        white = Image.new("RGB", (size[1], size[0]), (255, 255, 255))
        out = processor(images=[white], text=["<|image|> describe"], return_tensors="pt")
        b = token_budget(size, "llama-3.2-vision")
        assert out["input_ids"][0].tolist().count(processor.tokenizer.convert_tokens_to_ids("<|image|>")) == 1
        assert int(out["aspect_ratio_mask"][0, 0].sum()) == b.tiles, size  # tiles in use (the rest is padding)
        # the canvas our grid reassembles holds the image at exactly the size we resize it to
        assert _white_box(out["pixel_values"], b.grid, 560) == b.resized, size


def test_options_that_do_not_apply_are_refused():
    with pytest.raises(ValueError, match=r"qwen2-vl does not use option\(s\) \['tile_size'\]; it accepts"):
        token_budget((100, 100), "qwen2-vl", tile_size=336)
    with pytest.raises(ValueError, match=r"gemma3 does not use option\(s\) \['patch_size'\]"):
        token_budget((100, 100), "gemma3", patch_size=16)
    with pytest.raises(ValueError, match=r"llava-1.5 does not use option\(s\) \['max_pixels'\]"):
        token_budget((100, 100), "llava-1.5", max_pixels=10)
    assert token_budget((100, 100), "llava-1.5", max_tiles=None).tokens == 576  # None keeps the preset
    with pytest.raises(TypeError, match="pan_and_scan must be True or False, got 1"):
        token_budget((100, 100), "gemma3", pan_and_scan=1)


def test_zero_token_settings_are_refused():
    with pytest.raises(ValueError, match="tile_size=8 is smaller than patch_size=14.*0 tokens"):
        token_budget((100, 100), "internvl2", tile_size=8)
    with pytest.raises(ValueError, match="downsample=2 must divide the 1x1 patch grid of a tile"):
        token_budget((100, 100), "internvl2", tile_size=14)  # one patch per tile: nothing for a 2x2 shuffle
    with pytest.raises(ValueError, match="too elongated for pixtral"):
        token_budget((1, 5000), "pixtral")


def test_unknown_family_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"family must be one of \[.*'gemma3'.*'qwen2.5-vl'.*\], got 'gpt-4v'"):
        token_budget((100, 100), "gpt-4v")


def test_every_preset_names_its_checkpoint_and_source():
    assert len(FAMILIES) >= 11
    for family in FAMILIES.values():
        assert "/" in family.checkpoint and family.source and family.rule
        b = token_budget((1080, 1920), family.key)
        assert b.options == family.preset


def test_mrope_position_ids_equal_transformers_get_rope_index():
    """Two images of different shapes between text runs, ids from a tiny Qwen2VLModel on the meta device."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLModel

    from vlmlab.mrope import mrope_position_ids

    config = Qwen2VLConfig(text_config=dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                            num_key_value_heads=1, intermediate_size=16, vocab_size=32, bos_token_id=0, eos_token_id=1,
                                            rope_scaling={"type": "mrope", "mrope_section": [1, 1, 2]}),
                           vision_config=dict(depth=1, embed_dim=16, num_heads=2, hidden_size=16, patch_size=14,
                                              spatial_merge_size=2))
    with torch.device("meta"):
        model = Qwen2VLModel(config)
    grids = [token_budget((300, 500), "qwen2-vl").grid, token_budget((900, 200), "qwen2-vl").grid]
    segments = [3, grids[0], 2, grids[1], 4]
    types = []
    for s in segments:
        types += [0] * s if isinstance(s, int) else [1] * (s[0] * s[1])
    thw = torch.tensor([[1, 2 * r, 2 * c] for r, c in grids])  # patches before the 2x2 merge
    ids = torch.zeros(1, len(types), dtype=torch.long)
    expected, _ = model.get_rope_index(ids, torch.tensor([types]), image_grid_thw=thw)
    ours = mrope_position_ids(segments)
    assert ours.shape == (3, len(types))
    torch.testing.assert_close(ours, expected[:, 0].cpu())
    assert ours[:, -1].tolist() == [ours[0, -4].item() + 3] * 3  # text after an image: one id per token again
