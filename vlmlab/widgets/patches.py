"""Patch-grid explorer: an image, a patch size, the grid a ViT cuts, its token count and the patch sequence.

Pure function :func:`patch_grid_figure` (tested, and called by the
notebooks' last cells); :func:`patch_grid_explorer` is the ipywidgets shell
around it (notebooks 00 and 01).
"""

from __future__ import annotations

import numpy as np

from .._validate import as_positive_int, as_size, pil_size_hw
from ..plotting import as_display_array, draw_grid, show_image

__all__ = ["fit_to_patches", "valid_patch_sizes", "patch_grid_figure", "patch_grid_explorer"]


def fit_to_patches(image, patch_size: int, image_size=None) -> np.ndarray:
    """The ``(H, W, 3)`` array a ViT with this patch size would see.

    With ``image_size = (height, width)`` (or an int) the image is first
    resized to it (bicubic, as CLIP's processor does), and that size must be a
    multiple of ``patch_size``. Without it, the image is kept at its own size
    and centre-cropped to the largest multiple of ``patch_size`` (a ViT has no
    rule for a partial patch; at most ``patch_size - 1`` pixels per side go).
    """
    p = as_positive_int(patch_size, "patch_size")
    if image_size is not None:
        from PIL import Image

        from .._validate import check_divisible

        h, w = as_size(image_size, "image_size")
        check_divisible((h, w), p, "image_size")
        from ..preprocess import to_rgb

        if isinstance(image, Image.Image):
            image = to_rgb(image)  # upright RGB, the rule of every entry point
        else:
            image = Image.fromarray((as_display_array(image) * 255).round().astype(np.uint8))
        if pil_size_hw(image) != (h, w):
            image = image.resize((w, h), Image.BICUBIC)  # PIL takes (width, height)
        return as_display_array(image)
    arr = as_display_array(image)
    H, W = arr.shape[:2]
    if H < p or W < p:
        raise ValueError(f"image of (height, width) {(H, W)} is smaller than one patch of {p}x{p} pixels")
    h, w = H // p * p, W // p * p
    top, left = (H - h) // 2, (W - w) // 2
    return arr[top:top + h, left:left + w]


def valid_patch_sizes(image_size, candidates=range(2, 65)) -> list[int]:
    """The patch sizes among ``candidates`` that divide both sides of ``image_size = (height, width)``."""
    h, w = as_size(image_size)
    return [p for p in candidates if h % p == 0 and w % p == 0]


def patch_grid_figure(image, patch_size: int, image_size=None, max_strip: int = 16):
    """Draw the patch grid over ``image`` and, below it, the first patches as the sequence a ViT reads.

    ``image``: a PIL image or an ``(H, W, 3)`` / ``(3, H, W)`` array. See
    :func:`fit_to_patches` for ``image_size`` (resize first) and for what
    happens when the size is not a multiple of ``patch_size`` (centre crop).

    Returns ``(fig, info)`` with ``info = dict(rows=, cols=, tokens=, image_size=(h, w), patch_size=)``;
    ``tokens = rows * cols`` patch tokens (a CLS token, where a model has one, comes on top).
    """
    import matplotlib.pyplot as plt
    import torch

    from ..patches import patch_grid, patchify

    p = as_positive_int(patch_size, "patch_size")
    max_strip = as_positive_int(max_strip, "max_strip")
    arr = fit_to_patches(image, p, image_size)
    h, w = arr.shape[:2]
    rows, cols = patch_grid((h, w), p)
    tokens = rows * cols

    # The sequence, cut by the package's own patchify: (1, N, 3*p*p) -> first K patches as (K, p, p, 3).
    k = min(max_strip, tokens)
    x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).unsqueeze(0)  # (1, 3, H, W)
    seq = patchify(x, p)[0, :k].reshape(k, 3, p, p).permute(0, 2, 3, 1).numpy()  # (K, p, p, 3)

    fig = plt.figure(figsize=(7.0, 5.6))
    grid_spec = fig.add_gridspec(2, 1, height_ratios=[4.6, 0.7], hspace=0.12, left=0.02, right=0.98, top=0.93, bottom=0.07)
    ax = fig.add_subplot(grid_spec[0])
    show_image(ax, arr)
    linewidth = 0.8 if max(rows, cols) <= 40 else 0.3
    draw_grid(ax, (h, w), (rows, cols), linewidth=linewidth)
    # number the first patches so the strip below can be matched to the grid (when they are big enough to read)
    if cols <= 20:
        for n in range(k):
            r, c = divmod(n, cols)
            ax.text(c * p + p * 0.5 - 0.5, r * p + p * 0.5 - 0.5, str(n), color="yellow", fontsize=7,
                    ha="center", va="center", bbox=dict(facecolor="black", alpha=0.45, pad=0.5, linewidth=0))
    ax.set_title(f"{h}x{w} px, patch {p}: {rows} x {cols} grid = {tokens} tokens", fontsize=10)

    strip_spec = grid_spec[1].subgridspec(1, max_strip, wspace=0.08)
    for n in range(max_strip):
        sax = fig.add_subplot(strip_spec[n])
        sax.set_xticks([])
        sax.set_yticks([])
        if n < k:
            sax.imshow(seq[n], interpolation="nearest")
            sax.set_title(str(n), fontsize=7, pad=2)
        else:
            sax.axis("off")
    fig.text(0.5, 0.02, f"the sequence a ViT reads: patches 0 .. {k - 1} of {tokens}, row by row"
             + (" (then more)" if tokens > k else ""), ha="center", fontsize=9)
    return fig, dict(rows=rows, cols=cols, tokens=tokens, image_size=(h, w), patch_size=p)


def patch_grid_explorer(image, image_sizes=(224, 336, 448), max_strip: int = 16, size=None, patch_size=None):
    """Interactive explorer: pick an input size and a patch size (only sizes that divide it); see grid and tokens.

    The image is resized to the chosen square input size, as a CLIP
    processor would (after its centre crop). ``size`` (one of
    ``image_sizes``, default the first) and ``patch_size`` (one that divides
    it, default 16 where it does) set where the controls start. Returns an
    ``ipywidgets.VBox``.
    """
    import ipywidgets as widgets
    from . import render_into

    sizes = [as_positive_int(s, "image_sizes item") for s in image_sizes]
    start = sizes[0] if size is None else as_positive_int(size, "size")
    if start not in sizes:
        raise ValueError(f"size must be one of image_sizes {sizes}, got {start}")
    size_box = widgets.Dropdown(options=sizes, value=start, description="input size")

    def options_for(size):
        return [p for p in valid_patch_sizes(size, range(4, 65))]

    first = options_for(start)
    if patch_size is None:
        first_patch = 16 if 16 in first else first[len(first) // 2]
    else:
        first_patch = as_positive_int(patch_size, "patch_size")
        if first_patch not in first:
            raise ValueError(f"patch_size must divide the input size {start} (one of {first}), got {first_patch}")
    patch_box = widgets.SelectionSlider(options=first, value=first_patch,
                                        description="patch size", continuous_update=False)
    out = widgets.Output()

    box = widgets.VBox([widgets.HBox([size_box, patch_box]), out])

    def redraw(*_):
        box.info = render_into(out, lambda: patch_grid_figure(image, patch_box.value, image_size=size_box.value,
                                                              max_strip=max_strip))

    def on_size(change):
        opts = options_for(change["new"])
        old = patch_box.value
        patch_box.unobserve(redraw, names="value")
        patch_box.options = opts
        patch_box.value = old if old in opts else min(opts, key=lambda q: abs(q - old))
        patch_box.observe(redraw, names="value")
        redraw()

    size_box.observe(on_size, names="value")
    patch_box.observe(redraw, names="value")
    redraw()
    return box
