"""Every vlmlab.budget family against transformers' own processor, built offline with the released numbers.

For each family: hundreds of random sizes through the processor's own counting
helper (``_get_num_multimodal_tokens`` / ``get_number_of_image_patches`` /
``get_optimal_tiled_canvas``), and a few real images through the whole
processor, counting the image token in ``input_ids``.
"""

from __future__ import annotations

import pytest

import processors
from helpers import random_image, random_sizes
from vlmlab import families
from vlmlab.budget import FAMILIES, token_budget

SIZES = random_sizes(300, low=1, high=4000, seed=21)
SMALL = [(37, 501), (300, 300), (480, 640), (777, 123)]  # whole-processor runs: awkward, non-square, cheap


def _count(processor, family, size, prompt, token, **kwargs):
    """Run the processor on one noise image; return how often ``token`` appears in ``input_ids``."""
    out = processor(images=[random_image(*size, seed=size[0])], text=[prompt], return_tensors="pt", **kwargs)
    ids = out["input_ids"][0].tolist()
    return ids.count(processor.tokenizer.convert_tokens_to_ids(token)), out


def _counted(processor, sizes):
    return processor._get_num_multimodal_tokens(image_sizes=sizes)["num_image_tokens"]


def _ours_or_error(size, family):
    try:
        return token_budget(size, family)
    except ValueError:
        return None


# Families whose processor counts tokens with ``_get_num_multimodal_tokens``: what it counts, and the prompt
# and placeholder to run the whole processor with.
COUNTED = {
    "llava-1.5": (processors.llava_processor, "tokens", "<image> describe", "<image>"),
    "llava-next": (processors.llava_next_processor, "tokens", "<image> hello", "<image>"),
    "qwen2-vl": (lambda: processors.qwen_processor("qwen2-vl"), "tokens", "<|image_pad|> describe", "<|image_pad|>"),
    "qwen2.5-vl": (lambda: processors.qwen_processor("qwen2.5-vl"), "tokens", "<|image_pad|> describe",
                   "<|image_pad|>"),
    "llava-onevision": (processors.onevision_processor, "tokens", "<image> describe", "<image>"),
    "internvl3": (processors.internvl_processor, "context_tokens", "<IMG_CONTEXT> describe", "<IMG_CONTEXT>"),
    "idefics3": (lambda: processors.idefics3_processor("idefics3"), "context_tokens", "<image> describe", "<image>"),
    "smolvlm": (lambda: processors.idefics3_processor("smolvlm"), "context_tokens", "<image> describe", "<image>"),
    "pixtral": (processors.pixtral_processor, "context_tokens", "[IMG] describe", "[IMG]"),
    "gemma3": (processors.gemma3_processor, "tokens", "<start_of_image> describe", "<image_soft_token>"),
    "paligemma": (processors.paligemma_processor, "tokens", "<image> describe", "<image>"),
}


@pytest.mark.parametrize("family", list(COUNTED))
def test_token_count_equals_the_processor(family):
    build, field, prompt, token = COUNTED[family]
    processor = build()
    checked = 0
    for size in SIZES:
        ours = _ours_or_error(size, family)
        try:
            expected = _counted(processor, [size])[0]
        except ValueError:  # the processor refuses (Qwen: aspect ratio > 200): so must we
            assert ours is None, (family, size)
            continue
        if ours is None:  # we refuse only what would give the processor no patch to encode
            assert family == "pixtral" and expected == 0, (family, size, expected)
            continue
        assert getattr(ours, field) == expected, (family, size)
        checked += 1
    assert checked > 250
    for size in SMALL:  # the whole processor: placeholders really written into input_ids
        n, _ = _count(processor, family, size, prompt, token)
        assert n == token_budget(size, family).tokens, (family, size)


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


def test_internvl2_tiles_equal_transformers_got_ocr2():
    processor = processors.internvl_processor()
    counted = _counted(processor, SIZES)
    for size, expected in zip(SIZES, counted):
        b = token_budget(size, "internvl2")
        assert b.context_tokens == expected, size  # 2 + 256 per tile (BOI/EOI)
        assert b.tiles == processor.image_processor.get_number_of_image_patches(*size, {})


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
        out = image_processor(images=[random_image(*size)], return_tensors="pt")
        assert out["pixel_values"].shape[1] == token_budget(size, "smolvlm").tiles


def test_onevision_features_equal_the_processor_helper():
    processor = processors.onevision_processor()
    for size in SIZES[:50]:
        expected = processor._get_number_of_features(*size, 384, 384)
        assert families.onevision_num_tokens(size) == expected


def test_gemma3_pan_and_scan_equals_the_processor():
    processor = processors.gemma3_processor(pan_and_scan=True)
    for size in [(300, 900), (900, 300), (400, 500), (256, 1500), (600, 1300), (200, 800)]:
        n, out = _count(processor, "gemma3", size, "<start_of_image> describe", "<image_soft_token>",
                        do_pan_and_scan=True)
        b = token_budget(size, "gemma3", pan_and_scan=True)
        assert n == b.tokens and out["pixel_values"].shape[0] == b.tiles, size
    assert token_budget((300, 900), "gemma3", pan_and_scan=True).tiles == 4  # 3 crops + the whole image


def test_llama_3_2_vision_tokens_and_cross_attention():
    from transformers.models.mllama.image_processing_mllama import get_optimal_tiled_canvas

    for size in SIZES:
        canvas = get_optimal_tiled_canvas(*size, max_image_tiles=4, tile_size=560)
        b = token_budget(size, "llama-3.2-vision")
        assert b.grid == (canvas[0] // 560, canvas[1] // 560), size
        assert b.tokens == 1  # one <|image|> in the context
        assert b.cross_attention_tokens == b.tiles * ((560 // 14) ** 2 + 1)  # 1600 patches + CLS per tile
    processor = processors.mllama_processor()
    for size in SMALL:
        n, out = _count(processor, "llama-3.2-vision", size, "<|image|> describe", "<|image|>")
        b = token_budget(size, "llama-3.2-vision")
        assert n == b.tokens == 1
        assert int(out["aspect_ratio_mask"][0, 0].sum()) == b.tiles, size  # tiles in use (the rest is padding)


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
