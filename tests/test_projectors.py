"""Projectors: shapes, parameter counts, parity with LLaVA, Qwen-VL, InternVL, Idefics3 and Qwen2-VL."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from vlmlab import projectors
from vlmlab.projectors import (
    LinearProjector,
    MLPProjector,
    PatchMerger,
    PixelShuffle,
    PixelShuffleMLP,
    Resampler,
    build_projector,
    merge_order,
    num_parameters,
)

# Awkward sizes, so that a swapped dimension fails: width 24 in, 40 out, a 4 x 6 grid.
C, D = 24, 40
GRID = (4, 6)


def features(grid=GRID, batch=2, dim=C):
    return torch.randn(batch, grid[0] * grid[1], dim)


# ---------------------------------------------------------------------------
# Reference transcriptions (the upstream code, minus its config plumbing)
# ---------------------------------------------------------------------------

def llava_build_vision_projector(mm_hidden_size, hidden_size, projector_type):
    """LLaVA, llava/model/multimodal_projector/builder.py, build_vision_projector."""
    import re

    if projector_type == "linear":
        return nn.Linear(mm_hidden_size, hidden_size)
    mlp_gelu_match = re.match(r"^mlp(\d+)x_gelu$", projector_type)
    mlp_depth = int(mlp_gelu_match.group(1))
    modules = [nn.Linear(mm_hidden_size, hidden_size)]
    for _ in range(1, mlp_depth):
        modules.append(nn.GELU())
        modules.append(nn.Linear(hidden_size, hidden_size))
    return nn.Sequential(*modules)


def internvl_pixel_shuffle(x, scale_factor=0.5):
    """InternVL, modeling_internvl_chat.py, InternVLChatModel.pixel_shuffle (ps_version 'v2')."""
    n, w, h, c = x.size()
    x = x.view(n, w, int(h * scale_factor), int(c / scale_factor))
    x = x.permute(0, 2, 1, 3).contiguous()
    x = x.view(n, int(h * scale_factor), int(w * scale_factor), int(c / (scale_factor * scale_factor)))
    x = x.permute(0, 2, 1, 3).contiguous()
    return x


def internvl_extract(x, grid, scale_factor=0.5):
    """InternVL's extract_feature around pixel_shuffle: (B, N, C) -> grid -> shuffle -> (B, N', C')."""
    x = x.reshape(x.shape[0], grid[0], grid[1], -1)
    x = internvl_pixel_shuffle(x, scale_factor)
    return x.reshape(x.shape[0], -1, x.shape[-1])


def qwen_vl_get_abs_pos(abs_pos, tgt_size):
    """Qwen-VL, visual.py, get_abs_pos (square grids)."""
    src_size = int(math.sqrt(abs_pos.size(0)))
    tgt_size = int(math.sqrt(tgt_size))
    dtype = abs_pos.dtype
    if src_size != tgt_size:
        return nn.functional.interpolate(
            abs_pos.float().reshape(1, src_size, src_size, -1).permute(0, 3, 1, 2),
            size=(tgt_size, tgt_size), mode="bicubic", align_corners=False,
        ).permute(0, 2, 3, 1).flatten(0, 2).to(dtype=dtype)
    return abs_pos


def qwen_vl_get_2d_sincos_pos_embed(embed_dim, grid_size):
    """Qwen-VL, visual.py, get_2d_sincos_pos_embed (MAE's util/pos_embed.py), in numpy."""
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.stack(np.meshgrid(grid_w, grid_h), axis=0).reshape([2, 1, grid_size, grid_size])  # w goes first

    def one_axis(dim, pos):
        omega = np.arange(dim // 2, dtype=np.float32) / (dim / 2.0)
        omega = 1.0 / 10000**omega
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return np.concatenate([one_axis(embed_dim // 2, grid[0]), one_axis(embed_dim // 2, grid[1])], axis=1)


class QwenVLResampler(nn.Module):
    """Qwen-VL, visual.py: Resampler (sequence-first nn.MultiheadAttention), followed by the vision
    tower's ln_post and ``x @ proj`` (VisionTransformer.forward). norm_layer = LayerNorm(eps=1e-6)."""

    def __init__(self, grid_size, embed_dim, num_heads, kv_dim, output_dim):
        super().__init__()
        self.num_queries = grid_size**2
        self.pos_embed = nn.Parameter(
            torch.from_numpy(qwen_vl_get_2d_sincos_pos_embed(embed_dim, grid_size)).float()).requires_grad_(False)
        self.query = nn.Parameter(torch.zeros(self.num_queries, embed_dim))
        self.kv_proj = nn.Linear(kv_dim, embed_dim, bias=False) if kv_dim != embed_dim else nn.Identity()
        self.attn = nn.MultiheadAttention(embed_dim, num_heads)
        self.ln_q = nn.LayerNorm(embed_dim, eps=1e-6)
        self.ln_kv = nn.LayerNorm(embed_dim, eps=1e-6)
        self.ln_post = nn.LayerNorm(embed_dim, eps=1e-6)
        self.proj = nn.Parameter(torch.randn(embed_dim, output_dim))

    def forward(self, x):
        pos_embed = qwen_vl_get_abs_pos(self.pos_embed, x.size(1))
        x = self.kv_proj(x)
        x = self.ln_kv(x).permute(1, 0, 2)
        N = x.shape[1]
        q = self.ln_q(self.query)
        out = self.attn(q.unsqueeze(1).repeat(1, N, 1) + self.pos_embed.unsqueeze(1), x + pos_embed.unsqueeze(1), x)[0]
        x = out.permute(1, 0, 2)
        return self.ln_post(x) @ self.proj


def qwen_vl_copy_of(r: Resampler) -> QwenVLResampler:
    """Qwen-VL's module with our weights copied across (our proj is a bias-free Linear: its weight is proj.T)."""
    ref = QwenVLResampler(r.query_grid[0], r.embed_dim, r.num_heads, r.vision_dim, r.llm_dim)
    with torch.no_grad():
        ref.query.copy_(r.query)
        if isinstance(r.kv_proj, nn.Linear):
            ref.kv_proj.weight.copy_(r.kv_proj.weight)
        ref.ln_q.load_state_dict(r.ln_q[0].state_dict())
        ref.ln_kv.load_state_dict(r.ln_kv.state_dict())
        ref.attn.load_state_dict(r.attn[0].state_dict())
        ref.ln_post.load_state_dict(r.ln_post.state_dict())
        ref.proj.copy_(r.proj.weight.T)
    return ref.eval()


class NoKeyPositionResampler(nn.Module):
    """A common first implementation (Flamingo / BLIP-2 style): learned queries, no positions on the keys,
    no normalisation."""

    def __init__(self, vision_dim, llm_dim, num_tokens=64):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(num_tokens, vision_dim))
        self.cross_attn = nn.MultiheadAttention(vision_dim, 8, batch_first=True)
        self.proj = nn.Linear(vision_dim, llm_dim)

    def forward(self, x):
        queries = self.queries.unsqueeze(0).expand(x.shape[0], -1, -1)
        out, _ = self.cross_attn(queries, x, x)
        return self.proj(out)


# ---------------------------------------------------------------------------
# Linear and MLP (LLaVA)
# ---------------------------------------------------------------------------

def test_parameter_counts_llava_sizes():
    # CLIP ViT-L/14 (1024 wide) into a 7B LLaMA (4096 wide): weights + biases of each Linear.
    with torch.device("meta"):
        linear = LinearProjector(1024, 4096)
        mlp = MLPProjector(1024, 4096, depth=2)
    assert num_parameters(linear) == 1024 * 4096 + 4096 == 4_198_400
    assert num_parameters(mlp) == (1024 * 4096 + 4096) + (4096 * 4096 + 4096) == 20_979_712


@pytest.mark.parametrize("name", ["linear", "mlp1x_gelu", "mlp2x_gelu", "mlp3x_gelu"])
def test_mlp_equals_llava_builder(name):
    ours = build_projector(name, C, D)
    ref = llava_build_vision_projector(C, D, name)
    # LLaVA's module is our `.proj` (a bare nn.Linear for "linear", an nn.Sequential otherwise).
    ref_state = {f"proj.{k}": v for k, v in ref.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref_state.items()}
    ours.load_state_dict(ref_state)
    x = features()
    torch.testing.assert_close(ours(x), ref(x))


def test_mlp2x_equals_transformers_llava_projector():
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaModel

    config = LlavaConfig(vision_config=CLIPVisionConfig(hidden_size=C, num_attention_heads=4, num_hidden_layers=1,
                                                        intermediate_size=16, image_size=56, patch_size=14),
                         text_config=LlamaConfig(hidden_size=D, num_attention_heads=4, num_hidden_layers=1,
                                                 intermediate_size=16, vocab_size=32),
                         projector_hidden_act="gelu", vision_feature_layer=-2)
    ref = LlavaModel(config).multi_modal_projector  # a tiny real LLaVA's own projector
    ours = MLPProjector(C, D, depth=2)
    ours.proj[0].load_state_dict(ref.linear_1.state_dict())
    ours.proj[2].load_state_dict(ref.linear_2.state_dict())
    x = features()
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------
# Shapes and bad input, for every projector
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name, options, tokens_out",
    [
        ("linear", {}, GRID[0] * GRID[1]),                               # one token per patch
        ("mlp2x_gelu", {}, GRID[0] * GRID[1]),
        ("resampler", {"num_queries": 9, "num_heads": 4}, 9),             # fixed, whatever N
        ("pixel_shuffle_mlp", {}, (GRID[0] // 2) * (GRID[1] // 2)),       # 2 x 2 blocks
        ("patch_merger", {}, (GRID[0] // 2) * (GRID[1] // 2)),
    ],
)
def test_shapes_and_token_counts(name, options, tokens_out):
    proj = build_projector(name, C, D, **options)
    y = proj(features(), grid=GRID)
    assert y.shape == (2, tokens_out, D)
    assert proj.num_output_tokens(GRID) == tokens_out


@pytest.mark.parametrize("name", ["linear", "mlp2x_gelu", "resampler", "pixel_shuffle_mlp", "patch_merger"])
def test_wrong_feature_width_names_expected_and_got(name):
    proj = build_projector(name, C, D, **({"num_heads": 4} if name == "resampler" else {}))
    with pytest.raises(ValueError, match=rf"feature width {C + 1}.*expected {C}"):
        proj(features(dim=C + 1), grid=GRID)


def test_the_short_mlp_name_is_mlp2x_gelu():
    proj = build_projector("mlp", C, D)
    assert isinstance(proj, MLPProjector) and proj.depth == 2


def test_unknown_projector_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"unknown projector 'qformer'.*linear.*mlp\{d\}x_gelu.*resampler.*pixel_shuffle_mlp.*patch_merger"):
        build_projector("qformer", C, D)


def test_bad_grids_are_refused():
    shuffle = PixelShuffle(2)
    with pytest.raises(ValueError, match="do not fill a square grid"):
        shuffle(torch.randn(1, 24, C))                       # 24 tokens, no grid given
    with pytest.raises(ValueError, match=r"multiples of 2.*\(5, 5\)"):
        shuffle(torch.randn(1, 25, C))                       # 5 x 5 can't be cut in 2 x 2 blocks
    with pytest.raises(ValueError, match=r"grid=\(3, 3\) holds 9 cells but there are 24 tokens"):
        shuffle(torch.randn(1, 24, C), grid=(3, 3))
    with pytest.raises(ValueError, match="PatchMerger with scale 2 needs a grid whose sides are multiples of 2"):
        PatchMerger(C, D)(torch.randn(1, 15, C), grid=(3, 5))
    with pytest.raises(TypeError, match="grid must be an int or a"):
        shuffle(torch.randn(1, 24, C), grid=(4.0, 6))


def test_space_to_depth_by_hand_and_bad_input():
    x = torch.arange(8.0).view(1, 8, 1)  # a 2 x 4 grid of one-channel tokens 0..7
    # blocks (0, 1, 4, 5) and (2, 3, 6, 7), each block's tokens row-major
    assert projectors.space_to_depth(x, (2, 4), 2)[0].tolist() == [[0, 1, 4, 5], [2, 3, 6, 7]]
    with pytest.raises(ValueError, match=r"space_to_depth with scale 3 needs .*multiples of 3.*\(2, 4\)"):
        projectors.space_to_depth(x, (2, 4), 3)
    with pytest.raises(ValueError, match=r"grid=\(3, 3\) holds 9 cells but there are 8 tokens"):
        projectors.space_to_depth(x, (3, 3), 1)
    with pytest.raises(ValueError, match=r"x must be 3-D \(batch, tokens, dim\), got shape \(8, 1\)"):
        projectors.space_to_depth(x[0], (2, 4), 2)
    with pytest.raises(TypeError, match="scale must be a positive int"):
        projectors.space_to_depth(x, (2, 4), 2.0)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        projectors.space_to_depth(x.numpy(), (2, 4), 2)


@pytest.mark.parametrize("name", ["linear", "mlp2x_gelu", "resampler", "pixel_shuffle_mlp", "patch_merger"])
def test_every_parameter_gets_a_gradient(name):
    proj = build_projector(name, C, D, **({"num_heads": 4, "num_queries": 4} if name == "resampler" else {}))
    proj(features(), grid=GRID).square().mean().backward()
    missing = [n for n, p in proj.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


# ---------------------------------------------------------------------------
# Pixel shuffle (InternVL, Idefics3)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("grid", [(4, 4), (6, 6), (4, 6), (6, 2)])
def test_pixel_shuffle_equals_internvl(grid):
    x = features(grid)
    ours = PixelShuffle(2)(x, grid=grid)
    assert ours.shape == (2, grid[0] * grid[1] // 4, 4 * C)
    assert torch.equal(ours, internvl_extract(x, grid))


def tiny_internvl():
    """A real ``InternVLModel`` of about 20 k random weights (one layer each side), vision width ``C``."""
    from transformers import InternVLConfig, InternVLModel

    config = InternVLConfig(
        vision_config=dict(hidden_size=C, num_attention_heads=4, num_hidden_layers=1, intermediate_size=16,
                           image_size=56, patch_size=14),
        text_config=dict(model_type="qwen2", hidden_size=D, num_hidden_layers=1, num_attention_heads=4,
                         num_key_value_heads=1, intermediate_size=16, vocab_size=32, bos_token_id=0, eos_token_id=1),
        downsample_ratio=0.5)
    return InternVLModel(config).eval()


def tiny_idefics3():
    """A real ``Idefics3Model`` of about 20 k random weights, vision width ``C``, a 2x2 shuffle in its connector."""
    from transformers import Idefics3Config, Idefics3Model

    config = Idefics3Config(
        vision_config=dict(hidden_size=C, num_attention_heads=4, num_hidden_layers=1, intermediate_size=16,
                           image_size=56, patch_size=14),
        text_config=dict(hidden_size=D, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=1,
                         intermediate_size=16, vocab_size=32), scale_factor=2)
    return Idefics3Model(config).eval()


def test_pixel_shuffle_equals_transformers_internvl_and_idefics3():
    x = features((6, 6))
    ours = PixelShuffle(2)(x)
    # the models' own public pixel_shuffle methods: InternVL's takes a (B, H, W, C) grid, Idefics3's (B, N, C)
    internvl = tiny_internvl().pixel_shuffle(x.reshape(2, 6, 6, C), scale_factor=0.5).reshape(2, -1, 4 * C)
    idefics3 = tiny_idefics3().connector.pixel_shuffle(x, scale_factor=2)
    assert torch.equal(ours, internvl)
    assert torch.equal(ours, idefics3)


def test_internvl_v1_pixel_shuffle_is_ours_transposed():
    # ps_version "v1" skipped the last permute: same blocks, read column by column.
    def v1(x, scale_factor=0.5):
        n, w, h, c = x.size()
        x = x.view(n, w, int(h * scale_factor), int(c / scale_factor)).permute(0, 2, 1, 3).contiguous()
        return x.view(n, int(h * scale_factor), int(w * scale_factor), int(c / (scale_factor * scale_factor)))

    x = features((6, 6))
    ours = PixelShuffle(2)(x).view(2, 3, 3, 4 * C)                     # (B, block rows, block cols, 4C)
    assert torch.equal(v1(x.reshape(2, 6, 6, C)), ours.transpose(1, 2))


def test_pixel_shuffle_order_by_hand():
    # Token t holds the number t in every channel: on a 4 x 4 grid the first output
    # token is the top-left 2 x 2 block, row-major: patches 0, 1, 4, 5.
    x = torch.arange(16.0).view(1, 16, 1)
    out = PixelShuffle(2)(x)
    assert out[0, :, :].tolist() == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]


def test_pixel_shuffle_mlp_equals_transformers_internvl_projector():
    model = tiny_internvl()
    ref = model.multi_modal_projector
    ours = PixelShuffleMLP(C, D)
    ours.load_state_dict(ref.state_dict())  # same names: layer_norm, linear_1, linear_2
    x = features((6, 6))
    expected = ref(model.pixel_shuffle(x.reshape(2, 6, 6, C), 0.5).reshape(2, -1, 4 * C))
    torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------
# Patch merger (Qwen2-VL)
# ---------------------------------------------------------------------------

def test_merge_order_equals_qwen2_vl_processor():
    from transformers import Qwen2VLImageProcessor

    rows, cols, patch = 4, 6, 2
    # An image whose patch (r, c) is filled with its row-major index.
    ids = torch.arange(rows * cols, dtype=torch.float32).view(rows, cols)
    image = ids.repeat_interleave(patch, 0).repeat_interleave(patch, 1).expand(1, 3, -1, -1)
    flat, grid_h, grid_w = Qwen2VLImageProcessor().patchify(image, patch_size=patch, merge_size=2, temporal_patch_size=2)
    assert (grid_h, grid_w) == (rows, cols)
    processor_order = flat[0, :, 0].long()  # the id of each patch, in the processor's order
    assert torch.equal(processor_order, merge_order((rows, cols), 2))


def test_patch_merger_equals_transformers_qwen2_vl():
    from transformers import Qwen2VLConfig, Qwen2VLModel

    config = Qwen2VLConfig(
        text_config=dict(hidden_size=D, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=1,
                         intermediate_size=16, vocab_size=32, bos_token_id=0, eos_token_id=1,
                         rope_scaling={"type": "mrope", "mrope_section": [1, 1, 1]}),
        vision_config=dict(depth=1, embed_dim=C, num_heads=4, hidden_size=D, patch_size=14, spatial_merge_size=2))
    ref = Qwen2VLModel(config).visual.merger  # a tiny real Qwen2-VL's own merger
    ours = PatchMerger(C, D, merge_size=2)
    ours.load_state_dict(ref.state_dict())  # same names: ln_q, mlp.0, mlp.2
    x = features(GRID)
    # Qwen2-VL's merger reads patches in the processor's window order, one image as (seq, C).
    expected = torch.stack([ref(xi[merge_order(GRID)]) for xi in x])
    torch.testing.assert_close(ours(x, grid=GRID), expected, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------
# Resampler (Qwen-VL)
# ---------------------------------------------------------------------------

def test_resampler_any_number_of_patches_in_fixed_number_out():
    r = Resampler(C, D, num_queries=16, num_heads=4, embed_dim=32)
    for grid in [(2, 2), (4, 4), (4, 6), (7, 3)]:
        assert r(features(grid), grid=grid).shape == (2, 16, D)
    with pytest.raises(ValueError, match="do not fill a square grid"):
        r(features((4, 6)))  # 24 patches, no grid: can't guess rows and cols


def test_resampler_attention_maps():
    r = Resampler(C, D, num_queries=9, num_heads=4).eval()
    x = features(GRID)
    tokens, attn = r(x, grid=GRID, return_attention=True)
    assert attn.shape == (2, 4, 9, GRID[0] * GRID[1])  # (B, heads, Q, N)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 4, 9))
    torch.testing.assert_close(tokens, r(x, grid=GRID), atol=1e-5, rtol=1e-5)  # fast path = explicit path


@pytest.mark.parametrize("grid", [(3, 3), (6, 6), (5, 5)])
def test_resampler_equals_qwen_vl(grid):
    r = Resampler(C, D, num_queries=9, num_heads=4, embed_dim=32).eval()
    with torch.no_grad():  # norms start at ones/zeros: perturb them so that a missed copy shows
        for name, p in r.named_parameters():
            if name.startswith("ln"):
                p.add_(0.1 * torch.randn_like(p))
    ref = qwen_vl_copy_of(r)
    torch.testing.assert_close(r.query_pos, ref.pos_embed)  # Qwen-VL's own sin-cos table, from numpy
    x = features(grid)
    with torch.no_grad():
        torch.testing.assert_close(r(x), ref(x), atol=1e-5, rtol=1e-5)


def test_key_positions_are_the_query_table_resized():
    r = Resampler(C, D, num_queries=16, num_heads=4, embed_dim=32)
    from vlmlab.posembed import sincos_2d

    torch.testing.assert_close(r.query_pos, sincos_2d((4, 4), 32).float())
    torch.testing.assert_close(r.key_positions((4, 4)), r.query_pos)
    torch.testing.assert_close(r.key_positions((8, 8)),
                               qwen_vl_get_abs_pos(torch.from_numpy(qwen_vl_get_2d_sincos_pos_embed(32, 4)), 64))
    assert r.key_positions((4, 6)).shape == (24, 32)


def test_resampler_without_key_positions_is_blind_to_patch_order_ours_is_not():
    # Without positions on the keys, cross-attention treats the patches as a set: where a patch is must
    # then already be in its features (a ViT's own position table puts it there).
    x = features((4, 4))
    perm = torch.randperm(16)
    plain = NoKeyPositionResampler(C, D, num_tokens=8).eval()
    torch.testing.assert_close(plain(x[:, perm]), plain(x))        # permuting patches changes nothing
    ours = Resampler(C, D, num_queries=8, num_heads=4).eval()
    assert not torch.allclose(ours(x[:, perm]), ours(x), atol=1e-4)  # positions on the keys


def test_non_square_num_queries_use_the_most_square_grid():
    assert Resampler(C, D, num_queries=32, num_heads=4).query_grid == (4, 8)
    assert Resampler(C, D, num_queries=7, num_heads=4).query_grid == (1, 7)


def test_import_is_cheap():
    # projectors, pipeline, alignment and the explorer must not pull in transformers at import time
    import subprocess
    import sys

    code = ("import sys, vlmlab.projectors, vlmlab.pipeline, vlmlab.alignment, vlmlab.widgets.projectors; "
            "print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------
# The projector explorer's pure functions (notebook 08)
# ---------------------------------------------------------------------------

def test_widget_summary_and_figures():
    import matplotlib.pyplot as plt

    from vlmlab.widgets import projectors as wp

    assert wp.projector_summary("mlp2x_gelu", 1024, 4096, (24, 24)) == dict(
        name="mlp2x_gelu", parameters=20_979_712, tokens_in=576, tokens_out=576, grid=(24, 24), ratio=1.0)
    assert wp.projector_summary("patch_merger", 1024, 4096, (24, 24))["tokens_out"] == 144
    for name in wp.EXPLORER_PROJECTORS:
        fig, info = wp.projector_figure(name, grid=(4, 6), num_queries=3)
        plt.close(fig)
        assert info["tokens_in"] == 24
        assert info["tokens_out"] == {"resampler": 3, "pixel_shuffle_mlp": 6, "patch_merger": 6}.get(name, 24)
        if name == "resampler":
            assert info["maps"].shape == (3, 4, 6)
    trained = Resampler(C, D, num_queries=2, num_heads=4).eval()
    fig, info = wp.projector_figure("resampler", grid=GRID, resampler=trained, features=features(batch=1))
    torch.testing.assert_close(torch.from_numpy(info["maps"]).sum((1, 2)), torch.ones(2))
    # the map convention: every map on one scale from 0, one colour bar with the even spread (1/N) in cyan
    maps_drawn = [ax.images[-1] for ax in fig.axes[1:3]]
    assert {im.norm.vmin for im in maps_drawn} == {0.0} and len({im.norm.vmax for im in maps_drawn}) == 1
    assert maps_drawn[0].norm.vmax >= info["maps"].max()
    cyan = [line for line in info["colorbar"].ax.lines if line.get_color() == "cyan"]
    assert len(cyan) == 1 and cyan[0].get_ydata()[0] == pytest.approx(1 / (GRID[0] * GRID[1]))
    plt.close(fig)
    fig, info = wp.token_grid_figure((4, 4), 2, mode="pixel_shuffle")
    plt.close(fig)
    assert info["blocks"][0] == [0, 1, 4, 5]
    fig, info = wp.token_grid_figure((4, 6), 2, mode="merge_order")
    plt.close(fig)
    assert info["order"] == merge_order((4, 6), 2).tolist()
    with pytest.raises(ValueError, match="name must be one of"):
        wp.projector_figure("qformer")


def test_widget_builds():
    from vlmlab.widgets import projectors as wp

    import matplotlib.pyplot as plt

    plt.close("all")
    box = wp.projector_explorer()
    # the figure is shown once, inside the widget, and closed: nothing is left for the notebook's
    # inline backend to show a second, static time below the widget
    assert plt.get_fignums() == []
    dropdown, side = box.children[0].children
    queries, scale = box.children[1].children
    dropdown.value = "pixel_shuffle_mlp"          # what a click does
    assert box.children[2].value.startswith("<b>pixel_shuffle_mlp</b>: 64 tokens in → 16 out")
    side.value, scale.value = 6, 4                # 6 x 6 patches can't be cut into 4 x 4 blocks
    assert box.children[2].value.startswith("<b>cannot draw:</b> pixel_shuffle_mlp with scale 4 needs a grid")
    scale.value = 3
    assert box.children[2].value.startswith("<b>pixel_shuffle_mlp</b>: 36 tokens in → 4 out")
    assert plt.get_fignums() == []
