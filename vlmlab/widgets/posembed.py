"""Position-embedding explorer for notebook 03: similarity maps, and what a new grid does to them.

Pure functions: :func:`similarity_grid_figure` (the ViT paper's figure: for
every patch, its position vector's cosine similarity to all others) and
:func:`posembed_figure` (one patch's map on the original grid and on a
resized grid); :func:`posembed_explorer` is the ipywidgets shell.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_int_in_range, as_positive_int, as_size, check_choice

__all__ = ["resize_table", "similarity_grid_figure", "posembed_figure", "posembed_explorer"]

KINDS = ("learned", "sincos1d", "sincos2d")


def resize_table(table, grid, new_grid, kind: str):
    """The patch position table ``(rows*cols, D)`` for a new grid.

    A learned table can only be interpolated (bicubic, as CLIP does); a
    sin-cos table is simply computed for the new grid (1-D: positions
    ``0 .. rows*cols-1`` of the flattened sequence; 2-D: MAE's layout).
    """
    from ..posembed import interpolate_pos_embed, sincos_1d, sincos_2d

    check_choice(kind, KINDS, "kind")
    rows, cols = as_size(new_grid, "new_grid")
    dim = table.shape[-1]
    if kind == "learned":
        return interpolate_pos_embed(table, (rows, cols), num_prefix_tokens=0, old_grid=as_size(grid, "grid"))
    if kind == "sincos1d":
        return sincos_1d(rows * cols, dim)
    return sincos_2d((rows, cols), dim)


def similarity_grid_figure(table, grid, title: str | None = None, size: float = 4.2):
    """For every patch, a small map of its cosine similarity to all patches, laid out on the grid.

    ``table``: ``(rows*cols, D)`` patch position vectors (no CLS row). Returns
    ``(fig, sims)`` with ``sims`` the ``(rows, cols, rows, cols)`` similarities.
    """
    import matplotlib.pyplot as plt

    from ..posembed import cosine_similarity_map

    rows, cols = as_size(grid, "grid")
    sims = cosine_similarity_map(table, (rows, cols)).numpy()  # (rows, cols, rows, cols)
    # one big image: each patch's map in its cell, separated by a 1-cell gap
    canvas = np.full((rows * (rows + 1) - 1, cols * (cols + 1) - 1), np.nan)
    for r in range(rows):
        for c in range(cols):
            canvas[r * (rows + 1):r * (rows + 1) + rows, c * (cols + 1):c * (cols + 1) + cols] = sims[r, c]
    fig, ax = plt.subplots(figsize=(size * cols / max(rows, cols) + 0.9, size * rows / max(rows, cols)))
    # colours span the data's own range (sin-cos tables are mostly positive); the colour bar says which
    im = ax.imshow(canvas, cmap="viridis", vmin=float(sims.min()), vmax=1.0, interpolation="nearest")
    ax.set_xticks([(c + 0.5) * (cols + 1) - 1 for c in range(cols)], [str(c) for c in range(cols)], fontsize=6)
    ax.set_yticks([(r + 0.5) * (rows + 1) - 1 for r in range(rows)], [str(r) for r in range(rows)], fontsize=6)
    ax.set_xlabel("input patch column", fontsize=8)
    ax.set_ylabel("input patch row", fontsize=8)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).set_label("cosine similarity", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig, sims


def posembed_figure(tables: dict, kind: str, row: int, col: int, new_side: int):
    """One patch's similarity map on its grid, and the same patch's map after resizing the grid.

    ``tables``: ``{kind: (table (rows*cols, D), (rows, cols))}``. The patch at
    ``(row, col)`` is followed to the new ``new_side x new_side`` grid at the same relative
    place. Returns ``(fig, info)`` with ``info = dict(map=, new_map=, new_table_shape=, new_index=)``.
    """
    import matplotlib.pyplot as plt

    from ..posembed import cosine_similarity_map

    if kind not in tables:
        raise ValueError(f"kind must be one of {sorted(tables)!r}, got {kind!r}")
    table, grid = tables[kind]
    rows, cols = as_size(grid, "grid")
    row = as_int_in_range(row, "row", 0, rows - 1, f" (a row of the {rows}x{cols} grid)")
    col = as_int_in_range(col, "col", 0, cols - 1, f" (a column of the {rows}x{cols} grid)")
    side = as_positive_int(new_side, "new_side")
    new_table = resize_table(table, grid, (side, side), kind)
    new_r = min(side - 1, int((row + 0.5) * side / rows))
    new_c = min(side - 1, int((col + 0.5) * side / cols))
    old_map = cosine_similarity_map(table, grid, row * cols + col).numpy()
    new_map = cosine_similarity_map(new_table, (side, side), new_r * side + new_c).numpy()

    fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.6))
    low = float(min(old_map.min(), new_map.min()))  # one colour scale for both panels
    how = {"learned": "interpolated (bicubic)", "sincos1d": "recomputed (1-D)", "sincos2d": "recomputed (2-D)"}[kind]
    for ax, m, (r, c), g, title in [
        (axes[0], old_map, (row, col), (rows, cols), f"{kind} on {rows}x{cols}\npatch ({row}, {col})"),
        (axes[1], new_map, (new_r, new_c), (side, side), f"{how} to {side}x{side}\npatch ({new_r}, {new_c})"),
    ]:
        im = ax.imshow(m, cmap="viridis", vmin=low, vmax=1.0, interpolation="nearest")
        ax.plot(c, r, marker="s", markersize=max(3, 60 / max(g)), markerfacecolor="none", markeredgecolor="red")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=axes, fraction=0.046, pad=0.03).set_label("cosine similarity", fontsize=8)
    info = dict(map=old_map, new_map=new_map, new_table_shape=tuple(new_table.shape), new_index=(new_r, new_c))
    return fig, info


def posembed_explorer(tables: dict, new_sides=range(2, 33)):
    """Interactive: pick an embedding kind and a patch; change the grid size; see the similarity maps.

    ``tables``: ``{kind: (table (rows*cols, D), (rows, cols))}`` with kinds among
    ``"learned"``, ``"sincos1d"``, ``"sincos2d"``. Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as widgets
    from . import render_into

    kinds = [k for k in KINDS if k in tables]
    if not kinds:
        raise ValueError(f"tables must have at least one of the keys {KINDS}, got {sorted(tables)!r}")
    kind = widgets.Dropdown(options=kinds, value=kinds[0], description="kind")
    rows, cols = tables[kinds[0]][1]
    row = widgets.IntSlider(value=rows // 2, min=0, max=rows - 1, description="row", continuous_update=False)
    col = widgets.IntSlider(value=cols // 2, min=0, max=cols - 1, description="col", continuous_update=False)
    sides = list(new_sides)
    side = widgets.SelectionSlider(options=sides, value=sides[len(sides) // 2], description="new grid",
                                   continuous_update=False)
    out = widgets.Output()

    box = widgets.VBox([widgets.HBox([kind, side]), widgets.HBox([row, col]), out])

    def redraw(*_):
        r_max, c_max = (n - 1 for n in tables[kind.value][1])
        row.max, col.max = r_max, c_max
        box.info = render_into(out, lambda: posembed_figure(tables, kind.value, min(row.value, r_max),
                                                            min(col.value, c_max), side.value))

    for w in (kind, row, col, side):
        w.observe(redraw, names="value")
    redraw()
    return box
