"""Attention explorer for a CLIP vision tower: image, layer, head or rollout, overlay opacity.

Pure functions (tested, and called by notebook 04):

- :func:`clip_attentions` runs the vision tower once on one image and keeps
  every layer's attention (``attn_implementation="eager"``);
- :func:`attention_explorer_figure` draws one map from those attentions
  (per-head or head-fused CLS attention at a layer, or the rollout through
  all layers, ``vlmlab.attention``) over the image.

:func:`attention_explorer` is the ipywidgets shell. It runs the model once
per image and caches the attentions, so moving a slider only redraws. Every
size (image, patch, grid, layers, heads) comes from the model and its
processor, so the explorer works the same for the toy CLIP and a real one.
"""

from __future__ import annotations

import numpy as np

from .. import attention as att
from .._validate import as_float_in_range
from ..plotting import heat_colorbar, overlay_heatmap, show_image

__all__ = ["clip_attentions", "attention_explorer_figure", "attention_explorer", "default_images"]


def _eager(model) -> None:
    """Make sure the model returns attention weights (SDPA kernels return none)."""
    config = getattr(model, "config", None)
    if getattr(config, "_attn_implementation", "eager") != "eager" and hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")


def clip_attentions(model, processor, image) -> dict:
    """Run CLIP's vision tower on ``image`` (PIL) and keep what the explorer needs.

    Returns ``dict(attentions=tuple of L tensors (1, heads, 1+N, 1+N),
    image=(H, W, 3) array in [0, 1] — what the model saw after the processor —,
    grid=(rows, cols), layers=L, heads=H)``.
    """
    import torch

    from ..preprocess import to_rgb

    vision = getattr(model, "vision_model", model)
    _eager(vision)
    pixel_values = processor(images=to_rgb(image), return_tensors="pt").pixel_values  # (1, 3, S, S)
    with torch.no_grad():
        out = vision(pixel_values=pixel_values, output_attentions=True)
    attentions = tuple(a.float() for a in out.attentions)
    from ..preprocess import denormalise

    image_processor = processor.image_processor
    seen = denormalise(pixel_values, image_processor.image_mean, image_processor.image_std)[0]  # (3, S, S)
    patch = vision.config.patch_size
    height, width = pixel_values.shape[-2:]
    return dict(
        attentions=attentions,
        image=seen.permute(1, 2, 0).numpy(),
        grid=(height // patch, width // patch),
        layers=len(attentions),
        heads=attentions[0].shape[1],
    )


def attention_explorer_figure(data: dict, layer="rollout", head="mean", alpha: float = 0.6,
                              discard_ratio: float = 0.0, title: str | None = None):
    """Draw one attention map of ``data`` (from :func:`clip_attentions`) over its image.

    Args:
        layer: ``"rollout"`` (all layers, Abnar & Zuidema) or a layer index.
        head: an int head, or ``"mean"``/``"max"``/``"min"`` over heads (for rollout: the head fusion,
            applied at every layer; a single head is refused there).
        alpha: overlay opacity in [0, 1].

    Returns ``(fig, info)``: ``info = dict(map=(rows, cols) array, peak=(row, col), layer=, head=)``;
    for CLS attention the map sums (over patches) to at most 1, CLS keeps the rest.
    """
    import matplotlib.pyplot as plt

    alpha = as_float_in_range(alpha, "alpha", 0, 1, " (the overlay's opacity)")
    grid = data["grid"]
    heat = att.attention_map(data["attentions"], layer=layer, head=head, grid=grid, discard_ratio=discard_ratio)[0]
    heat = heat.numpy()
    peak = tuple(int(i) for i in np.unravel_index(np.argmax(heat), heat.shape))
    what = (f"rollout ({head} over heads)" if layer == "rollout"
            else f"layer {layer}, " + (f"head {head}" if isinstance(head, int) else f"{head} of heads"))

    tokens = 1 + grid[0] * grid[1]  # CLS and the patches: an even spread gives each 1/tokens
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.6), gridspec_kw=dict(wspace=0.05))
    height, width = data["image"].shape[:2]
    show_image(axes[0], data["image"], title=title or f"what the model sees ({height}x{width} px, {grid[0]}x{grid[1]} patches)")
    # one scale from 0 to this map's peak: the numbers on the bar are the attention shares themselves
    im = overlay_heatmap(axes[1], data["image"], heat, alpha=alpha, vmin=0.0, vmax=max(float(heat.max()), 1 / tokens),
                         title=f"CLS attention: {what}\n(+: the most-read patch)")
    axes[1].title.set_fontsize(9)
    axes[1].plot(peak[1] * width / grid[1] + width / grid[1] / 2 - 0.5,
                 peak[0] * height / grid[0] + height / grid[0] / 2 - 0.5,
                 marker="+", color="lime", markersize=12, markeredgewidth=2)
    heat_colorbar(fig, im, axes[1], "share of CLS's attention\n(0 to this map's peak)", uniform=1 / tokens,
                  uniform_label=f"uniform 1/{tokens}")
    fig.subplots_adjust(left=0.02, right=0.92, top=0.88, bottom=0.04)
    return fig, dict(map=heat, peak=peak, layer=layer, head=head)


def default_images(n_shapes: int = 4, samples=("cat", "astronaut"), image_size: int = 64) -> dict:
    """Images for the explorer: a few ShapesWorld samples (by caption), drawn at ``image_size`` px
    (the encoder's input size, so that no resize blurs them), and the repo's sample photos."""
    from ..shapes import ShapesWorld

    images, captions = ShapesWorld(image_size=image_size).sample(n_shapes, seed=4)
    out = {cap: im for cap, im in zip(captions, images)}
    from ..data import load_sample

    for name in samples:
        out[f"sample: {name}"] = load_sample(name)
    return out


def attention_explorer(model=None, processor=None, images: dict | None = None):
    """An ipywidgets explorer over ``images`` ({name: PIL image}); default: ``load_clip()`` (the toy CLIP,
    or ``$VLMLAB_CLIP``), a few ShapesWorld scenes and the sample photos.

    Controls: image, layer (or "rollout"), head (mean/max/min, and single heads at one layer), overlay
    opacity. Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as widgets
    from . import render_into

    if model is None or processor is None:
        from ..clip import load_clip

        model, processor = load_clip(attn_implementation="eager")
    images = images or default_images(image_size=getattr(model, "vision_model", model).config.image_size)
    cache: dict[str, dict] = {}

    def data_for(name):
        if name not in cache:
            cache[name] = clip_attentions(model, processor, images[name])
        return cache[name]

    first = data_for(next(iter(images)))
    image_box = widgets.Dropdown(options=list(images), description="image", layout=widgets.Layout(width="420px"))
    layer_box = widgets.Dropdown(options=["rollout"] + list(range(first["layers"])), value="rollout", description="layer")
    fusions = ["mean", "max", "min"]
    head_box = widgets.Dropdown(options=fusions, value="mean", description="head")
    alpha_box = widgets.FloatSlider(value=0.6, min=0.0, max=1.0, step=0.05, description="opacity", continuous_update=False)
    out = widgets.Output()
    state = {"quiet": False}

    box = widgets.VBox([widgets.HBox([image_box, layer_box]), widgets.HBox([head_box, alpha_box]), out])

    def redraw(*_):
        if state["quiet"]:
            return
        box.info = render_into(out, lambda: attention_explorer_figure(data_for(image_box.value), layer_box.value,
                                                                       head_box.value, alpha_box.value))

    def on_layer(change):
        # The rollout fuses the heads of every layer: only one layer has single heads to offer.
        options = fusions if change["new"] == "rollout" else fusions + list(range(first["heads"]))
        state["quiet"] = True  # changing the options may reset the value: redraw once, afterwards
        try:
            keep = head_box.value if head_box.value in options else "mean"
            head_box.options = options
            head_box.value = keep
        finally:
            state["quiet"] = False
        redraw()

    layer_box.observe(on_layer, names="value")
    for control in (image_box, head_box, alpha_box):
        control.observe(redraw, names="value")
    redraw()
    return box
