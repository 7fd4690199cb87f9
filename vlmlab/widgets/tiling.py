"""Tile planner: an image, a tiling method and a tile budget; see the grid, the padding, the tiles and the token bill.

Pure function :func:`tile_plan_figure` (tested, and driven by notebook 06's
last cell); :func:`tile_planner` is the ipywidgets shell around it.
"""

from __future__ import annotations

from .._validate import as_positive_int, check_choice
from ..plotting import draw_box, draw_grid, show_image

__all__ = ["DEFAULT_TILE", "plan_summary", "tile_plan_figure", "tile_planner", "tiling_canvas"]


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
