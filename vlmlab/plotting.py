"""Small matplotlib helpers that every notebook and widget draws with.

Kept here so that a patch grid, an attention map or a tile plan look the same
in every notebook. Every function draws on an ``Axes`` it is given (or makes a
figure) and returns what it drew; nothing calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np


def as_display_array(image) -> np.ndarray:
    """Any image as an ``(H, W, 3)`` float32 array in [0, 1] for ``imshow``.

    Accepts a PIL image (converted by ``vlmlab.preprocess.to_rgb``: upright,
    RGB) or a ``(3, H, W)`` / ``(H, W, 3)`` / ``(H, W)`` array or tensor. The
    scale is read from the dtype, never from the values: integers (uint8) are
    0..255 and divided by 255; floats are taken as [0, 1] and clipped there, so
    a bicubic overshoot such as 1.02 shows as white instead of rescaling the
    whole picture. Floats in 0..255 must be divided by 255 first;
    CLIP-normalised tensors go through ``vlmlab.preprocess.denormalise``.
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        from .preprocess import to_rgb

        image = np.asarray(to_rgb(image))  # (H, W, 3) uint8
    try:  # torch is optional here: a plain numpy array works too
        import torch

        if isinstance(image, torch.Tensor):
            image = image.detach().cpu()
            if image.is_floating_point():
                image = image.float()  # bfloat16 / float16 -> float32 (numpy has no bfloat16)
            image = image.numpy()
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
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        return np.clip(arr.astype(np.float32) / 255.0, 0.0, 1.0)
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(arr.astype(np.float32), 0.0, 1.0)
    raise TypeError(f"image must hold integers (0..255) or floats (0..1), got dtype {arr.dtype}")


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


def draw_box(ax, top: float, left: float, bottom: float, right: float, color: str = "yellow", linewidth: float = 2.0,
             label: str | None = None):
    """Outline the pixel box ``(top, left, bottom, right)``, bottom and right exclusive, with an optional label.

    The same box convention as ``vlmlab.scenes.SceneObject.box`` and
    ``vlmlab.attention.box_coverage``: rows ``top .. bottom - 1`` and columns
    ``left .. right - 1`` are inside. ``color`` is matplotlib's.
    """
    from matplotlib.patches import Rectangle

    if bottom < top or right < left:
        raise ValueError(f"draw_box takes (top, left, bottom, right) with bottom >= top and right >= left, got "
                         f"{(top, left, bottom, right)}")
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, edgecolor=color,
                           linewidth=linewidth))
    if label:
        ax.text(left + 2, top + 2, label, color=color, fontsize=8, va="top", ha="left",
                bbox=dict(facecolor="black", alpha=0.5, pad=1, linewidth=0))


def greyscale(image) -> np.ndarray:
    """``image`` as an ``(H, W, 3)`` grey float32 array (ITU-R 601 luma), for maps drawn over it.

    A heat map laid over a coloured scene mixes with it: orange heat over a
    green cross looks olive, and nobody can tell how hot the cross is. Over a
    grey copy the only hue on screen is the heat's.
    """
    arr = as_display_array(image)
    luma = arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.repeat(luma[..., None], 3, axis=-1)


def overlay_heatmap(ax, image, heat, alpha: float = 0.6, cmap: str = "inferno", title: str | None = None,
                    vmin: float | None = None, vmax: float | None = None, norm=None):
    """Draw a greyscale copy of ``image`` with a ``(rows, cols)`` map stretched over it (one cell per patch).

    The course's one convention for attention and similarity maps: the image
    underneath is grey (:func:`greyscale`), so the heat's colour is the only
    colour, on one colour map (``inferno``). The map is shown with
    nearest-neighbour cells, so each patch stays a visible square rather than
    a blur. Colours span ``[vmin, vmax]``; left as ``None`` they span this
    map's own minimum and maximum, which makes a nearly uniform map look as
    contrasted as a sharp one. To compare several maps, pass one shared
    ``vmin``/``vmax`` (or one matplotlib ``norm``, e.g. ``LogNorm``) to all of
    them and add one :func:`heat_colorbar`. Returns matplotlib's ``AxesImage``.
    """
    if hasattr(heat, "detach"):  # a tensor, maybe bfloat16, which numpy cannot hold: float32 first
        heat = heat.detach().float().cpu().numpy()
    heat = np.asarray(heat, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f"heat must be a 2-D (rows, cols) map, got shape {heat.shape}")
    arr = greyscale(image)
    height, width = arr.shape[:2]
    show_image(ax, arr, title)
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    if norm is not None:
        return ax.imshow(heat, cmap=cmap, alpha=alpha, norm=norm, extent=extent, interpolation="nearest")
    vmin = float(heat.min()) if vmin is None else float(vmin)
    vmax = float(heat.max()) if vmax is None else float(vmax)
    if not vmin <= vmax:
        raise ValueError(f"vmin must be <= vmax, got vmin={vmin}, vmax={vmax}")
    if vmin == vmax:  # a constant map: one colour, not a division by zero
        vmax = vmin + 1e-12
    return ax.imshow(heat, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax, extent=extent, interpolation="nearest")


def heat_colorbar(fig, mappable, ax, label: str, uniform: float | None = None, uniform_label: str = "uniform",
                  **kwargs):
    """A colour bar for ``mappable`` with the ``uniform`` level drawn as a line a reader can see.

    ``uniform`` is the value an even spread would give (``1 / N`` for
    attention over N tokens, 0 for a cosine): cells above it drew more than
    their share. The line is cyan, a colour ``inferno`` never uses; the label
    says so (unless it already names cyan). A level outside the bar's range is
    named in the label instead of drawn. Other keywords go to ``fig.colorbar``.
    Returns the ``Colorbar``.
    """
    kwargs.setdefault("fraction", 0.046)
    kwargs.setdefault("pad", 0.03)
    bar = fig.colorbar(mappable, ax=ax, **kwargs)
    bar.ax.tick_params(labelsize=7)
    if uniform is not None:
        lo, hi = bar.mappable.norm.vmin, bar.mappable.norm.vmax
        if lo <= uniform <= hi:
            bar.ax.axhline(uniform, color="cyan", linewidth=2.5)
            if "cyan" not in label:
                label = f"{label} (cyan: {uniform_label})"
        else:
            label = f"{label} ({uniform_label} {uniform:.3g}, off this scale)"
    bar.set_label(label, fontsize=8)
    return bar
