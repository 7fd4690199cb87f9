"""Model cards: the ``README.md`` beside a checkpoint, filled in from a template and the measured numbers.

The prose of a card lives in a Markdown template under ``templates/``, with
``${name}`` fields (Python's ``string.Template``); the code here only works
out the values. Every number in a card comes from the checkpoint's
``metrics.json``, so rewriting the card never needs the model to be retrained
(``python -m vlmlab.training toy-clip card``).
"""

from __future__ import annotations

import string
from importlib import resources

__all__ = ["render", "toyclip_card"]


def render(template_name: str, values: dict) -> str:
    """Fill the template ``templates/<template_name>`` with ``values``; a missing value raises ``KeyError``."""
    text = resources.files(__package__).joinpath("templates", template_name).read_text(encoding="utf-8")
    return string.Template(text).substitute(values)


def percent(x: float) -> str:
    """A fraction as a model card prints it: ``0.8975 -> "89.8 %"``."""
    return f"{100 * x:.1f} %"


def toyclip_card(metrics: dict, world, bar: dict) -> str:
    """The toy CLIP's model card from its ``metrics`` (``metrics.json``), its ``world`` and the accuracy ``bar``.

    ``world`` is the ``ShapesWorld`` it was trained on; ``bar`` maps an
    accuracy name to the value a published checkpoint must reach.
    """
    a = metrics["arch"]
    grid = a["image_size"] // a["patch_size"]
    captions = world.captions()
    values = dict(
        a,
        grid=grid,
        patch_tokens=grid * grid,
        vision_mlp=a["vision_width"] * a["mlp_ratio"],
        colours=", ".join(world.colours),
        shapes=", ".join(world.shapes),
        positions=", ".join(world.positions),
        sizes=", ".join(world.sizes),
        n_colours=len(world.colours),
        n_shapes=len(world.shapes),
        n_positions=len(world.positions),
        n_sizes=len(world.sizes),
        jitter=f"{world.jitter:.0%}",
        n_captions=len(captions),
        example_caption=captions[0],
        n_words=len(world.words()),
        parameters=f"{metrics['parameters']:,}",
        vision_parameters=f"{metrics['vision_parameters']:,}",
        text_parameters=f"{metrics['text_parameters']:,}",
        train_cpu_seconds=f"{metrics['train_cpu_seconds']:.0f}",
        # CPU-seconds / threads: the wall-clock time the run would take with every thread on its own idle core
        idle_minutes=f"{metrics['train_cpu_seconds'] / 60 / metrics['threads']:.0f}",
        **{f"bar_{k}": percent(v) for k, v in bar.items()},
        **{k: metrics[k] for k in ("train_seed", "vocab_size", "steps", "batch_size", "lr", "weight_decay", "warmup",
                                   "threads", "torch_version", "transformers_version", "n", "seed", "captions")},
        **{k: percent(metrics[k]) for k in ("colour", "shape", "position", "size", "exact")},
    )
    return render("toyclip_card.md", values)
