"""Projector explorer: pick a projector and its options, see tokens in/out, parameters, and where a resampler looks.

Pure functions (tested, and called by notebook 08's last cell):

* :func:`projector_summary` — parameters and token counts of one projector,
  built on PyTorch's ``meta`` device (no memory, no time, even at 4096 wide);
* :func:`token_grid_figure` — how pixel shuffle / the 2 × 2 merger group a
  patch grid, drawn with each token's index;
* :func:`projector_figure` — the explorer's picture: the patch grid that goes
  in, what comes out, and for the resampler its queries' cross-attention maps.

:func:`projector_explorer` is the ipywidgets shell around them.
"""

from __future__ import annotations

import numpy as np
import torch

from .._validate import as_positive_int, as_size, check_choice
from ..plotting import as_display_array

__all__ = [
    "EXPLORER_PROJECTORS",
    "projector_summary",
    "token_grid_figure",
    "projector_figure",
    "projector_explorer",
]

EXPLORER_PROJECTORS = ("linear", "mlp2x_gelu", "resampler", "pixel_shuffle_mlp", "patch_merger")


def projector_summary(name: str, vision_dim: int = 1024, llm_dim: int = 4096, grid=(24, 24), **options) -> dict:
    """Parameters and tokens of ``build_projector(name, vision_dim, llm_dim, **options)`` on a ``grid`` of patches.

    Returns ``dict(name=, parameters=, tokens_in=, tokens_out=, grid=, ratio=)``
    where ``ratio = tokens_in / tokens_out`` (the compression).
    """
    from ..projectors import build_projector, num_parameters

    grid = as_size(grid, "grid")
    with torch.device("meta"):  # shapes only: a 90 M-parameter resampler costs nothing here
        projector = build_projector(name, vision_dim, llm_dim, **options)
    tokens_in = grid[0] * grid[1]
    tokens_out = projector.num_output_tokens(grid)
    return dict(name=name, parameters=num_parameters(projector), tokens_in=tokens_in,
                tokens_out=tokens_out, grid=grid, ratio=tokens_in / tokens_out)


def _block_colours(grid, scale: int) -> np.ndarray:
    """One colour per ``scale × scale`` block of a ``(rows, cols)`` grid: ``(rows, cols, 3)``."""
    import matplotlib

    rows, cols = grid
    cmap = matplotlib.colormaps["tab20"]
    block = (np.arange(rows)[:, None] // scale) * (cols // scale) + (np.arange(cols)[None, :] // scale)
    return np.array([[cmap(b % 20)[:3] for b in row] for row in block])


def _draw_cells(ax, colours, labels, title, fontsize=8):
    rows, cols = colours.shape[:2]
    ax.imshow(colours, interpolation="nearest")
    for r in range(rows):
        for c in range(cols):
            ax.text(c, r, labels[r][c], ha="center", va="center", fontsize=fontsize)
    ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def token_grid_figure(grid=(4, 4), scale: int = 2, mode: str = "pixel_shuffle"):
    """Draw how ``scale × scale`` neighbours become one token.

    ``mode="pixel_shuffle"``: left, the input grid with each patch's row-major
    index; right, the output grid, each token listing the input patches its
    channels hold (computed by running ``PixelShuffle`` on the indices).
    ``mode="merge_order"``: left, row-major order (vlmlab); right, the order in
    which Qwen2-VL's processor emits the same patches (``merge_order``).

    Returns ``(fig, info)``, ``info = dict(blocks=..., order=...)``: the input
    indices in each output token (pixel shuffle) or the processor order.
    """
    import matplotlib.pyplot as plt

    from ..projectors import PixelShuffle, merge_order

    check_choice(mode, ("pixel_shuffle", "merge_order"), "mode")
    rows, cols = grid = as_size(grid, "grid")
    scale = as_positive_int(scale, "scale")
    n = rows * cols
    colours = _block_colours(grid, scale)
    index = np.arange(n).reshape(rows, cols)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), gridspec_kw=dict(width_ratios=[1, 1]))
    _draw_cells(axes[0], colours, index.astype(str).tolist(), f"{n} patches in, row-major ({rows}×{cols})")
    if mode == "pixel_shuffle":
        ids = torch.arange(n, dtype=torch.float32).view(1, n, 1)
        blocks = PixelShuffle(scale)(ids, grid=grid)[0].long().tolist()  # (N/s², s²) input indices
        out_rows, out_cols = rows // scale, cols // scale
        labels = [["\n".join(" ".join(str(i) for i in blocks[r * out_cols + c][k * scale:(k + 1) * scale])
                             for k in range(scale)) for c in range(out_cols)] for r in range(out_rows)]
        _draw_cells(axes[1], colours[::scale, ::scale], labels,
                    f"{len(blocks)} tokens out, each {scale * scale}× wider", fontsize=9)
        info = dict(blocks=blocks)
    else:
        order = merge_order(grid, scale).tolist()
        position = np.empty(n, dtype=int)
        position[order] = np.arange(n)  # where each patch sits in the processor's sequence
        _draw_cells(axes[1], colours, position.reshape(rows, cols).astype(str).tolist(),
                    f"place in Qwen2-VL's sequence: {scale * scale} in a row = one window")
        info = dict(order=order)
    fig.tight_layout()
    return fig, info


def _resampler_maps(resampler, features, grid):
    """Cross-attention maps of ``resampler`` for one image, averaged over heads: ``(Q, rows, cols)``."""
    with torch.no_grad():
        _, attn = resampler(features, grid=grid, return_attention=True)  # (1, heads, Q, N)
    return attn[0].mean(0).reshape(-1, *grid)


def projector_figure(name: str = "resampler", image=None, grid=(8, 8), vision_dim: int = 1024, llm_dim: int = 4096,
                     num_queries: int = 4, scale: int = 2, depth: int = 2, resampler=None, features=None,
                     max_maps: int = 4):
    """The projector explorer's picture and numbers.

    Left: ``image`` (a ShapesWorld scene when None) with the ``grid`` of
    patches that go in. Right: what comes out — the same grid (linear / MLP,
    one token per patch), the merged grid (pixel shuffle, patch merger), or,
    for ``"resampler"``, the cross-attention map of each query (mean over
    heads), drawn over a grey copy of the image on one shared scale, with one
    colour bar that marks an even spread (``1 / N``) in cyan. Give a trained
    ``resampler`` and the image's ``features (1, N, C)`` to see where trained
    queries look; without them the maps come from an untrained resampler on
    random features (and say so).

    Returns ``(fig, info)`` with ``info`` = :func:`projector_summary`'s dict, plus
    ``maps`` (``(Q, rows, cols)`` numpy array) and ``colorbar`` for the resampler.
    """
    import matplotlib.pyplot as plt

    from ..plotting import draw_grid, heat_colorbar, overlay_heatmap, show_image
    from ..projectors import Resampler

    check_choice(name, EXPLORER_PROJECTORS, "name")
    grid = as_size(grid, "grid")
    if image is None:
        from ..shapes import ShapesWorld

        image = ShapesWorld().render("a large red circle at the top left")
    options = {}
    if name == "resampler":
        options = dict(num_queries=num_queries, num_heads=8 if resampler is None else resampler.num_heads)
        if resampler is not None:
            vision_dim, llm_dim = resampler.vision_dim, resampler.llm_dim
            options = dict(num_queries=resampler.num_queries, num_heads=resampler.num_heads,
                           depth=resampler.depth, embed_dim=resampler.embed_dim)
    elif name in ("pixel_shuffle_mlp",):
        options = dict(scale=scale)
    elif name == "patch_merger":
        options = dict(merge_size=scale)
    info = projector_summary(name, vision_dim, llm_dim, grid, **options)

    arr = as_display_array(image)  # PIL images through the one image rule (EXIF, modes)
    size = arr.shape[:2]
    if name == "resampler":
        if resampler is None or features is None:
            torch.manual_seed(0)
            resampler = Resampler(64, 64, num_queries=num_queries, num_heads=4).eval()
            features = torch.randn(1, grid[0] * grid[1], 64)
            note = "maps of an untrained 64-wide resampler on random features"
        else:
            note = "maps of the trained resampler"
        maps = _resampler_maps(resampler, features, grid).numpy()
        info["maps"] = maps
        shown = min(len(maps), max_maps)
        uniform = 1.0 / (grid[0] * grid[1])  # the weight of each patch if a query spread its attention evenly
        vmax = max(float(maps[:shown].max()), 2 * uniform)  # one scale for every map shown
        fig, axes = plt.subplots(1, 1 + shown, figsize=(2.8 * (1 + shown) + 0.8, 3.2), squeeze=False,
                                 layout="constrained")  # room for the shared colour bar
        axes = axes[0]
        for q in range(shown):
            im = overlay_heatmap(axes[1 + q], arr, maps[q], alpha=0.6, vmin=0.0, vmax=vmax, title=f"query {q}")
        info["colorbar"] = heat_colorbar(fig, im, axes[1:].tolist(), "attention weight (one scale)", uniform=uniform,
                                         uniform_label=f"even 1/{grid[0] * grid[1]}")
        fig.suptitle(f"resampler {vision_dim} → {llm_dim}: {info['tokens_in']} patches → {info['tokens_out']} tokens, "
                     f"{info['parameters']:,} parameters ({note})", fontsize=10)
    else:
        fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.4), squeeze=False)
        axes = axes[0]
        show_image(axes[1], arr)
        draw_grid(axes[1], size, grid, color="white", linewidth=0.5)
        out_grid = grid if name in ("linear", "mlp2x_gelu") else (grid[0] // scale, grid[1] // scale)
        draw_grid(axes[1], size, out_grid, color="yellow", linewidth=2.0)
        axes[1].set_title(f"{info['tokens_out']} tokens out ({out_grid[0]}×{out_grid[1]})", fontsize=10)
        fig.suptitle(f"{name}: {info['parameters']:,} parameters ({vision_dim} → {llm_dim})", fontsize=10)
    show_image(axes[0], arr)
    draw_grid(axes[0], size, grid, color="white", linewidth=0.5)
    axes[0].set_title(f"{info['tokens_in']} patches in ({grid[0]}×{grid[1]})", fontsize=10)
    if name != "resampler":  # the resampler's figure lays itself out (constrained), colour bar included
        fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig, info


def projector_explorer(image=None, resampler=None, features=None, grid=None):
    """Dropdown for the projector, sliders for the grid and its options; redraws :func:`projector_figure`.

    With a trained ``resampler`` and the image's ``features``, the resampler's
    maps are the trained ones (the grid is then fixed to ``grid``). A grid that
    the merge scale does not divide is a choice the sliders allow: the widget
    then says so in its text line instead of drawing.
    """
    import ipywidgets as widgets

    from .._validate import check_block_grid
    from . import render_into

    out = widgets.Output()
    fixed_grid = as_size(grid, "grid") if grid is not None else None
    name = widgets.Dropdown(options=list(EXPLORER_PROJECTORS), value="resampler", description="projector")
    side = widgets.IntSlider(value=fixed_grid[0] if fixed_grid else 8, min=2, max=32, step=2,
                             description="grid side", disabled=fixed_grid is not None)
    queries = widgets.IntSlider(value=resampler.num_queries if resampler is not None else 4, min=1, max=16,
                                description="queries", disabled=resampler is not None)
    scale = widgets.IntSlider(value=2, min=1, max=4, description="scale")
    text = widgets.HTML()

    def draw():
        g = fixed_grid or (side.value, side.value)
        use_trained = resampler is not None and features is not None and name.value == "resampler"
        fig, info = projector_figure(
            name.value, image=image, grid=g, num_queries=queries.value, scale=scale.value,
            resampler=resampler if use_trained else None, features=features if use_trained else None)
        text.value = (f"<b>{info['name']}</b>: {info['tokens_in']} tokens in → {info['tokens_out']} out "
                      f"(÷{info['ratio']:.3g}), {info['parameters']:,} parameters")
        return fig, info

    box = widgets.VBox([widgets.HBox([name, side]), widgets.HBox([queries, scale]), text, out])

    def redraw(*_):
        g = fixed_grid or (side.value, side.value)
        if name.value in ("pixel_shuffle_mlp", "patch_merger"):
            try:
                check_block_grid(g, scale.value, name.value)
            except ValueError as err:  # e.g. a 6 x 6 grid with scale 4: nothing to draw
                out.outputs = ()  # set the state; no output capture (see render_into)
                box.info = None
                text.value = f"<b>cannot draw:</b> {err}"
                return
        box.info = render_into(out, draw)

    for w in (name, side, queries, scale):
        w.observe(redraw, names="value")
    redraw()
    return box
