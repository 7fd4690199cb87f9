"""vlmlab.posembed: sin-cos tables, interpolation of a learned table, 2-D rotary — against transformers."""

import math

import pytest
import torch

from vlmlab.posembed import (
    apply_rope_2d,
    channel_pairs,
    cosine_similarity_map,
    interpolate_pos_embed,
    relayout,
    rope_2d,
    rope_2d_position_ids,
    shift_sincos,
    sincos_1d,
    sincos_2d,
)


def test_sincos_1d_hand_worked():
    pe = sincos_1d(5, 8)
    assert pe.shape == (5, 8)
    assert torch.equal(pe[0, 0::2], torch.zeros(4)) and torch.equal(pe[0, 1::2], torch.ones(4))  # sin 0, cos 0
    # channel pair k uses frequency 1/10000**(2k/dim): position 3, pair 1 -> 3 / 10000**(2/8)
    angle = 3 / 10000 ** (2 / 8)
    assert pe[3, 2].item() == pytest.approx(math.sin(angle), abs=1e-6)
    assert pe[3, 3].item() == pytest.approx(math.cos(angle), abs=1e-6)


def _mae_reference(rows, cols, dim, cls_token):
    # transformers builds [sin_h|cos_h|sin_w|cos_w]; ViTMAEEmbeddings.initialize_weights swaps the halves
    # to MAE's original layout [w | h]. We reproduce that swap here.
    from transformers.models.vit_mae.modeling_vit_mae import build_2d_sinusoidal_position_embedding

    ref = build_2d_sinusoidal_position_embedding(rows, cols, dim, cls_token=cls_token)
    half = dim // 2
    return torch.cat([ref[..., half:], ref[..., :half]], dim=-1)


@pytest.mark.parametrize("grid", [(4, 4), (3, 5), (5, 3)])
@pytest.mark.parametrize("cls_token", [False, True])
def test_sincos_2d_matches_mae(grid, cls_token):
    got = sincos_2d(grid, 16, cls_token=cls_token)
    assert got.shape == (grid[0] * grid[1] + cls_token, 16)  # +1 zero row for the CLS token
    torch.testing.assert_close(got, _mae_reference(*grid, 16, cls_token), atol=1e-6, rtol=0)


def test_sincos_2d_layout_columns_first():
    # Patch (row=1, col=2) on a 3x4 grid is number 1*4 + 2 = 6. Its first half is the 1-D code of col 2,
    # its second half that of row 1: [sin(p*w), cos(p*w)] with w_k = 1/10000**(k/(dim/4)).
    dim = 8
    table = sincos_2d((3, 4), dim)
    w = torch.tensor([1 / 10000 ** (k / (dim / 4)) for k in range(dim // 4)])
    code = lambda p: torch.cat([torch.sin(p * w), torch.cos(p * w)])  # noqa: E731
    torch.testing.assert_close(table[6], torch.cat([code(2.0), code(1.0)]))


# ---- channel layouts ------------------------------------------------------------------

def test_channel_pairs_both_layouts():
    assert channel_pairs(6, "interleaved").tolist() == [[0, 1], [2, 3], [4, 5]]
    assert channel_pairs(6, "halves").tolist() == [[0, 3], [1, 4], [2, 5]]
    with pytest.raises(ValueError, match=r"layout must be one of \['halves', 'interleaved'\], got 'blocks'"):
        channel_pairs(6, "blocks")
    with pytest.raises(ValueError, match="dim must be even"):
        channel_pairs(5, "halves")


@pytest.mark.parametrize("n, width", [(7, 8), (12, 20)])
def test_relayout_turns_the_transformer_table_into_maes_block(n, width):
    # MAE's 1-D block of width C uses w_k = 1/10000**(k/(C/2)) = 1/10000**(2k/C), the Transformer's frequencies:
    # the same numbers, [sin | cos] instead of interleaved. transformers' MAE table on a 1 x n grid holds the
    # column's block in its first half (after the swap in _mae_reference), of width `width` for dim 2 * width.
    blocks = relayout(sincos_1d(n, width), "interleaved", "halves")
    torch.testing.assert_close(blocks, _mae_reference(1, n, 2 * width, False)[:, :width], atol=1e-6, rtol=0)
    assert torch.equal(relayout(blocks, "halves", "interleaved"), sincos_1d(n, width))  # and back, exactly


def test_relayout_keeps_every_dot_product():
    table = torch.randn(9, 12)
    moved = relayout(table, "halves", "interleaved")
    assert not torch.equal(moved, table)
    torch.testing.assert_close(moved @ moved.T, table @ table.T)  # a similarity map cannot tell the layouts apart


def test_shift_sincos_moves_rows_only_in_their_own_layout():
    table, d = sincos_1d(30, 16), 4
    torch.testing.assert_close(shift_sincos(table[:-d], d), table[d:], atol=1e-6, rtol=0)  # PE(p + d) from PE(p)
    halves = relayout(table, "interleaved", "halves")
    torch.testing.assert_close(shift_sincos(halves[:-d], d, "halves"), halves[d:], atol=1e-6, rtol=0)
    wrong = shift_sincos(table[:-d], d, "halves")  # an interleaved table, paired as [sin | cos]
    assert (wrong - table[d:]).abs().max() > 0.5
    torch.testing.assert_close(wrong.norm(dim=-1), table[:-d].norm(dim=-1))  # still a rotation, of the wrong pairs


def test_rotary_layouts_are_one_rotation_with_channels_reordered():
    # GPT-J rotates RoFormer's adjacent pairs (rotate_every_two); Qwen2-VL / HF rotate_half pairs (i, i + D/2).
    # The same angles applied in each layout give the same vectors, up to relayout.
    from transformers.models.gptj.modeling_gptj import apply_rotary_pos_emb, rotate_every_two
    from vlmlab.posembed import rotate_half

    head_dim, n = 16, 12
    cos, sin = rope_2d((3, 4), head_dim)  # (N, D), halves layout: the D/2 angles, repeated once
    q = torch.randn(1, n, 1, head_dim)  # GPT-J's layout (B, N, heads, D), interleaved channels
    gptj = apply_rotary_pos_emb(q, sin[None, :, : head_dim // 2], cos[None, :, : head_dim // 2])
    ours = apply_rope_2d(relayout(q[0, :, 0], "interleaved", "halves"), cos, sin)
    torch.testing.assert_close(relayout(ours, "halves", "interleaved"), gptj[0, :, 0])
    x = torch.randn(2, 5, 1, head_dim)
    torch.testing.assert_close(relayout(rotate_half(relayout(x, "interleaved", "halves")), "halves", "interleaved"),
                               rotate_every_two(x))


def _hf_clip_embeddings(image_size=32, patch_size=4, hidden=24):
    from transformers import CLIPVisionConfig
    from transformers.models.clip.modeling_clip import CLIPVisionEmbeddings

    cfg = CLIPVisionConfig(image_size=image_size, patch_size=patch_size, hidden_size=hidden)
    emb = CLIPVisionEmbeddings(cfg)
    torch.nn.init.normal_(emb.position_embedding.weight)
    return emb


@pytest.mark.parametrize("new_size", [(48, 24), (24, 48), (40, 40), (32, 32), (28, 36)])
def test_interpolate_pos_embed_equals_hf_clip(new_size):
    emb = _hf_clip_embeddings()  # 32 px / patch 4 -> an 8x8 table (+1 CLS row)
    H, W = new_size
    dummy = torch.zeros(1, 1 + (H // 4) * (W // 4), 24)  # only its shape is read
    with torch.no_grad():
        expected = emb.interpolate_pos_encoding(dummy, H, W)  # (1, 1+rows*cols, D)
        got = interpolate_pos_embed(emb.position_embedding.weight, (H // 4, W // 4))  # (N, D) in, (N', D) out
    assert got.shape == expected.shape[1:]
    torch.testing.assert_close(got, expected[0], atol=1e-5, rtol=1e-5)


def test_interpolate_keeps_prefix_and_layout():
    table = torch.randn(1, 2 + 9, 6)
    out = interpolate_pos_embed(table, (5, 4), num_prefix_tokens=2)
    assert out.shape == (1, 2 + 20, 6)
    assert torch.equal(out[:, :2], table[:, :2])
    # a constant table stays constant (bicubic weights sum to 1)
    const = torch.ones(1 + 16, 3)
    torch.testing.assert_close(interpolate_pos_embed(const, (7, 3)), torch.ones(1 + 21, 3))
    # non-square source grid given explicitly
    assert interpolate_pos_embed(torch.randn(1 + 6, 4), (4, 6), old_grid=(2, 3)).shape == (1 + 24, 4)


def test_interpolate_bad_grid():
    with pytest.raises(ValueError, match="6 patch rows in pos_embed .* do not fill a square grid.*pass old_grid"):
        interpolate_pos_embed(torch.randn(1 + 6, 4), (4, 4))
    with pytest.raises(ValueError, match=r"old_grid=\(2, 2\) holds 4 cells but there are 6 patch rows"):
        interpolate_pos_embed(torch.randn(1 + 6, 4), (4, 4), old_grid=(2, 2))
    with pytest.raises(ValueError, match="new_grid must be positive"):
        interpolate_pos_embed(torch.randn(1 + 4, 4), (0, 4))


def test_sincos_bad_dims():
    with pytest.raises(ValueError, match="dim must be divisible by 4"):
        sincos_2d((2, 2), 6)
    with pytest.raises(ValueError, match="dim must be even"):
        sincos_1d(3, 5)


# ---- 2-D rotary --------------------------------------------------------------------

def test_rope_position_ids_match_transformers():
    from transformers.vision_utils import get_vision_position_ids

    for (rows, cols), m in [((4, 6), 2), ((3, 5), 1), ((6, 4), 2)]:
        expected = get_vision_position_ids(torch.tensor([[1, rows, cols]]), m)
        assert torch.equal(rope_2d_position_ids((rows, cols), merge_size=m), expected)
    assert rope_2d_position_ids((2, 3)).tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]


def test_rope_matches_qwen2_vl():
    from transformers import Qwen2VLVisionConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLVisionRotaryEmbedding, apply_rotary_pos_emb_vision

    heads, head_dim = 3, 16
    cfg = Qwen2VLVisionConfig(embed_dim=heads * head_dim, num_heads=heads)
    ids = rope_2d_position_ids((4, 6), merge_size=2)
    cos_ref, sin_ref = Qwen2VLVisionRotaryEmbedding(cfg)(torch.zeros(1), ids)
    cos, sin = rope_2d(ids, head_dim)
    torch.testing.assert_close(cos, cos_ref)
    torch.testing.assert_close(sin, sin_ref)

    q, k = torch.randn(2, 24, heads, head_dim)  # Qwen2-VL's layout: (N, heads, head_dim)
    q_ref, k_ref = apply_rotary_pos_emb_vision(q, k, cos_ref, sin_ref)
    # ours takes (..., N, head_dim): move heads first
    torch.testing.assert_close(apply_rope_2d(q.transpose(0, 1), cos, sin).transpose(0, 1), q_ref)
    torch.testing.assert_close(apply_rope_2d(k.transpose(0, 1), cos, sin).transpose(0, 1), k_ref)


def test_rope_score_depends_only_on_offset():
    # The same query and key vector placed at many positions: q(a) . k(b) must depend on b - a only.
    head_dim, rows, cols = 16, 6, 7
    ids = rope_2d_position_ids((rows, cols))
    cos, sin = rope_2d(ids, head_dim)
    q, k = torch.randn(2, head_dim, dtype=torch.float64)
    qr = apply_rope_2d(q.expand(rows * cols, -1), cos.double(), sin.double())
    kr = apply_rope_2d(k.expand(rows * cols, -1), cos.double(), sin.double())
    scores = qr @ kr.T  # (N, N)
    by_offset = {}
    for a in range(rows * cols):
        for b in range(rows * cols):
            offset = tuple((ids[b] - ids[a]).tolist())
            by_offset.setdefault(offset, []).append(scores[a, b].item())
    assert len(by_offset) == (2 * rows - 1) * (2 * cols - 1)
    for values in by_offset.values():
        assert max(values) - min(values) < 1e-5  # float32 angles
    # and it does depend on the offset (rows and columns separately)
    assert abs(by_offset[(1, 0)][0] - by_offset[(0, 1)][0]) > 1e-3


def test_rotation_keeps_norms():
    cos, sin = rope_2d((3, 3), 8)
    x = torch.randn(2, 9, 8)
    torch.testing.assert_close(apply_rope_2d(x, cos, sin).norm(dim=-1), x.norm(dim=-1))


def test_cosine_similarity_map():
    table = sincos_2d((4, 5), 32)
    m = cosine_similarity_map(table, (4, 5), index=7)
    assert m.shape == (4, 5)
    assert m[1, 2].item() == pytest.approx(1.0)  # patch 7 = (row 1, col 2) vs itself
    full = cosine_similarity_map(table, (4, 5))
    torch.testing.assert_close(full[1, 2], m)
    with pytest.raises(ValueError, match="index must be in"):
        cosine_similarity_map(table, (4, 5), index=20)


def test_rope_half_the_pairs_turn_with_the_row_half_with_the_column():
    # head_dim 16: 8 rotation pairs (x_i, x_{i+8}). Moving one row turns pairs 0-3 only, one column pairs 4-7 only.
    head_dim = 16
    ids = torch.tensor([[0, 0], [1, 0], [0, 1]])
    cos, sin = rope_2d(ids, head_dim)
    angles = torch.atan2(sin, cos)  # (3, 16); channel i and i + 8 carry the same angle
    torch.testing.assert_close(angles[:, :8], angles[:, 8:])
    pair_angle_row, pair_angle_col = angles[1, :8], angles[2, :8]
    inv_freq = 1.0 / 10000 ** (torch.arange(0, 8, 2, dtype=torch.float) / 8)  # head_dim/4 = 4 frequencies
    torch.testing.assert_close(pair_angle_row, torch.cat([inv_freq, torch.zeros(4)]))  # first half: row
    torch.testing.assert_close(pair_angle_col, torch.cat([torch.zeros(4), inv_freq]))  # second half: column


@pytest.mark.parametrize("theta", [0, -1.0, float("nan"), float("inf")])
def test_rope_theta_must_be_finite_and_positive(theta):
    with pytest.raises(ValueError, match=f"theta must be a finite number > 0 .*got {theta!r}"):
        rope_2d((2, 2), 8, theta=theta)


def test_rope_bad_types_and_shapes():
    with pytest.raises(TypeError, match="theta must be a finite number"):
        rope_2d((2, 2), 8, theta="10000")
    with pytest.raises(ValueError, match=r"position_ids must be \(N, 2\)"):
        rope_2d(torch.zeros(4, 3), 8)
    with pytest.raises(ValueError, match="head_dim must be divisible by 4"):
        rope_2d((2, 2), 6)
    cos, sin = rope_2d((2, 2), 8)
    with pytest.raises(ValueError, match=r"x's last two dims \(4, 6\) must be \(N, head_dim\) = \(4, 8\)"):
        apply_rope_2d(torch.zeros(4, 6), cos, sin)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        apply_rope_2d([[0.0] * 8] * 4, cos, sin)


def test_cosine_similarity_map_bad_types():
    table = sincos_2d((2, 2), 8)
    with pytest.raises(TypeError, match=r"index must be an int in \[0, 3\] \(a patch of the 2x2 grid\) or None"):
        cosine_similarity_map(table, (2, 2), index=1.5)
    with pytest.raises(TypeError, match="table must be a torch.Tensor"):
        cosine_similarity_map(table.numpy(), (2, 2))
    with pytest.raises(TypeError, match="num_prefix_tokens must be an int"):
        interpolate_pos_embed(torch.randn(5, 4), (3, 3), num_prefix_tokens=1.0)


# ---- the similarity figures of notebook 03 (vlmlab.widgets.posembed) ------------------

def test_similarity_maps_figure_follows_each_patch_to_the_other_grids():
    import matplotlib.pyplot as plt

    from vlmlab.widgets.posembed import follow_patch, similarity_maps_figure

    small, wide = sincos_2d((3, 4), 16), sincos_2d((6, 12), 16)  # a 3 x 4 table and a grid twice as tall, 3x as wide
    fig, info = similarity_maps_figure([("small", small, (3, 4)), ("wide", wide, (6, 12))], [(0, 0), (2, 3)])
    assert len(fig.axes) == 2 * 2 + 1  # four maps and one shared colour bar
    # a patch's centre (r + 0.5, c + 0.5) scaled to the new grid: (0, 0) -> (1, 1), (2, 3) -> (5, 10)
    assert info["patches"] == [[(0, 0), (2, 3)], [(1, 1), (5, 10)]]
    assert follow_patch(2, 3, (3, 4), (6, 12)) == (5, 10)
    assert torch.equal(torch.from_numpy(info["maps"][1][1]), cosine_similarity_map(wide, (6, 12), 5 * 12 + 10))
    assert info["maps"][1][1][5, 10] == pytest.approx(1.0)  # each map holds its own patch at similarity 1
    with pytest.raises(ValueError, match=r"row must be in \[0, 2\] \(a row of the first table's 3x4 grid\), got 3"):
        similarity_maps_figure([("small", small, (3, 4))], [(3, 0)])
    plt.close("all")


def test_similarity_norm_puts_half_the_colours_above_one_half():
    from vlmlab.widgets.posembed import similarity_norm

    norm = similarity_norm()
    assert [float(norm(v)) for v in (-1.0, 0.5, 1.0)] == [0.0, 0.5, 1.0]
    assert float(norm(0.0)) == pytest.approx(1 / 3)  # -1 .. 0.5 spans the lower half linearly
