"""vlmlab.plotting: the display scale comes from the dtype; heatmaps in any float dtype."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vlmlab.plotting import as_display_array, draw_box, overlay_heatmap


def test_float_image_with_overshoot_is_clipped_not_rescaled():
    # a [0, 1] image after a bicubic resize: one pixel overshoots to 1.02
    x = torch.full((3, 2, 2), 0.5)
    x[0, 0, 0] = 1.02
    arr = as_display_array(x)
    assert arr.shape == (2, 2, 3) and arr.dtype == np.float32
    assert arr[0, 0, 0] == 1.0  # clipped
    assert arr[1, 1, 1] == 0.5  # the rest untouched (dividing by 255 would make it 0.002: black)


def test_integers_are_divided_by_255():
    x = np.array([[0, 51, 255]], dtype=np.uint8)  # (H, W) grey
    np.testing.assert_allclose(as_display_array(x)[0, :, 0], [0.0, 0.2, 1.0], atol=1e-7)
    assert as_display_array(torch.tensor([[1]], dtype=torch.uint8))[0, 0, 0] == pytest.approx(1 / 255)  # not 1.0


def test_pil_images_follow_the_image_rule():
    rgba = Image.new("RGBA", (2, 1), (255, 0, 0, 0))  # fully transparent: white, as to_rgb composites it
    np.testing.assert_array_equal(as_display_array(rgba), np.ones((1, 2, 3), np.float32))
    sixteen = Image.new("I;16", (1, 1), 65535)  # 16-bit white stays white
    np.testing.assert_array_equal(as_display_array(sixteen), np.ones((1, 1, 3), np.float32))


def test_bfloat16_and_layouts():
    x = torch.rand(3, 4, 5).to(torch.bfloat16)
    arr = as_display_array(x)
    assert arr.shape == (4, 5, 3) and arr.dtype == np.float32
    np.testing.assert_allclose(arr, x.float().permute(1, 2, 0).numpy())
    with pytest.raises(ValueError, match=r"image must be \(H, W\), \(H, W, 3\) or \(3, H, W\), got shape \(2, 4, 5\)"):
        as_display_array(np.zeros((2, 4, 5)))


def test_overlay_heatmap_accepts_bfloat16():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    heat = torch.arange(6, dtype=torch.bfloat16).view(2, 3)
    im = overlay_heatmap(ax, torch.rand(3, 8, 12), heat)
    np.testing.assert_allclose(im.get_array(), np.arange(6).reshape(2, 3))  # values kept, as float32
    assert im.get_clim() == (0.0, 5.0)  # colours span the map's own range
    plt.close(fig)
    with pytest.raises(ValueError, match="heat must be a 2-D"):
        overlay_heatmap(ax, torch.rand(3, 8, 12), torch.zeros(6))


def test_overlay_heatmap_shared_scale():
    """With vmin/vmax given, two maps with different ranges are coloured on one scale."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2)
    flat = np.full((4, 4), 0.25, dtype=np.float32)
    sharp = np.zeros((4, 4), dtype=np.float32)
    sharp[0, 0] = 1.0
    im1 = overlay_heatmap(ax1, np.zeros((8, 8, 3)), flat, vmin=0.0, vmax=1.0)
    im2 = overlay_heatmap(ax2, np.zeros((8, 8, 3)), sharp, vmin=0.0, vmax=1.0)
    assert im1.get_clim() == im2.get_clim() == (0.0, 1.0)
    assert im1.norm(0.25) == pytest.approx(0.25)  # the flat map stays a quarter up the scale
    im3 = overlay_heatmap(ax1, np.zeros((8, 8, 3)), sharp)  # default: the map's own range
    assert im3.get_clim() == (0.0, 1.0)
    with pytest.raises(ValueError, match="vmin must be <= vmax"):
        overlay_heatmap(ax1, np.zeros((8, 8, 3)), flat, vmin=1.0, vmax=0.0)
    plt.close(fig)


def test_draw_box_takes_top_left_bottom_right_like_every_box_in_vlmlab():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    draw_box(ax, 2, 3, 10, 7)  # rows 2..9, columns 3..6: a scene object's .box
    rect = ax.patches[-1]
    assert (rect.get_x(), rect.get_y(), rect.get_width(), rect.get_height()) == (2.5, 1.5, 4, 8)  # pixel edges
    with pytest.raises(ValueError, match=r"draw_box takes \(top, left, bottom, right\).*got \(2, 3, 1, 7\)"):
        draw_box(ax, 2, 3, 1, 7)
    plt.close(fig)


def test_maps_are_drawn_over_a_grey_image_so_the_heat_is_the_only_colour():
    """The course's map convention: heat over a greyscale copy, never over the objects' own colours."""
    import matplotlib.pyplot as plt

    from vlmlab.plotting import greyscale

    green = np.zeros((8, 8, 3), np.uint8)
    green[..., 1] = 255
    grey = greyscale(green)
    np.testing.assert_allclose(grey, np.full((8, 8, 3), 0.587, np.float32), atol=1e-6)  # luma of pure green
    fig, ax = plt.subplots()
    overlay_heatmap(ax, green, np.eye(2))
    base = ax.images[0].get_array()
    assert np.ptp(np.asarray(base), axis=-1).max() == 0  # every pixel underneath has R == G == B
    plt.close(fig)


def test_heat_colorbar_marks_the_uniform_level_or_says_it_is_off_the_scale():
    import matplotlib.pyplot as plt

    from vlmlab.plotting import heat_colorbar

    fig, ax = plt.subplots()
    im = overlay_heatmap(ax, np.zeros((8, 8, 3)), np.array([[0.0, 0.5], [0.25, 0.25]]), vmin=0, vmax=0.5)
    bar = heat_colorbar(fig, im, ax, "attention", uniform=0.25)
    lines = [ln for ln in bar.ax.lines if ln.get_color() == "cyan"]
    assert len(lines) == 1 and lines[0].get_ydata()[0] == 0.25
    assert bar.ax.get_ylabel() == "attention (cyan: uniform)"
    bar2 = heat_colorbar(fig, im, ax, "attention", uniform=0.9)  # above vmax: named, not drawn
    assert not [ln for ln in bar2.ax.lines if ln.get_color() == "cyan"]
    assert bar2.ax.get_ylabel() == "attention (uniform 0.9, off this scale)"
    plt.close(fig)
