"""Helpers shared by several test modules (importable as ``helpers``: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image


def random_sizes(n, low=1, high=4000, seed=0):
    """``n`` reproducible ``(height, width)`` pairs with sides in ``[low, high]``."""
    rng = random.Random(seed)
    return [(rng.randint(low, high), rng.randint(low, high)) for _ in range(n)]


def random_image(height, width, seed=0):
    """A reproducible RGB noise image of ``(height, width)`` pixels."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def save_tiny_clip(path):
    """Save a tiny random CLIP like the toy one into ``path`` (32-pixel images, patch 4: an 8x8 grid, width 24),
    with its processor, so that ``VLMVisionEncoder(str(path))`` loads it offline. Returns ``str(path)``."""
    import torch
    from transformers import CLIPImageProcessor, CLIPModel, CLIPProcessor

    from vlmlab import toyclip
    from vlmlab.training.tokenizer import build_tokenizer
    from vlmlab.shapes import ShapesWorld

    torch.manual_seed(0)
    tokenizer = build_tokenizer(ShapesWorld().words())
    config = toyclip.build_config(tokenizer, dict(image_size=32, patch_size=4, vision_width=24, vision_layers=2,
                                                  text_width=24, text_layers=1, heads=2, projection_dim=16))
    model = CLIPModel(config).eval()
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    model.save_pretrained(path)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return str(path)


def llava_next_processor(tile_size=336, patch_size=14):
    """A ``LlavaNextProcessor`` built offline: llava-v1.6's image settings (pinpoints rescaled
    to ``tile_size``) and a 3-word tokenizer, so tests can ask it to count image tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlavaNextImageProcessor, LlavaNextProcessor, PreTrainedTokenizerFast

    from vlmlab.tiling import scaled_pinpoints

    words = Tokenizer(models.WordLevel({"<unk>": 0, "<image>": 1, "hello": 2}, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="<unk>", additional_special_tokens=["<image>"])
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": tile_size},
        crop_size={"height": tile_size, "width": tile_size},
        image_grid_pinpoints=[list(p) for p in scaled_pinpoints(tile_size)],
    )
    # llava-v1.6 drops CLIP's CLS token: strategy "default" with one additional token
    return LlavaNextProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=patch_size,
                              vision_feature_select_strategy="default", num_additional_image_tokens=1)
