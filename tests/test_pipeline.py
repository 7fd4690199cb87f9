"""VLMVisionPipeline: token counts equal vlmlab.budget for every tiling, frozen encoder, trainable projector."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vlmlab.pipeline import TILINGS, VLMVisionPipeline

from helpers import random_image, save_tiny_clip

LLM_DIM = 40


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A tiny random CLIP saved like the toy one: 32-pixel images, patch 4 (an 8x8 grid), width 24."""
    return save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="module")
def encoder(tiny_clip):
    from vlmlab.clip import VLMVisionEncoder

    return VLMVisionEncoder(tiny_clip)


# Non-square sizes in both orientations, a tiny one and a large one.
SIZES = [(32, 32), (50, 130), (130, 50), (96, 64), (300, 200), (23, 41)]


@pytest.mark.parametrize("tiling", [None, "llava-next", "internvl", "dynamic"])
def test_token_count_equals_budget(encoder, tiling):
    pipe = VLMVisionPipeline(encoder, llm_dim=LLM_DIM, tiling=tiling)
    for size in SIZES:
        tokens, record = pipe.encode_image(random_image(*size))
        budget = pipe.token_budget(size)
        assert tokens.shape == (budget.tokens, LLM_DIM), (tiling, size)
        assert record.tokens == budget.tokens
        assert record.image_size == size
        assert record.family == {None: "llava-1.5", "llava-next": "llava-next",
                                 "internvl": "internvl2", "dynamic": "qwen2-vl"}[tiling]
        if tiling in ("llava-next", "internvl"):
            assert record.tile_grid == budget.grid
            assert record.pictures == budget.tiles


@pytest.mark.parametrize("max_tiles", [None, 2])
def test_llava_next_pixel_values_are_the_tested_ones(encoder, max_tiles):
    """The pipeline gives the encoder exactly llava_next_pixel_values, which equals LlavaNextImageProcessor."""
    from vlmlab.preprocess import image_mean_std
    from vlmlab.tiling import llava_next_candidates, llava_next_pixel_values

    from helpers import llava_next_processor

    pipe = VLMVisionPipeline(encoder, llm_dim=LLM_DIM, tiling="llava-next", max_tiles=max_tiles)
    candidates = llava_next_candidates(32, max_tiles)
    processor = llava_next_processor(tile_size=32, patch_size=4).image_processor
    processor.image_grid_pinpoints = [list(c) for c in candidates]
    for i, size in enumerate([(50, 130), (130, 50), (96, 64)]):
        image = random_image(*size, seed=i)
        ours, plan = pipe.pixel_values(image)
        expected, _ = llava_next_pixel_values(image, 32, candidates, *image_mean_std(encoder.processor))
        assert torch.equal(ours, expected), size
        theirs = processor(images=image, return_tensors="pt")["pixel_values"][0]
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
        assert plan.grid[0] * plan.grid[1] <= (max_tiles or 6)


def test_budget_settings_are_the_encoders(encoder):
    # A 300x200 image in LLaVA-NeXT style with 32-pixel tiles and 4-pixel patches:
    # the pipeline asks token_budget with exactly those values.
    from vlmlab.budget import token_budget

    pipe = VLMVisionPipeline(encoder, llm_dim=LLM_DIM, tiling="llava-next")
    assert pipe.token_budget((300, 200)) == token_budget((300, 200), "llava-next", tile_size=32, patch_size=4)
    single = VLMVisionPipeline(encoder, llm_dim=LLM_DIM)
    assert single.token_budget((300, 200)).tokens == (32 // 4) ** 2  # one 8x8 grid, one token per patch


def test_naive_tiling_is_tiles_plus_thumbnail(encoder):
    from vlmlab.tiling import naive_grid

    pipe = VLMVisionPipeline(encoder, llm_dim=LLM_DIM, tiling="naive")
    tokens, record = pipe.encode_image(random_image(50, 130))
    rows, cols = naive_grid((50, 130))
    assert record.tile_grid == (rows, cols)
    assert record.pictures == rows * cols + 1  # + the thumbnail
    assert tokens.shape == ((rows * cols + 1) * 64, LLM_DIM)
    assert pipe.token_budget((50, 130)) is None


def test_record_lists_every_stage(encoder):
    pipe = VLMVisionPipeline(encoder, llm_dim=LLM_DIM, tiling="internvl")
    tokens, record = pipe.encode_image(random_image(96, 64))
    names = [s.name for s in record.stages]
    assert names[0] == "image" and names[-1] == "concatenate"
    assert "encoder" in names and "projector" in names
    assert record.stages[0].shape == (3, 96, 64)
    assert record.features == (record.pictures, 64, 24)          # 8x8 patches of width 24 per picture
    assert record.stages[-1].shape == tuple(tokens.shape)
    assert "encoder" in record.table()


def test_family_projectors_and_image_newline(encoder):
    from vlmlab.projectors import MLPProjector, PatchMerger, PixelShuffleMLP

    assert isinstance(VLMVisionPipeline(encoder, LLM_DIM).projector, MLPProjector)
    assert isinstance(VLMVisionPipeline(encoder, LLM_DIM, tiling="internvl").projector, PixelShuffleMLP)
    assert isinstance(VLMVisionPipeline(encoder, LLM_DIM, tiling="dynamic").projector, PatchMerger)
    next_pipe = VLMVisionPipeline(encoder, LLM_DIM, tiling="llava-next")
    assert next_pipe.image_newline.shape == (LLM_DIM,) and next_pipe.image_newline.requires_grad
    assert VLMVisionPipeline(encoder, LLM_DIM).image_newline is None


def test_forward_batches_one_picture_per_image(encoder):
    pipe = VLMVisionPipeline(encoder, llm_dim=LLM_DIM, projector="linear")
    out = pipe(torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 64, LLM_DIM)  # (32/4)^2 = 64 patch tokens, CLS dropped
    resampled = VLMVisionPipeline(encoder, llm_dim=LLM_DIM, projector="resampler", num_queries=9, num_heads=4)
    assert resampled(torch.randn(2, 3, 32, 32)).shape == (2, 9, LLM_DIM)


def test_projector_trains_encoder_does_not(encoder):
    pipe = VLMVisionPipeline(encoder, llm_dim=LLM_DIM, tiling="llava-next").train()
    assert not pipe.encoder.training                    # a frozen tower stays in eval mode
    tokens, _ = pipe.encode_image(random_image(50, 130))
    tokens.square().mean().backward()
    assert all(p.grad is not None for p in pipe.projector.parameters())
    assert pipe.image_newline.grad is not None
    assert all(not p.requires_grad and p.grad is None for p in pipe.encoder.parameters())
    trainable = {n.split(".")[0] for n, p in pipe.named_parameters() if p.requires_grad}
    assert trainable == {"projector", "image_newline"}


def test_bad_input(encoder):
    with pytest.raises(ValueError, match=r"tiling must be one of \[None, 'naive', 'llava-next', 'internvl', 'dynamic'\], got 'anyres'"):
        VLMVisionPipeline(encoder, LLM_DIM, tiling="anyres")
    with pytest.raises(ValueError, match="unknown projector 'qformer'"):
        VLMVisionPipeline(encoder, LLM_DIM, projector="qformer")
    with pytest.raises(ValueError, match="one token per patch"):
        VLMVisionPipeline(encoder, LLM_DIM, projector="resampler", tiling="llava-next", num_heads=4)
    with pytest.raises(ValueError, match="has 1 channels.*expected 3"):
        VLMVisionPipeline(encoder, LLM_DIM)(torch.randn(1, 1, 32, 32))
    with pytest.raises(TypeError, match="image must be a PIL.Image.Image, got Tensor"):
        VLMVisionPipeline(encoder, LLM_DIM).encode_image(torch.rand(3, 32, 32))


def test_encoder_by_path_or_model(tiny_clip):
    from transformers import CLIPModel

    by_path = VLMVisionPipeline(tiny_clip, llm_dim=LLM_DIM, feature_layer=-1)
    assert by_path.encoder.feature_layer == -1 and by_path.vision_dim == 24
    by_model = VLMVisionPipeline(CLIPModel.from_pretrained(tiny_clip), llm_dim=LLM_DIM)
    x = torch.randn(1, 3, 32, 32)
    assert by_model(x).shape == (1, 64, LLM_DIM)
    with pytest.raises(TypeError, match="encoder must be None"):
        VLMVisionPipeline(torch.nn.Linear(2, 2), llm_dim=LLM_DIM)


def test_llava_style_pipeline_equals_transformers_llava(encoder):
    # LLaVA-1.5 in transformers: vision tower -> hidden_states[-2][:, 1:] -> multi_modal_projector.
    from transformers import LlamaConfig, LlavaConfig, LlavaModel

    pipe = VLMVisionPipeline(encoder, llm_dim=LLM_DIM).eval()
    config = LlavaConfig(vision_config=encoder.vision_model.config.to_dict(),
                         text_config=LlamaConfig(hidden_size=LLM_DIM, num_attention_heads=4, num_hidden_layers=1,
                                                 intermediate_size=64, vocab_size=64).to_dict(),
                         vision_feature_layer=-2, vision_feature_select_strategy="default",
                         projector_hidden_act="gelu")
    llava = LlavaModel(config).eval()
    tower = llava.vision_tower
    tower = getattr(tower, "vision_model", tower)             # CLIPVisionModel wraps a CLIPVisionTransformer
    ours = getattr(encoder.vision_model, "vision_model", encoder.vision_model)
    tower.load_state_dict(ours.state_dict())
    llava.multi_modal_projector.linear_1.load_state_dict(pipe.projector.proj[0].state_dict())
    llava.multi_modal_projector.linear_2.load_state_dict(pipe.projector.proj[2].state_dict())
    pixel_values = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = llava.get_image_features(pixel_values, vision_feature_layer=-2,
                                       vision_feature_select_strategy="default", output_hidden_states=True)
        expected = torch.stack(list(out.pooler_output if hasattr(out, "pooler_output") else out))
        torch.testing.assert_close(pipe(pixel_values), expected, atol=1e-5, rtol=1e-5)


def test_tilings_constant():
    assert TILINGS == (None, "naive", "llava-next", "internvl", "dynamic")


def test_default_encoder_is_the_toy_clip():
    from vlmlab.clip import TOY_CLIP_PATH

    if not (TOY_CLIP_PATH / "config.json").exists():
        pytest.skip("the toy CLIP has not been trained into data/toy-clip yet")
    pipe = VLMVisionPipeline(llm_dim=LLM_DIM)
    assert (pipe.image_size, pipe.patch_size) == (64, 8)
    tokens, record = pipe.encode_image(random_image(120, 90))
    assert tokens.shape == (64, LLM_DIM) and record.tokens == 64
