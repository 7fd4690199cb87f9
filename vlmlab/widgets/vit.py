"""Attention viewer for notebook 02: pick a layer, a head and a query patch; see where it looks.

Pure functions :func:`query_attention_map` (data) and :func:`attention_figure`
(a figure) take the attention maps that ``ViT.forward_features(...,
output_attentions=True)`` returns; :func:`attention_viewer` is the
ipywidgets shell that computes the maps once and redraws on each change.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_int_in_range, as_positive_float, as_size
from ..plotting import draw_box, heat_colorbar, overlay_heatmap, show_image

__all__ = ["query_attention_map", "attention_figure", "attention_viewer"]


def _query_row(attentions, layer: int, head, query, grid, num_prefix_tokens: int = 1):
    """The full attention row ``(1+N,)`` of one query (first image of the batch), and its token index."""
    from ..attention import fuse_heads

    rows, cols = as_size(grid, "grid")
    n_layers = len(attentions)
    layer = as_int_in_range(layer, "layer", -n_layers, n_layers - 1, f" (one of the {n_layers} layers)")
    att = attentions[layer][0].detach().float()  # (heads, 1+N, 1+N)
    heads, n_tokens = att.shape[0], att.shape[-1]
    if n_tokens != num_prefix_tokens + rows * cols:
        raise ValueError(f"attention maps have {n_tokens} tokens but grid {(rows, cols)} needs "
                         f"{num_prefix_tokens} + {rows * cols}")
    if head == "mean":
        att = fuse_heads(att, "mean", dim=0)  # (1+N, 1+N)
    else:
        att = att[as_int_in_range(head, "head", 0, heads - 1, " or 'mean'")]
    if query == "cls":
        q = 0
    else:
        q = num_prefix_tokens + as_int_in_range(query, "query", 0, rows * cols - 1, " (a patch index) or 'cls'")
    return att[q], (rows, cols)


def query_attention_map(attentions, layer: int, head, query, grid, num_prefix_tokens: int = 1) -> np.ndarray:
    """Where one query token looks: a ``(rows, cols)`` map over the patches (first image of the batch).

    ``attentions``: the per-layer ``(B, heads, 1+N, 1+N)`` maps. ``layer``: an
    index (negative counts from the end). ``head``: an int or ``"mean"``
    (average over heads). ``query``: ``"cls"`` or a patch index ``0 .. N-1``
    (row-major). The attention to the CLS token itself is left out, so the
    map sums to ``1 - (weight on CLS)``.
    """
    row, grid = _query_row(attentions, layer, head, query, grid, num_prefix_tokens)
    return row[num_prefix_tokens:].reshape(grid).numpy()


def attention_figure(image, attentions, layer: int, head, query, grid, num_prefix_tokens: int = 1, vmax=None):
    """The image with the query patch outlined, next to the query's attention map over the image.

    ``image``: what the model saw, as a PIL image or an ``(H, W, 3)`` / ``(3, H, W)``
    array in [0, 1]. The map shows the raw attention weights, never rescaled:
    colours run from 0 to ``vmax`` (default: the larger of the map's maximum and
    the uniform level), so that several figures can share one scale; the colour
    bar marks the uniform level ``1 / (num_prefix_tokens + N)``, what every key
    would get from a query that spread its attention evenly. Returns ``(fig, info)``
    with ``info = dict(map=(rows, cols) array, argmax=(row, col) of the strongest
    patch, cls_weight=weight the query puts on the CLS token, uniform=the uniform
    level, vmax=the top of the colour scale)``.
    """
    import matplotlib.pyplot as plt

    from ..plotting import as_display_array

    arr = as_display_array(image)
    row, (rows, cols) = _query_row(attentions, layer, head, query, grid, num_prefix_tokens)
    heat = row[num_prefix_tokens:].reshape(rows, cols).numpy()
    uniform = 1.0 / row.shape[-1]
    if vmax is None:
        top = max(float(heat.max()), uniform)
    else:
        top = as_positive_float(vmax, "vmax", " (the top of the colour scale)")
    H, W = arr.shape[:2]
    ph, pw = H / rows, W / cols
    fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.9))
    show_image(axes[0], arr, "query: CLS token" if query == "cls" else f"query: patch {query}")
    if query != "cls":
        r, c = divmod(int(query), cols)
        draw_box(axes[0], r * ph, c * pw, (r + 1) * ph, (c + 1) * pw, color="cyan")
    n_layers = len(attentions)
    shown = int(layer) % n_layers  # a negative index counts from the end: say which layer it is
    which = f"layer {shown}" + (" (the last)" if shown == n_layers - 1 else "")
    heads_said = "heads averaged" if head == "mean" else f"head {head}"
    im = overlay_heatmap(axes[1], arr, heat, title=f"where the query reads:\n{which}, {heads_said}",
                         vmin=0.0, vmax=top)
    heat_colorbar(fig, im, axes[1], f"share of the query's attention (cyan: uniform 1/{row.shape[-1]})",
                  uniform=uniform)
    fig.tight_layout()
    r_max, c_max = np.unravel_index(int(heat.argmax()), heat.shape)
    info = dict(map=heat, argmax=(int(r_max), int(c_max)), cls_weight=float(row[0]), uniform=uniform, vmax=top)
    return fig, info


def attention_viewer(vit, pixel_values, image=None):
    """Interactive viewer over a :class:`vlmlab.vit.ViT` and one image ``pixel_values (1, C, H, W)``.

    ``image`` is what to draw under the maps (default: ``pixel_values`` rescaled
    to [0, 1]). The attention maps are computed once; the grid, layers and heads
    come from the model and the image. Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as widgets
    import torch
    from . import render_into

    with torch.no_grad():
        attentions = vit.forward_features(pixel_values[:1], output_attentions=True).attentions
    grid = (pixel_values.shape[-2] // vit.patch_size, pixel_values.shape[-1] // vit.patch_size)
    if image is None:
        x = pixel_values[0].detach().float()
        image = ((x - x.min()) / (x.max() - x.min() + 1e-8)).numpy()
    n_layers, n_heads = len(attentions), attentions[0].shape[1]
    layer = widgets.IntSlider(value=n_layers - 1, min=0, max=n_layers - 1, description="layer", continuous_update=False)
    head = widgets.Dropdown(options=["mean", *range(n_heads)], value="mean", description="head")
    use_cls = widgets.Checkbox(value=False, description="query = CLS")
    query = widgets.IntSlider(value=(grid[0] // 2) * grid[1] + grid[1] // 2, min=0, max=grid[0] * grid[1] - 1,
                              description="query patch", continuous_update=False)
    out = widgets.Output()

    box = widgets.VBox([widgets.HBox([layer, head]), widgets.HBox([query, use_cls]), out])

    def redraw(*_):
        box.info = render_into(out, lambda: attention_figure(image, attentions, layer.value, head.value,
                                                             "cls" if use_cls.value else query.value, grid))

    for w in (layer, head, use_cls, query):
        w.observe(redraw, names="value")
    redraw()
    return box
