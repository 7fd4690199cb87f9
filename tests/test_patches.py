"""vlmlab.patches: patchify/unpatchify, the Conv2d patch embedding, the cost table."""

import pytest
import torch

from vlmlab.patches import PatchEmbedding, cost_table, patch_grid, patchify, token_grid, unpatchify, vit_flops


def test_patch_grid_token_table():
    # The usual table: image / patch -> tokens (square images, no CLS).
    for size, p, tokens in [(224, 16, 196), (224, 14, 256), (336, 14, 576), (448, 14, 1024)]:
        rows, cols = patch_grid(size, p)
        assert rows * cols == tokens
    assert patch_grid((224, 320), 16) == (14, 20)  # (height, width) -> (rows, cols)


def test_patchify_hand_worked():
    # A 1-channel 4x6 image of 0..23 cut into 2x2 patches: 2 rows x 3 cols, row-major.
    x = torch.arange(24.0).reshape(1, 1, 4, 6)
    out = patchify(x, 2)
    assert out.shape == (1, 6, 4)
    assert out[0, 0].tolist() == [0, 1, 6, 7]  # top-left patch
    assert out[0, 1].tolist() == [2, 3, 8, 9]  # next to its right
    assert out[0, 3].tolist() == [12, 13, 18, 19]  # first patch of the second row


def test_patchify_channel_order_is_c_p_p():
    # Each patch vector is (C, p, p): all of channel 0, then channel 1.
    x = torch.stack([torch.zeros(2, 2), torch.ones(2, 2)]).unsqueeze(0)  # (1, 2, 2, 2)
    assert patchify(x, 2)[0, 0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


@pytest.mark.parametrize("size", [(32, 48), (48, 32), (16, 16)])
def test_unpatchify_inverts_patchify(size):
    x = torch.randn(2, 3, *size)
    patches = patchify(x, 8)
    assert patches.shape == (2, (size[0] // 8) * (size[1] // 8), 3 * 8 * 8)
    assert torch.equal(unpatchify(patches, 8, size), x)


def test_patch_embedding_equals_patchify_then_linear():
    embed = PatchEmbedding(img_size=(24, 40), patch_size=8, in_channels=3, embed_dim=20)
    x = torch.randn(2, 3, 24, 40)
    linear = torch.nn.Linear(3 * 8 * 8, 20)
    with torch.no_grad():
        linear.weight.copy_(embed.projection.weight.flatten(1))  # (D, C, p, p) -> (D, C*p*p)
        linear.bias.copy_(embed.projection.bias)
    expected = linear(patchify(x, 8))
    got = embed(x)
    assert got.shape == (2, 3 * 5, 20)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert embed.grid == (3, 5) and embed.num_patches == 15


def test_patch_embedding_without_bias_like_clip():
    embed = PatchEmbedding(16, 4, 3, 8, bias=False)
    assert embed.projection.bias is None


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="not divisible by patch_size=16"):
        patch_grid((224, 230), 16)
    with pytest.raises(ValueError, match="4-D"):
        patchify(torch.zeros(3, 32, 32), 8)
    with pytest.raises(ValueError, match="not divisible"):
        patchify(torch.zeros(1, 3, 30, 32), 8)
    with pytest.raises(ValueError, match="channels"):
        PatchEmbedding(32, 8, 3, 16)(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="needs a 2x2 grid = 4 patches"):
        unpatchify(torch.zeros(1, 5, 12), 2, (4, 4))
    with pytest.raises(ValueError, match="patch_size must be a positive int"):
        patch_grid(224, 0)


def test_vit_flops_hand_count():
    # ViT-B/16 at 224: 197 tokens; its usual "17.6 GMACs" is 35.1 GFLOPs at 2 FLOPs per multiply-add.
    f = vit_flops(224, 16)
    assert f["tokens"] == 197
    N, D = 197, 768
    assert f["linear"] == 12 * (8 * N * D * D + 4 * N * D * 4 * D)
    assert f["attention"] == 12 * 4 * N * N * D
    assert f["total"] / 2 / 1e9 == pytest.approx(17.6, abs=0.1)


def test_cost_table_rows():
    rows = cost_table()
    assert [r["patches"] for r in rows] == [196, 256, 576, 1024]
    assert rows[0]["relative"] == 1.0
    gflops = [r["gflops"] for r in rows]
    assert gflops == sorted(gflops)
    shares = [r["attention_share"] for r in rows]
    assert shares == sorted(shares)  # the N**2 term weighs more as tokens grow


def test_token_grid_checks_a_given_grid_or_infers_a_square():
    assert token_grid(196) == (14, 14)
    assert token_grid(12, (3, 4)) == (3, 4)
    with pytest.raises(ValueError, match=r"15 tokens do not fill a square grid \(the nearest squares are 9 and 16\); "
                                         r"pass grid=\(rows, cols\) with rows \* cols == 15"):
        token_grid(15)
    with pytest.raises(ValueError, match=r"0 tokens do not fill a square grid"):
        token_grid(0)
    with pytest.raises(ValueError, match=r"old_grid=\(3, 3\) holds 9 cells but there are 12 rows"):
        token_grid(12, (3, 3), what="rows", grid_name="old_grid")
