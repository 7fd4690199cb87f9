"""Widgets of notebooks 01-03: the pure functions behind them, and that the ipywidgets shells build."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from vlmlab.widgets.patches import fit_to_patches, patch_grid_explorer, patch_grid_figure, valid_patch_sizes  # noqa: E402


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (100, 130, 3), dtype=np.uint8))  # 130 wide, 100 tall


def test_patch_grid_figure_info(image):
    fig, info = patch_grid_figure(image, 16)
    # no image_size: centre-cropped to multiples of 16 -> 96 x 128 -> 6 x 8 patches
    assert info == dict(rows=6, cols=8, tokens=48, image_size=(96, 128), patch_size=16)
    plt.close(fig)
    fig, info = patch_grid_figure(image, 14, image_size=224)
    assert (info["rows"], info["cols"], info["tokens"]) == (16, 16, 256)
    plt.close(fig)


def test_fit_to_patches(image):
    arr = fit_to_patches(image, 16)
    assert arr.shape == (96, 128, 3)
    # the crop is centred: 2 px off the top, 1 px off the left
    np.testing.assert_allclose(arr, np.asarray(image, dtype=np.float32)[2:98, 1:129] / 255, atol=1e-6)
    with pytest.raises(ValueError, match="not divisible by patch_size=14"):
        fit_to_patches(image, 14, image_size=(100, 100))


def test_valid_patch_sizes():
    assert valid_patch_sizes(224, range(4, 65)) == [4, 7, 8, 14, 16, 28, 32, 56]
    assert valid_patch_sizes((336, 224), [14, 16]) == [14, 16]


def test_patch_grid_explorer_builds(image):
    box = patch_grid_explorer(image)
    size_box, patch_box = box.children[0].children
    assert patch_box.value == 16
    size_box.value = 336  # 16 divides 336 too: kept
    assert patch_box.value == 16 and 14 in patch_box.options
    plt.close("all")


def test_patch_grid_explorer_starts_where_asked_and_refuses_what_it_cannot_show(image):
    size_box, patch_box = patch_grid_explorer(image, size=448, patch_size=14).children[0].children
    assert (size_box.value, patch_box.value) == (448, 14)
    with pytest.raises(ValueError, match=r"size must be one of image_sizes \[224, 336, 448\], got 500"):
        patch_grid_explorer(image, size=500)
    with pytest.raises(ValueError, match=r"patch_size must divide the input size 224 .*got 12"):
        patch_grid_explorer(image, size=224, patch_size=12)
    plt.close("all")


# ---- attention viewer (notebook 02) ---------------------------------------------------

def _tiny_vit():
    from vlmlab.vit import ViT

    return ViT(img_size=(16, 24), patch_size=8, embed_dim=16, num_heads=2, num_layers=2, num_classes=0).eval()


def test_query_attention_map_reads_the_right_row():
    import torch

    from vlmlab.widgets.vit import query_attention_map

    vit = _tiny_vit()
    with torch.no_grad():
        att = vit.forward_features(torch.randn(1, 3, 16, 24), output_attentions=True).attentions
    grid = (2, 3)
    m = query_attention_map(att, layer=1, head=0, query=4, grid=grid)
    assert m.shape == grid
    # patch 4 is token 1 + 4 = 5; CLS column dropped
    np.testing.assert_allclose(m.ravel(), att[1][0, 0, 5, 1:].numpy(), rtol=1e-6)
    mean = query_attention_map(att, layer=-1, head="mean", query="cls", grid=grid)
    np.testing.assert_allclose(mean.ravel(), att[-1][0, :, 0, 1:].mean(0).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"query must be in \[0, 5\] \(a patch index\) or 'cls', got 6"):
        query_attention_map(att, 0, 0, 6, grid)
    with pytest.raises(ValueError, match="head must be"):
        query_attention_map(att, 0, 2, 0, grid)
    with pytest.raises(TypeError, match=r"head must be an int in \[0, 1\] or 'mean', got 0.5"):
        query_attention_map(att, 0, 0.5, 0, grid)
    with pytest.raises(TypeError, match=r"query must be an int in \[0, 5\] \(a patch index\) or 'cls', got 'centre'"):
        query_attention_map(att, 0, 0, "centre", grid)


def test_attention_figure_and_viewer():
    import torch

    from vlmlab.widgets.vit import attention_figure, attention_viewer

    vit = _tiny_vit()
    x = torch.rand(1, 3, 16, 24)
    att = vit.forward_features(x, output_attentions=True).attentions
    fig, info = attention_figure(x[0].numpy(), att, 0, "mean", 2, (2, 3))
    assert info["map"].shape == (2, 3)
    assert 0 < info["cls_weight"] < 1
    assert abs(info["map"].sum() + info["cls_weight"] - 1) < 1e-5  # the row is a distribution
    plt.close(fig)
    box = attention_viewer(vit, x)
    layer, head = box.children[0].children
    layer.value = 0
    head.value = 1
    plt.close("all")


# ---- position-embedding explorer (notebook 03) -----------------------------------------

def _tables():
    import torch

    from vlmlab.posembed import sincos_1d, sincos_2d

    return {"learned": (torch.randn(12, 16), (3, 4)), "sincos1d": (sincos_1d(12, 16), (3, 4)),
            "sincos2d": (sincos_2d((3, 4), 16), (3, 4))}


def test_resize_table():
    from vlmlab.posembed import sincos_2d
    from vlmlab.widgets.posembed import resize_table

    t = _tables()
    assert resize_table(*t["learned"], (5, 5), "learned").shape == (25, 16)
    assert torch_equal(resize_table(*t["sincos2d"], (5, 6), "sincos2d"), sincos_2d((5, 6), 16))


def torch_equal(a, b):
    import torch

    return torch.equal(a, b)


def test_similarity_and_posembed_figures():
    from vlmlab.widgets.posembed import posembed_explorer, posembed_figure, similarity_grid_figure

    t = _tables()
    fig, sims = similarity_grid_figure(*t["sincos2d"])
    assert sims.shape == (3, 4, 3, 4)
    np.testing.assert_allclose(sims[1, 2, 1, 2], 1.0, rtol=1e-6)
    plt.close(fig)
    fig, info = posembed_figure(t, "learned", 1, 2, 6)
    assert info["new_table_shape"] == (36, 16) and info["new_index"] == (3, 3)
    assert info["map"][1, 2] == pytest.approx(1.0) and info["new_map"][3, 3] == pytest.approx(1.0)
    plt.close(fig)
    with pytest.raises(ValueError, match=r"row must be in \[0, 2\] \(a row of the 3x4 grid\), got 3"):
        posembed_figure(t, "learned", 3, 0, 6)
    with pytest.raises(TypeError, match=r"row must be an int in \[0, 2\] \(a row of the 3x4 grid\), got 1.5"):
        posembed_figure(t, "learned", 1.5, 0, 6)
    box = posembed_explorer(t)
    kind = box.children[0].children[0]
    kind.value = "sincos1d"
    plt.close("all")


def test_posembed_figures_for_a_b16_sized_table():
    # CLIP ViT-B/16 at 224: a 14 x 14 grid of 768-wide positions; nothing in the explorer assumes the toy's 8 x 8
    import torch

    from vlmlab.posembed import sincos_2d
    from vlmlab.widgets.posembed import posembed_explorer, posembed_figure, similarity_grid_figure

    tables = {"learned": (torch.randn(196, 768), (14, 14)), "sincos2d": (sincos_2d((14, 14), 768), (14, 14))}
    fig, sims = similarity_grid_figure(*tables["sincos2d"])
    plt.close(fig)
    assert sims.shape == (14, 14, 14, 14)
    fig, info = posembed_figure(tables, "learned", 13, 0, 24)  # 224/14 -> 336/14
    plt.close(fig)
    # the bottom-left patch stays at the bottom-left: row int(13.5 * 24 / 14) = 23, column int(0.5 * 24 / 14) = 0
    assert info["new_table_shape"] == (576, 768) and info["new_index"] == (23, 0)
    box = posembed_explorer(tables)
    row, col = box.children[1].children
    assert (row.max, col.max, row.value, col.value) == (13, 13, 7, 7)
    plt.close("all")


def test_attention_viewer_bad_arguments_name_them():
    import torch

    from vlmlab.widgets.vit import query_attention_map

    vit = _tiny_vit()
    with torch.no_grad():
        att = vit.forward_features(torch.randn(1, 3, 16, 24), output_attentions=True).attentions
    with pytest.raises(TypeError, match="layer must be an int"):
        query_attention_map(att, "last", 0, 0, (2, 3))
    with pytest.raises(ValueError, match=r"layer must be in \[-2, 1\] \(one of the 2 layers\), got 2"):
        query_attention_map(att, 2, 0, 0, (2, 3))
    with pytest.raises(ValueError, match=r"attention maps have 7 tokens but grid \(3, 3\) needs 1 \+ 9"):
        query_attention_map(att, 0, 0, 0, (3, 3))
