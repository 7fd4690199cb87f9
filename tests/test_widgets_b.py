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
