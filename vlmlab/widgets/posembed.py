"""Position-embedding explorer for notebook 03: similarity maps, and what a new grid does to them.

Pure functions: :func:`similarity_grid_figure` (the ViT paper's figure: for
every patch, its position vector's cosine similarity to all others),
:func:`similarity_maps_figure` (a few chosen patches' maps, large enough to
read, for several tables) and :func:`posembed_figure` (one patch's map on the
original grid and on a resized grid); :func:`posembed_explorer` is the
ipywidgets shell.

Every map is drawn on one scale, cosine similarity from -1 to 1
(:data:`SIMILARITY_RANGE`, :func:`similarity_norm`), in ``inferno``, with 0
(orthogonal vectors, what random vectors give) marked on the colour bar, so
that colours can be compared across figures. The scale gives half of its
colours to similarities above 0.5, where the maps of sin-cos tables lie (on a
linear scale from -1 they would all be one shade of orange).
"""

from __future__ import annotations

import numpy as np

from .._validate import as_int_in_range, as_positive_int, as_size, check_choice

__all__ = ["SIMILARITY_RANGE", "similarity_norm", "similarity_colorbar", "resize_table", "follow_patch",
           "similarity_grid_figure", "similarity_maps_figure", "posembed_figure", "posembed_explorer"]

KINDS = ("learned", "sincos1d", "sincos2d")
SIMILARITY_RANGE = (-1.0, 1.0)  # cosine similarity: one scale for every map
SIMILARITY_MIDDLE = 0.5  # the colour map's middle colour: half the colours go to similarities above it
MARK = "lime"  # the chosen patch's outline: a colour inferno never uses, and not the colour bar's cyan


def similarity_norm():
    """The one colour scale of every similarity map: -1 to 1, with the middle colour at 0.5.

    A ``matplotlib.colors.TwoSlopeNorm``: linear from -1 to 0.5 and from 0.5 to
    1, each over half of the colour map. Pass it as ``norm=`` to ``imshow``.
    """
    from matplotlib.colors import TwoSlopeNorm

    return TwoSlopeNorm(vcenter=SIMILARITY_MIDDLE, vmin=SIMILARITY_RANGE[0], vmax=SIMILARITY_RANGE[1])


def similarity_colorbar(fig, im, ax, **kwargs):
    """The colour bar of similarity maps drawn with :func:`similarity_norm`: 0 (orthogonal) marked, fixed ticks.

    ``ax`` is the axes (or list of axes) to take room from; other keywords go to
    ``vlmlab.plotting.heat_colorbar``. Returns the ``Colorbar``.
    """
    from ..plotting import heat_colorbar

    bar = heat_colorbar(fig, im, ax, "cosine similarity", uniform=0.0, uniform_label="orthogonal", **kwargs)
    bar.set_ticks([-1.0, -0.5, 0.0, 0.5, 0.75, 1.0])
    return bar


def _mark(ax, row: int, col: int, grid) -> None:
    """Outline cell ``(row, col)`` of a map drawn with ``imshow``."""
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=MARK,
                           linewidth=2.0 if max(grid) <= 16 else 1.2))


def follow_patch(row: int, col: int, grid, new_grid) -> tuple[int, int]:
    """The patch of ``new_grid`` at the same relative place as ``(row, col)`` of ``grid`` (its centre's cell).

        >>> follow_patch(2, 5, (8, 8), (16, 16))
        (5, 11)
    """
    rows, cols = as_size(grid, "grid")
    new_rows, new_cols = as_size(new_grid, "new_grid")
    return (min(new_rows - 1, int((row + 0.5) * new_rows / rows)),
            min(new_cols - 1, int((col + 0.5) * new_cols / cols)))


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


def similarity_grid_figure(table, grid, title: str | None = None, size: float = 4.6):
    """For every patch, a small map of its cosine similarity to all patches, laid out on the grid.

    ``table``: ``(rows*cols, D)`` patch position vectors (no CLS row). Readable
    up to about a 10 x 10 grid; for larger grids show a few chosen patches
    with :func:`similarity_maps_figure`. Colours follow :func:`similarity_norm`,
    with 0 marked on the colour bar. Returns ``(fig, sims)`` with ``sims`` the
    ``(rows, cols, rows, cols)`` similarities.
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
    fig, ax = plt.subplots(figsize=(size * cols / max(rows, cols) + 1.3, size * rows / max(rows, cols)))
    im = ax.imshow(canvas, cmap="inferno", norm=similarity_norm(), interpolation="nearest")
    ax.set_xticks([(c + 0.5) * (cols + 1) - 1 for c in range(cols)], [str(c) for c in range(cols)], fontsize=6)
    ax.set_yticks([(r + 0.5) * (rows + 1) - 1 for r in range(rows)], [str(r) for r in range(rows)], fontsize=6)
    ax.set_xlabel("input patch column", fontsize=8)
    ax.set_ylabel("input patch row", fontsize=8)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    similarity_colorbar(fig, im, ax, pad=0.13)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig, sims


def similarity_maps_figure(tables, patches, title: str | None = None, size: float = 2.3):
    """A few chosen patches' similarity maps, large enough to read: one row per table, one column per patch.

    ``tables``: a list of ``(label, table (rows*cols, D), (rows, cols))``.
    ``patches``: ``(row, col)`` patches of the *first* table's grid; in every
    other table the patch at the same relative place is shown
    (:func:`follow_patch`), so a row of maps after resizing sits under the
    maps it came from. Each map's own patch is outlined; all maps share
    :func:`similarity_norm`, with 0 marked on the one colour bar. Returns
    ``(fig, info)``: ``info["maps"][i][j]`` is table ``i``'s ``(rows, cols)``
    map for patch ``j`` and ``info["patches"][i][j]`` that patch in table ``i``'s grid.
    """
    import matplotlib.pyplot as plt

    from ..posembed import cosine_similarity_map

    if not tables:
        raise ValueError("tables must hold at least one (label, table, grid)")
    if not patches:
        raise ValueError("patches must hold at least one (row, col)")
    grids = [as_size(grid, "grid") for _, _, grid in tables]
    first_rows, first_cols = grids[0]
    for row, col in patches:
        as_int_in_range(row, "row", 0, first_rows - 1, f" (a row of the first table's {first_rows}x{first_cols} grid)")
        as_int_in_range(col, "col", 0, first_cols - 1, f" (a column of the first table's {first_rows}x{first_cols} grid)")
    wide = max(cols / rows for rows, cols in grids)  # panels as wide as the widest grid
    fig, axes = plt.subplots(len(tables), len(patches), squeeze=False,
                             figsize=(size * wide * len(patches) + 1.2, size * len(tables) + 0.5))
    info = {"maps": [], "patches": []}
    for i, ((label, table, _), grid) in enumerate(zip(tables, grids)):
        maps, where = [], []
        for j, (row, col) in enumerate(patches):
            r, c = follow_patch(row, col, grids[0], grid)
            m = cosine_similarity_map(table, grid, r * grid[1] + c).numpy()
            ax = axes[i, j]
            im = ax.imshow(m, cmap="inferno", norm=similarity_norm(), interpolation="nearest")
            _mark(ax, r, c, grid)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{label}: patch ({r}, {c})", fontsize=8)
            maps.append(m)
            where.append((r, c))
        info["maps"].append(maps)
        info["patches"].append(where)
    similarity_colorbar(fig, im, axes)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig, info


def posembed_figure(tables: dict, kind: str, row: int, col: int, new_side: int):
    """One patch's similarity map on its grid, and the same patch's map after resizing the grid.

    ``tables``: ``{kind: (table (rows*cols, D), (rows, cols))}``. The patch at
    ``(row, col)`` is followed to the new ``new_side x new_side`` grid at the same relative
    place (:func:`follow_patch`). Both maps share one colour scale (:func:`similarity_norm`). Returns
    ``(fig, info)`` with ``info = dict(map=, new_map=, new_table_shape=, new_index=)``.
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
    new_r, new_c = follow_patch(row, col, (rows, cols), (side, side))
    old_map = cosine_similarity_map(table, grid, row * cols + col).numpy()
    new_map = cosine_similarity_map(new_table, (side, side), new_r * side + new_c).numpy()

    fig, axes = plt.subplots(1, 2, figsize=(7.8, 3.6))
    how = {"learned": "interpolated (bicubic)", "sincos1d": "recomputed (1-D)", "sincos2d": "recomputed (2-D)"}[kind]
    for ax, m, (r, c), g, title in [
        (axes[0], old_map, (row, col), (rows, cols), f"{kind} on {rows}x{cols}\npatch ({row}, {col})"),
        (axes[1], new_map, (new_r, new_c), (side, side), f"{how} to {side}x{side}\npatch ({new_r}, {new_c})"),
    ]:
        im = ax.imshow(m, cmap="inferno", norm=similarity_norm(), interpolation="nearest")
        _mark(ax, r, c, g)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
    similarity_colorbar(fig, im, axes)
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
