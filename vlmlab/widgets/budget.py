"""Token-budget explorer: drag an image's width and height, see every VLM family's visual tokens.

Pure function :func:`budget_figure` (tested, driven by notebook 07's last
cell); :func:`budget_explorer` is the ipywidgets shell around it.
"""

from __future__ import annotations

from .._validate import as_size

__all__ = ["budget_figure", "budget_explorer"]


def budget_figure(image_size, families=None, **options):
    """A bar chart of visual tokens per family for an image of ``image_size = (height, width)``.

    Returns ``(fig, info)`` with ``info = {family: TokenBudget or None}``
    (``None`` when the family refuses the size, e.g. Qwen2-VL beyond aspect
    ratio 200). ``options`` go to ``vlmlab.budget.token_budget``.
    """
    import matplotlib.pyplot as plt

    from ..budget import FAMILIES, token_budget

    height, width = as_size(image_size, "image_size")
    families = list(FAMILIES) if families is None else list(families)
    info = {}
    for family in families:
        try:
            info[family] = token_budget((height, width), family, **options)
        except ValueError:
            info[family] = None

    fig, (ax_img, ax) = plt.subplots(1, 2, figsize=(10, 0.5 + 0.32 * len(families)),
                                     gridspec_kw=dict(width_ratios=[1, 3]))
    # the image's shape (longer side = 1); a thin strip still gets a visible sliver
    side = max(height, width)
    w_rel, h_rel = max(width / side, 0.015), max(height / side, 0.015)
    ax_img.add_patch(plt.Rectangle(((1 - w_rel) / 2, (1 - h_rel) / 2), w_rel, h_rel, color="tab:gray"))
    ax_img.set_xlim(0, 1)
    ax_img.set_ylim(1, 0)
    ax_img.set_aspect("equal")
    ax_img.axis("off")
    ax_img.set_title(f"{height} x {width} (h x w)", fontsize=10)

    tokens = [info[f].tokens if info[f] is not None else 0 for f in families]
    bars = ax.barh(families, tokens, color=[f"C{i}" for i in range(len(families))])
    for bar, family, n in zip(bars, families, tokens):
        b = info[family]
        if b is None:
            label = "refused (beyond its limits)"
        else:
            label = f"{n}  ({b.tiles} picture{'s' if b.tiles > 1 else ''})"
            if b.cross_attention_tokens:
                label += f", +{b.cross_attention_tokens} through cross-attention"
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + label, va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("image tokens in the LLM's context")
    setting = ", ".join(f"{k}={v}" for k, v in options.items()) or "released configs"
    ax.set_title(f"Image tokens each family spends on a {height} x {width} image ({setting};\n"
                 "each bar's label: tokens, then the pictures its encoder reads)", fontsize=10)
    ax.set_xlim(0, max(max(tokens), 1) * 1.6)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig, info


def budget_explorer(height: int = 1080, width: int = 1920, max_side: int = 4000):
    """Sliders for the image's height and width; the bar chart redraws. Returns an ``ipywidgets.VBox``.

    After each redraw, ``box.info`` holds what the chart shows: ``{family: TokenBudget or None}``.
    """
    import ipywidgets as widgets
    from . import render_into

    h_box = widgets.IntSlider(value=height, min=1, max=max_side, step=1, description="height", continuous_update=False)
    w_box = widgets.IntSlider(value=width, min=1, max=max_side, step=1, description="width", continuous_update=False)
    out = widgets.Output()
    box = widgets.VBox([widgets.HBox([h_box, w_box]), out])

    def draw():
        return budget_figure((h_box.value, w_box.value))

    def redraw(*_):
        box.info = render_into(out, draw)

    h_box.observe(redraw, names="value")
    w_box.observe(redraw, names="value")
    redraw()
    return box
