"""Small matplotlib helpers that every notebook and widget draws with.

Kept here so that a patch grid, an attention map or a tile plan look the same
in every notebook. Every function draws on an ``Axes`` it is given (or makes a
figure) and returns what it drew; nothing calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np


def as_display_array(image) -> np.ndarray:
    """Any image as an ``(H, W, 3)`` float array in [0, 1] for ``imshow``.

    Accepts a PIL image, a ``(3, H, W)`` / ``(H, W, 3)`` / ``(H, W)`` array or
    tensor with values in [0, 1] or [0, 255]. CLIP-normalised tensors should go
    through ``vlmlab.preprocess`` to undo the normalisation first.
    """
    try:  # torch is optional here: a plain numpy array works too
        import torch

        if isinstance(image, torch.Tensor):
            image = image.detach().float().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"image must be (H, W), (H, W, 3) or (3, H, W), got shape {arr.shape}")
    arr = arr.astype(np.float32)
    if arr.max(initial=0.0) > 1.0:
        arr = arr / 255.0
    return np.clip(arr, 0.0, 1.0)


def new_axes(ncols: int = 1, nrows: int = 1, size: float = 3.0, **kwargs):
    """``plt.subplots`` with square panels of ``size`` inches and no ticks."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False, **kwargs)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, (axes[0, 0] if axes.size == 1 else axes)


def show_image(ax, image, title: str | None = None):
    """Draw ``image`` on ``ax`` without ticks; returns the ``AxesImage``."""
    im = ax.imshow(as_display_array(image))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return im


def draw_grid(ax, image_size, grid, color: str = "white", linewidth: float = 0.8, alpha: float = 0.9):
    """Draw the lines of a ``(rows, cols)`` grid over an image of ``(height, width)`` pixels.

    Cells are ``height/rows`` by ``width/cols`` pixels; lines sit on pixel
    edges, as ``imshow`` puts pixel centres on integers.
    """
    height, width = image_size
    rows, cols = grid
    for r in range(1, rows):
        ax.axhline(r * height / rows - 0.5, color=color, linewidth=linewidth, alpha=alpha)
    for c in range(1, cols):
        ax.axvline(c * width / cols - 0.5, color=color, linewidth=linewidth, alpha=alpha)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)


def draw_box(ax, top: float, left: float, height: float, width: float, color: str = "yellow", linewidth: float = 2.0, label: str | None = None):
    """Outline the box ``(top, left, height, width)`` in pixels, with an optional label."""
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor=color, linewidth=linewidth))
    if label:
        ax.text(left + 2, top + 2, label, color=color, fontsize=8, va="top", ha="left",
                bbox=dict(facecolor="black", alpha=0.5, pad=1, linewidth=0))


def overlay_heatmap(ax, image, heat, alpha: float = 0.5, cmap: str = "inferno", title: str | None = None):
    """Draw ``image`` with a ``(rows, cols)`` map stretched over it (one cell per patch).

    The map is shown with nearest-neighbour cells, so each patch stays a
    visible square rather than a blur; it is scaled to [0, 1] for the colours.
    """
    arr = as_display_array(image)
    heat = np.asarray(heat.detach().cpu() if hasattr(heat, "detach") else heat, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f"heat must be a 2-D (rows, cols) map, got shape {heat.shape}")
    span = heat.max() - heat.min()
    heat = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
    height, width = arr.shape[:2]
    ax.imshow(arr)
    im = ax.imshow(heat, cmap=cmap, alpha=alpha, extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return im
