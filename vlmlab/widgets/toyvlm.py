"""Ask the toy VLM (notebook 10): pick a scene and a question, see the answer and where it looked.

:func:`answer_figure` is the pure function: it asks the toy LLaVA-1.5 one
question about one scene and draws the scene with its object boxes and the
attention of the answer's first token over the 8×8 image tokens, on a fixed
scale with the uniform share marked on the colour bar.
:func:`vlm_explorer` wraps it in a scene slider and a question dropdown.
"""

from __future__ import annotations

from .. import grammar, toyvlm
from .._validate import as_int_in_range

__all__ = ["answer_figure", "vlm_explorer"]


def answer_figure(model, processor, image, scene, question: str, vmax: float | None = None):
    """``(Figure, info)``: the answer to ``question`` about ``image`` and its attention over the image tokens.

    ``model`` is the LLaVA-1.5 toy loaded with ``attn_implementation="eager"``;
    ``scene`` is the image's ``vlmlab.scenes.Scene`` (for its boxes and the
    true answer, if ``question`` is one of ``grammar.questions(scene)``).
    ``info``: ``question``, ``answer``, ``truth`` (or None), ``correct``,
    ``image_share`` (the attention the image tokens get, of the whole), and
    ``map`` (the ``(8, 8)`` attention grid).
    """
    import matplotlib.pyplot as plt

    from ..plotting import draw_box, heat_colorbar, overlay_heatmap

    said = toyvlm.ask(model, processor, image, question)
    truth = next((q.answer for q in grammar.questions(scene) if q.text == question), None)
    heat = toyvlm.image_attention(model, processor, image, question)
    uniform = heat.sum() / heat.size  # the level every token would get if the image's share were spread evenly
    vmax = vmax if vmax is not None else max(float(heat.max()), 3 * uniform)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    im = overlay_heatmap(ax, image, heat, vmin=0.0, vmax=vmax)
    for obj in scene.objects:
        top, left, bottom, right = obj.box
        draw_box(ax, top, left, bottom, right, color="lime", linewidth=1.2)
    heat_colorbar(fig, im, ax, "attention of the answer's first token (cyan: uniform)", uniform=uniform, pad=0.04)
    verdict = "" if truth is None else (" ✓" if said == truth else f" ✗ (truth: {truth})")
    ax.set_title(f"{question}\nanswer: {said}{verdict}", fontsize=9)
    info = dict(question=question, answer=said, truth=truth, correct=None if truth is None else said == truth,
                image_share=float(heat.sum()), map=heat)
    return fig, info


def vlm_explorer(model, processor, n_scenes: int = 20, seed: int = toyvlm.EVAL_SEED):
    """A scene slider and a question dropdown over :func:`answer_figure`; the VBox's ``info`` is the last redraw's."""
    import ipywidgets as widgets

    from . import render_into

    n_scenes = as_int_in_range(n_scenes, "n_scenes", 1, 1000)
    images, scenes = toyvlm.world().sample(n_scenes, seed=seed)
    out = widgets.Output()
    scene_slider = widgets.IntSlider(value=0, min=0, max=n_scenes - 1, description="scene")
    question = widgets.Dropdown(description="question", layout=widgets.Layout(width="420px"))
    box = widgets.VBox([widgets.HBox([scene_slider, question]), out])

    quiet = []  # non-empty while the dropdown's options are being replaced

    def set_questions():
        texts = [q.text for q in grammar.questions(scenes[scene_slider.value])]
        quiet.append(True)
        question.options = texts
        question.value = next((t for t in texts if t.startswith("what colour")), texts[0])
        quiet.pop()

    def redraw(*_):
        if quiet:
            return
        i = scene_slider.value
        box.info = render_into(out, lambda: answer_figure(model, processor, images[i], scenes[i], question.value))

    def new_scene(*_):
        set_questions()
        redraw()

    scene_slider.observe(new_scene, names="value")
    question.observe(redraw, names="value")
    set_questions()
    redraw()
    box.scene_slider, box.question = scene_slider, question
    return box
