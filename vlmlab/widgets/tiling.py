"""Tile planner: an image, a tiling method and a tile budget; see the grid, the padding, the tiles and the token bill.

Pure function :func:`tile_plan_figure` (tested, and driven by notebook 06's
last cell); :func:`tile_planner` is the ipywidgets shell around it.
:func:`plans_to_scale_figure` draws several plans side by side at one pixel
scale, and :func:`edge_crossings` finds where tile edges cut through ink
(text split between two tiles).
"""

from __future__ import annotations

from .._validate import as_positive_int, check_choice
from ..plotting import draw_box, draw_grid, show_image

__all__ = ["DEFAULT_TILE", "edge_crossings", "plan_summary", "plans_to_scale_figure", "tile_plan_figure", "tile_planner",
           "tiling_canvas"]


def plan_summary(plan, patch_size: int = 14) -> dict:
    """Numbers of a ``tiling.TilePlan``: pictures encoded, tokens, padding and stretch.

    Tokens, each from its ``tiling`` function: ``naive`` = every picture's
    ``(tile/patch)²`` patches, concatenated; ``llava-next`` =
    ``tiling.llava_next_num_tokens`` over the same candidates the plan chose
    from (``llava_next_candidates(tile, plan.max_tiles)``); ``internvl`` =
    ``tiling.internvl_tokens_per_tile`` per picture (2x2 pixel shuffle).
    """
    from .. import tiling
    from ..patches import patch_grid

    p = as_positive_int(patch_size, "patch_size")
    t = plan.tile_size
    if plan.method == "llava-next":
        candidates = tiling.llava_next_candidates(t, plan.max_tiles)
        tokens = tiling.llava_next_num_tokens(plan.image_size, t, p, pinpoints=candidates)
    elif plan.method == "internvl":
        tokens = plan.num_tiles * tiling.internvl_tokens_per_tile(t, p)
    else:
        rows, cols = patch_grid((t, t), p)
        tokens = plan.num_tiles * rows * cols  # every patch of every picture is a token
    canvas_pixels = plan.canvas[0] * plan.canvas[1]
    return dict(
        method=plan.method, grid=plan.grid, pictures=plan.num_tiles, tokens=tokens,
        image_size=plan.image_size, resized=plan.resized, canvas=plan.canvas,
        padding_pixels=plan.padding_pixels, padding_fraction=round(plan.padding_pixels / canvas_pixels, 4),
        distortion=round(plan.distortion, 4),
    )


DEFAULT_TILE = {"naive": 336, "llava-next": 336, "internvl": 448}


def tile_plan_figure(image, method: str, tile_size: int | None = None, max_tiles: int | None = None,
                     patch_size: int = 14):
    """Draw what ``method`` does to ``image``: the canvas with its tile grid, the tiles, the extra thumbnail.

    ``tile_size`` defaults to the method's own (336; 448 for InternVL).
    Returns ``(fig, info)``: ``info`` is :func:`plan_summary` of the plan.
    """
    import matplotlib.pyplot as plt

    from .. import tiling

    check_choice(method, tiling.METHODS, "method")
    tile_size = DEFAULT_TILE[method] if tile_size is None else tile_size
    plan = tiling.plan_tiles(image, method, tile_size=tile_size, max_tiles=max_tiles)
    info = plan_summary(plan, patch_size)
    rows, cols = plan.grid

    # left: the canvas (tiles put back together), grid drawn, image area outlined; right: the tiles apart + thumbnail
    canvas = tiling_canvas(plan)
    wide = plan.canvas[1] >= 2 * plan.canvas[0]  # a wide canvas needs less height
    fig = plt.figure(figsize=(10, 3.2 if wide else 4.4))
    spec = fig.add_gridspec(1, 3, width_ratios=[1.25, 1.25, 0.5], wspace=0.08, left=0.02, right=0.98, top=0.8, bottom=0.04)
    ax = fig.add_subplot(spec[0])
    show_image(ax, canvas, title=f"canvas {plan.canvas[0]}x{plan.canvas[1]}, grid {rows}x{cols}")
    draw_grid(ax, plan.canvas, plan.grid, color="yellow", linewidth=1.2)
    if plan.padding_pixels:
        top, left = plan.offset
        draw_box(ax, top, left, top + plan.resized[0], left + plan.resized[1], color="cyan", linewidth=1.5)

    tiles_spec = spec[1].subgridspec(rows, cols, wspace=0.06, hspace=0.06)
    for n, tile in enumerate(plan.tiles):
        tax = fig.add_subplot(tiles_spec[n // cols, n % cols])
        show_image(tax, tile)
        if rows * cols <= 16:  # reading order, inside the tile so that rows of tiles don't collide
            tax.text(0.04, 0.96, str(n), transform=tax.transAxes, color="yellow", fontsize=7, va="top",
                     bbox=dict(facecolor="black", alpha=0.5, pad=0.5, linewidth=0))
    tax0 = fig.add_subplot(spec[2])
    if plan.thumbnail is not None:
        label = {"llava-next": "base image", "internvl": "thumbnail", "naive": "thumbnail"}[method]
        # the thumbnail is the whole image squashed to one square tile: say by how much
        squash = max(plan.image_size) / min(plan.image_size)
        show_image(tax0, plan.thumbnail, title=f"{label}\n(squashed x{squash:.2f})" if squash > 1.005 else label)
    else:
        tax0.axis("off")
        tax0.text(0.5, 0.5, "no thumbnail\n(one tile)", ha="center", va="center", fontsize=9)
    h, w = plan.image_size
    fig.suptitle(
        f"{method}: {h}x{w} image -> {info['pictures']} pictures of {plan.tile_size}² -> {info['tokens']} tokens\n"
        f"padding {100 * info['padding_fraction']:.1f}% of the canvas, crops' aspect ratio stretched "
        f"x{info['distortion']:.2f}",
        fontsize=10,
    )
    return fig, info


def tiling_canvas(plan):
    """The tiles of ``plan`` pasted back into one PIL image of ``plan.canvas`` size."""
    from PIL import Image

    rows, cols = plan.grid
    t = plan.tile_size
    canvas = Image.new("RGB", (cols * t, rows * t))
    for n, tile in enumerate(plan.tiles):
        canvas.paste(tile, ((n % cols) * t, (n // cols) * t))
    return canvas


def edge_crossings(plan, dark: int = 128, reach: int = 3) -> list[dict]:
    """Where dark strokes (text, lines) run across the inner tile edges of ``plan``'s canvas.

    Each tile is encoded on its own, so a glyph that an edge cuts is seen as
    two halves by two tiles. For every inner edge, the positions along it
    (rows of a vertical edge, columns of a horizontal one) where a pixel darker
    than ``dark`` (0..255 luma) lies within ``reach`` pixels on *both* sides of
    the edge, inside the image's area (padding is not counted). Returns a list of
    ``dict(axis="vertical" | "horizontal", at=first pixel of the next tile,
    crossings=int numpy array)``, vertical edges first.
    """
    import numpy as np

    dark = int(dark)
    reach = as_positive_int(reach, "reach")
    luma = np.asarray(tiling_canvas(plan).convert("L"))  # (H, W) uint8
    (top, left), (h, w) = plan.offset, plan.resized
    inked = luma[top:top + h, left:left + w] < dark  # the image's area only
    rows, cols = plan.grid
    t = plan.tile_size
    found = []
    for c in range(1, cols):
        at = c * t - left
        both = inked[:, max(at - reach, 0):at].any(1) & inked[:, at:at + reach].any(1)
        found.append(dict(axis="vertical", at=c * t, crossings=np.flatnonzero(both) + top))
    for r in range(1, rows):
        at = r * t - top
        both = inked[max(at - reach, 0):at].any(0) & inked[at:at + reach].any(0)
        found.append(dict(axis="horizontal", at=r * t, crossings=np.flatnonzero(both) + left))
    return found


def _scale_label(plan) -> str:
    """How the image's content was resized onto the canvas: one factor, or height and width apart when stretched."""
    (h0, w0), (h1, w1) = plan.image_size, plan.resized
    sh, sw = h1 / h0, w1 / w0
    return f"resized x{sh:.2f}" if abs(sh / sw - 1) < 0.01 else f"resized x{sh:.2f} (h), x{sw:.2f} (w)"


def plans_to_scale_figure(plans: dict, names, methods, gap: int = 96, width: float = 14.0):
    """Every plan's canvas and its thumbnail (or base image), all drawn at one scale: one inch is the same pixels.

    ``plans``: ``(name, method) -> tiling.TilePlan``; rows are ``methods``,
    columns ``names``. Each panel shows the canvas cut into tiles (yellow grid,
    grey outline) and, ``gap`` pixels to its right, the extra whole-image
    picture at its own size, so a canvas larger than another, or a thumbnail
    beside a large canvas, looks it. The panel title gives the grid and how much
    the image was resized (above 1: upscaled). Returns the figure, ``width``
    inches wide.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    names, methods = list(names), list(methods)

    def extent(plan):  # (height, width) in pixels of canvas + thumbnail
        extra = plan.thumbnail.width + gap if plan.thumbnail is not None else 0
        tall = max(plan.canvas[0], plan.thumbnail.height if plan.thumbnail is not None else 0)
        return tall, plan.canvas[1] + extra

    col_px = [max(extent(plans[n, m])[1] for m in methods) + gap for n in names]
    row_px = [max(extent(plans[n, m])[0] for n in names) for m in methods]
    label_in, title_in, head_in = 0.9, 0.42, 0.75  # row labels, panel titles, suptitle + column heads
    inch_per_px = (width - label_in) / sum(col_px)
    height = head_in + sum(title_in + r * inch_per_px for r in row_px) + 0.1
    fig = plt.figure(figsize=(width, height))
    y = height - head_in
    for i, method in enumerate(methods):
        y -= title_in + row_px[i] * inch_per_px
        fig.text(0.1 / width, (y + row_px[i] * inch_per_px / 2) / height, method, rotation=90, va="center",
                 fontsize=10, fontweight="bold")
        x = label_in
        for j, name in enumerate(names):
            plan = plans[name, method]
            ax = fig.add_axes([x / width, y / height, col_px[j] * inch_per_px / width, row_px[i] * inch_per_px / height])
            ax.set_xlim(0, col_px[j])
            ax.set_ylim(row_px[i], 0)
            ax.set_aspect("auto")  # the box already has the data's proportions: one scale everywhere
            ax.axis("off")
            ch, cw = plan.canvas
            ax.imshow(tiling_canvas(plan), extent=(0, cw, ch, 0), interpolation="antialiased")
            rows, cols = plan.grid
            for r in range(1, rows):
                ax.plot([0, cw], [r * ch / rows] * 2, color="yellow", linewidth=0.8)
            for c in range(1, cols):
                ax.plot([c * cw / cols] * 2, [0, ch], color="yellow", linewidth=0.8)
            ax.add_patch(Rectangle((0, 0), cw, ch, fill=False, edgecolor="grey", linewidth=0.6))
            if plan.thumbnail is not None:
                tw, th = plan.thumbnail.width, plan.thumbnail.height
                ax.imshow(plan.thumbnail, extent=(cw + gap, cw + gap + tw, th, 0), interpolation="antialiased")
                ax.add_patch(Rectangle((cw + gap, 0), tw, th, fill=False, edgecolor="grey", linewidth=0.6))
                label = "base" if plan.method == "llava-next" else "thumb"
                ax.text(cw + gap + tw / 2, th, label, ha="center", va="top", fontsize=7, color="tab:blue")
            ax.text(0, -8, f"{rows}x{cols} grid\n{_scale_label(plan)}", fontsize=7, va="bottom", ha="left")
            if i == 0:
                h0, w0 = plan.image_size
                fig.text((x + 0.02) / width, (height - head_in + 0.08) / height, f"{name} ({h0}x{w0})", fontsize=10,
                         fontweight="bold", va="bottom")
            x += col_px[j] * inch_per_px
    fig.suptitle("Each method's canvas (yellow: tile edges) and its extra whole-image picture, all at one pixel scale",
                 fontsize=11, y=1 - 0.12 / height, va="top")
    return fig


def tile_planner(images: dict, tile_sizes=("method's own", 224, 336, 448), patch_size: int = 14):
    """Interactive tile planner: image, method, tile size, max tiles -> grid, padding, tiles and tokens.

    ``images``: ``name -> PIL image``. Returns an ``ipywidgets.VBox`` whose
    ``summary`` attribute holds the :func:`plan_summary` of the plan on show.
    """
    import ipywidgets as widgets

    from .. import tiling
    from . import render_into

    if not isinstance(images, dict):
        raise TypeError(f"images must be a dict name -> PIL image, got {type(images).__name__}")
    if not images:
        raise ValueError("images must be a non-empty dict name -> PIL image, got an empty dict")
    image_box = widgets.Dropdown(options=list(images), description="image")
    method_box = widgets.ToggleButtons(options=list(tiling.METHODS), description="method")
    tile_box = widgets.Dropdown(options=list(tile_sizes), description="tile size")
    max_box = widgets.IntSlider(value=6, min=1, max=12, description="max tiles", continuous_update=False)
    out = widgets.Output()
    box = widgets.VBox([widgets.HBox([image_box, tile_box, max_box]), method_box, out])

    def draw():
        max_tiles = max_box.value
        if method_box.value == "llava-next" and max_tiles < 2:
            print("LLaVA-NeXT's smallest pinpoint has 2 tiles; using max tiles = 2")
            max_tiles = 2
        tile = None if isinstance(tile_box.value, str) else tile_box.value
        return tile_plan_figure(images[image_box.value], method_box.value, tile, max_tiles, patch_size)

    def redraw(*_):
        box.info = render_into(out, draw)

    for control in (image_box, method_box, tile_box, max_box):
        control.observe(redraw, names="value")
    redraw()
    return box
