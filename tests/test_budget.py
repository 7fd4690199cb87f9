"""vlmlab.budget: each family's token count equals what its processor produces; the CLI prints the table."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from PIL import Image

from vlmlab import budget
from vlmlab.budget import FAMILIES, RELEASED_SIZES, image_cost, kv_cache_bytes, token_budget

from helpers import llava_next_processor, random_image, random_sizes
from processors import written


def test_single_picture_families_hand_worked():
    clip = token_budget((480, 640), "clip-224")
    assert clip.tokens == (224 // 14) ** 2 and clip.tiles == 1 and clip.resized == (224, 224)
    assert clip.kept == pytest.approx(480 / 640)  # the centre crop keeps a 480x480 square of 480x640
    assert token_budget((480, 640), "llava-1.5").tokens == (336 // 14) ** 2


def test_every_family_answers_for_a_photo():
    for family in FAMILIES:
        b = token_budget((1080, 1920), family)
        assert b.family == family and b.tokens > 0 and b.tiles >= 1
        assert b.context_tokens == b.tokens + b.extra_tokens


def test_llava_next_budget_matches_processor():
    """Image placeholders the processor writes into input_ids (LLaVA-NeXT writes no marker tokens)."""
    processor = llava_next_processor()
    for size in random_sizes(20, seed=11) + [(1, 1), (1, 3000), (3000, 1), (336, 336)]:
        got = written(processor, size, "<image> hello", "<image>")
        b = token_budget(size, "llava-next")
        assert got.placeholders == got.context == b.tokens, size
        assert b.tiles == b.grid[0] * b.grid[1] + 1  # crops + base image


def test_toy_encoder_overrides_match_processor():
    processor = llava_next_processor(tile_size=64, patch_size=8)
    sizes = random_sizes(30, high=600, seed=12)
    counted = [written(processor, s, "<image> hello", "<image>").placeholders for s in sizes]
    assert [token_budget(s, "llava-next", tile_size=64, patch_size=8).tokens for s in sizes] == counted
    assert token_budget((64, 64), "llava-1.5", tile_size=64, patch_size=8).tokens == 64
    # InternVL: (64/8)² = 64 patches, 16 tokens after the 2x2 pixel shuffle, per tile
    b = token_budget((64, 200), "internvl2", tile_size=64, patch_size=8)
    assert b.tokens == 16 * b.tiles


def test_qwen2_vl_budget_matches_image_processor():
    from transformers import Qwen2VLImageProcessor

    released = FAMILIES["qwen2-vl"].preset
    processor = Qwen2VLImageProcessor(min_pixels=released["min_pixels"], max_pixels=released["max_pixels"])
    rng = random.Random(13)
    for i in range(8):
        height, width = rng.randint(10, 500), rng.randint(10, 500)
        grid_thw = processor(images=random_image(height, width, i), return_tensors="pt")["image_grid_thw"][0]
        b = token_budget((height, width), "qwen2-vl")
        assert b.tokens == int(grid_thw.prod()) // 4  # 2x2 merge
        assert b.patch_grid == tuple(grid_thw[1:].tolist())
        assert b.resized == (int(grid_thw[1]) * 14, int(grid_thw[2]) * 14)


def test_internvl2_budget_matches_got_ocr2_processor():
    from transformers import GotOcr2ImageProcessor

    processor = GotOcr2ImageProcessor(crop_to_patches=True, min_patches=1, max_patches=12,
                                      size={"height": 448, "width": 448})
    for height, width in [(300, 900), (1000, 1000), (2200, 1700)]:
        num = int(processor(images=Image.new("RGB", (width, height)), return_tensors="pt")["num_patches"][0])
        b = token_budget((height, width), "internvl2")
        assert b.tiles == num and b.tokens == 256 * num and b.context_tokens == 256 * num + 2  # + <img>, </img>


def test_huge_sizes_are_arithmetic_only():
    for family in FAMILIES:
        assert token_budget((20000, 20000), family).tokens > 0


def test_limits_and_bad_input():
    with pytest.raises(ValueError, match="aspect ratio must be smaller than 200"):
        token_budget((1, 5000), "qwen2-vl")
    with pytest.raises(ValueError, match="positive"):
        token_budget((0, 100), "llava-next")
    with pytest.raises(TypeError, match="image_size"):
        token_budget("100x100", "llava-next")
    with pytest.raises(ValueError, match="max_tiles=1"):
        token_budget((100, 100), "llava-next", max_tiles=1)


def test_budget_table_marks_refusals():
    rows = budget.budget_table({"strip": (1, 5000)}, ["internvl2", "qwen2-vl"])
    assert rows[0]["tokens"] > 0
    assert rows[1]["tokens"] is None and "200" in rows[1]["note"]
    text = budget.format_table(rows)
    assert "refused" in text and "strip" in text


def test_cli_prints_table(tmp_path, capsys):
    from vlmlab.__main__ import main

    path = tmp_path / "photo.png"
    Image.new("RGB", (640, 480)).save(path)
    assert main(["budget", str(path)]) == 0
    out = capsys.readouterr().out
    for family in FAMILIES:
        assert f"  {family}  " in out
    assert str(token_budget((480, 640), "qwen2-vl").tokens) in out
    assert main(["budget", str(tmp_path / "missing.png")]) == 1


def test_cli_size_and_json(capsys):
    import json

    from vlmlab.__main__ import main

    assert main(["budget", "--size", "1080x1920", "--family", "qwen2-vl", "--family", "llama-3.2-vision",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["family"] for r in rows] == ["qwen2-vl", "llama-3.2-vision"]
    assert rows[0]["tokens"] == 2691 and rows[0]["size"] == [1080, 1920]  # height first
    assert rows[0]["checkpoint"] == "Qwen/Qwen2-VL-7B-Instruct"
    assert rows[1]["tokens"] == 1 and rows[1]["cross_attention"] == 4 * (40 * 40 + 1)


@pytest.mark.parametrize("bad", ["1080*1920", "1920", "0x100", "axb"])
def test_cli_malformed_size_says_the_form(bad, capsys):
    from vlmlab.__main__ import main

    with pytest.raises(SystemExit):
        main(["budget", "--size", bad])
    err = capsys.readouterr().err
    assert "--size must be HEIGHTxWIDTH in pixels, height first" in err and repr(bad) in err


def test_cli_needs_an_image_or_a_size(capsys):
    from vlmlab.__main__ import main

    with pytest.raises(SystemExit):
        main(["budget"])
    assert "at least one IMAGE or --size" in capsys.readouterr().err


def test_cli_as_module_on_the_document(repo_root):
    sample = repo_root / "data" / "document.png"
    assert sample.exists(), "data/document.png is part of the repository"
    out = subprocess.run([sys.executable, "-m", "vlmlab", "budget", str(sample)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    for family in FAMILIES:
        assert f"  {family}  " in out


def test_budget_explorer_redraws_on_a_slider_change():
    import matplotlib.pyplot as plt

    from vlmlab.widgets.budget import budget_explorer, budget_figure

    fig, info = budget_figure((1, 5000))
    plt.close(fig)
    assert info["qwen2-vl"] is None and info["internvl2"].tokens == 256 * 13  # 12 tiles + thumbnail
    box = budget_explorer(300, 400)
    assert box.info["qwen2-vl"].image_size == (300, 400)
    box.children[0].children[1].value = 4000  # width slider -> a redraw
    assert box.info["qwen2-vl"].image_size == (300, 4000)
    assert box.info["qwen2-vl"].tokens == token_budget((300, 4000), "qwen2-vl").tokens
    plt.close("all")


# ---------------------------------------------------------------------------
# Costs besides tokens: KV cache and encoder FLOPs (notebook 09)
# ---------------------------------------------------------------------------

def test_kv_cache_bytes_hand_worked():
    # LLaVA-1.5-7B: 576 positions x 2 (key, value) x 32 layers x 32 kv heads x 128 x 2 bytes = 288 MiB
    assert kv_cache_bytes(576, num_layers=32, num_kv_heads=32, head_dim=128) == 576 * 2 * 32 * 32 * 128 * 2 == 288 * 2**20
    # grouped-query attention: 8 kv heads instead of 32 keep a quarter
    assert kv_cache_bytes(10, 32, 8, 128) * 4 == kv_cache_bytes(10, 32, 32, 128)
    assert kv_cache_bytes(0, 32, 8, 128) == 0
    with pytest.raises(ValueError, match="num_tokens"):
        kv_cache_bytes(-1, 32, 8, 128)
    with pytest.raises(ValueError, match="num_kv_heads"):
        kv_cache_bytes(5, 32, 0, 128)


def test_kv_cache_bytes_equals_what_a_transformers_decoder_keeps():
    """A tiny Mistral (grouped-query attention, odd sizes) reads 7 tokens: its cache holds exactly that many bytes."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(vocab_size=50, hidden_size=36, intermediate_size=20, num_hidden_layers=3,
                           num_attention_heads=6, num_key_value_heads=2, head_dim=6)
    model = MistralForCausalLM(config).eval()
    with torch.no_grad():
        out = model(torch.arange(7)[None], use_cache=True)
    cache = out["cache"] if "cache" in out else out["past_key_values"]
    held = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)
    assert held == kv_cache_bytes(7, num_layers=3, num_kv_heads=2, head_dim=6, bytes_per_value=4)  # float32


def test_released_llm_sizes_equal_the_transformers_defaults_their_configs_rely_on():
    """llava-hf's text_configs leave these fields out, so transformers' defaults are the released numbers."""
    from transformers import LlamaConfig, MistralConfig

    for family, config in [("llava-1.5", LlamaConfig()), ("llava-next", MistralConfig())]:
        llm = RELEASED_SIZES[family].llm
        assert llm["num_layers"] == config.num_hidden_layers
        assert llm["num_kv_heads"] == config.num_key_value_heads
        assert llm["head_dim"] == config.hidden_size // config.num_attention_heads
    assert set(RELEASED_SIZES) <= set(FAMILIES)


def test_image_cost_hand_worked():
    from vlmlab.patches import vit_flops

    clip_l = dict(patch_size=14, embed_dim=1024, num_layers=24, mlp_ratio=4.0)
    one = image_cost((480, 640), "llava-1.5")  # any size: one 336-px centre crop
    assert (one.pictures, one.tokens, one.positions) == (1, 576, 576)
    assert one.encoder_flops == vit_flops(336, **clip_l)["total"]
    assert one.kv_bytes == kv_cache_bytes(576, 32, 32, 128)
    # InternVL2 on a wide chart: 2 x 6 tiles + a thumbnail, each a 448-px InternViT pass; <img> </img> take positions
    wide = image_cost((700, 2400), "internvl2")
    assert wide.pictures == 13 and wide.encoder_flops == 13 * vit_flops(448, **clip_l)["total"]
    assert wide.positions == wide.tokens + 2 and wide.kv_bytes == kv_cache_bytes(wide.positions, 32, 8, 128)
    # Qwen2-VL: one pass over the whole resized image, no CLS, two frames per patch (temporal_patch_size 2)
    qwen = image_cost((700, 2400), "qwen2-vl")
    resized = token_budget((700, 2400), "qwen2-vl").resized
    per_pass = vit_flops(resized, 14, embed_dim=1280, num_layers=32, mlp_ratio=4.0, in_channels=6, cls_token=False)
    assert qwen.pictures == 1 and qwen.encoder_flops == per_pass["total"]
    assert per_pass["tokens"] == 4 * qwen.tokens  # every 2x2 patches -> one LLM token
    assert qwen.kv_bytes_per_position == 2 * 28 * 4 * 128 * 2
    with pytest.raises(ValueError, match="family"):
        image_cost((700, 2400), "pixtral")  # no released sizes recorded for it
