"""Training the toy CLIP: CLIP's contrastive loss on ShapesWorld, from scratch, on a CPU.

The loss is CLIP's symmetric contrastive loss (Radford et al. 2021,
"Learning Transferable Visual Models From Natural Language Supervision",
https://arxiv.org/abs/2103.00020), computed by ``transformers.CLIPModel``
itself (``return_loss=True``): cross-entropy of the image-to-text and the
text-to-image similarity matrices against the diagonal. Each batch holds
distinct captions, so that no in-batch "negative" carries the positive's
caption.

Seeds: training batch ``k`` is drawn from ``numpy.random.default_rng((seed, k))``;
the validation set printed during training uses ``VAL_SEED`` and the final
evaluation ``vlmlab.toyclip.EVAL_SEED``, integer seeds that the
``(seed, step)`` pairs never produce.

:func:`train` only trains. :func:`train_and_publish` (the command
``python -m vlmlab.training toy-clip train``) trains, saves into a staging folder, evaluates the saved files,
writes ``metrics.json`` and the model card, and replaces the published
checkpoint only when every accuracy reaches ``BAR``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from .. import toyclip
from ..data import TOY_CLIP, toy_model_dir
from ..shapes import ShapesWorld
from .cards import toyclip_card
from .checkpoints import folder_megabytes, publish, run_facts, save_checkpoint, staging_folder
from .tokenizer import build_processor

__all__ = ["VAL_SEED", "BAR", "meets_bar", "images_to_tensor", "learning_rate", "train", "train_and_publish",
           "write_card"]

VAL_SEED = 999_983  # the small validation set printed during training

# A checkpoint replaces data/toy-clip only when its zero-shot accuracies reach these.
BAR = {"colour": 0.98, "shape": 0.95, "position": 0.90, "exact": 0.85}


def meets_bar(metrics: dict) -> bool:
    """Whether every accuracy in ``metrics`` reaches ``BAR``."""
    return all(metrics[k] >= v for k, v in BAR.items())


def images_to_tensor(images):
    """RGB PIL images already at the model's size → normalised ``(B, 3, H, W)`` float32 tensor.

    The numbers ``CLIPImageProcessor`` gives for such images (its resize and
    crop are then no-ops; the tests check the equality), without its per-image
    overhead, which would dominate the training loop.
    """
    import torch

    from ..preprocess import normalise, to_uint8_tensor

    x = torch.stack([to_uint8_tensor(image) for image in images])  # (B, 3, H, W) uint8
    return normalise(x)  # (B, 3, H, W) float32: (x / 255 - mean) / std


def learning_rate(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay from ``lr`` to 0 at ``steps``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def _exact_on_diagonal(model, pixel_values, text) -> float:
    """Exact-caption accuracy when image ``i``'s true caption is caption ``i`` of ``text``."""
    import torch

    with torch.no_grad():
        logits = model(input_ids=text.input_ids, attention_mask=text.attention_mask,
                       pixel_values=pixel_values).logits_per_image  # (images, captions)
    return (logits.argmax(-1) == torch.arange(len(pixel_values))).float().mean().item()


def train(
    *,
    steps: int = 1000,
    batch_size: int = 100,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    warmup: int = 100,
    seed: int = 0,
    arch: dict | None = None,
    log_every: int = 50,
    log=print,
):
    """Train the toy CLIP from scratch; returns ``(model, processor, facts)``.

    ``arch`` overrides ``vlmlab.toyclip.DEFAULT_ARCH``. AdamW with weight
    decay on the weight matrices only (not on biases, norms or embeddings),
    the :func:`learning_rate` schedule, gradient clipping at 1.0. ``facts``
    records what a model card reports: the settings, the parameter counts
    and the wall-clock and CPU seconds of the loop. The model is returned in
    eval mode. Nothing is written to disk.
    """
    import torch
    from transformers import CLIPModel

    arch = dict(toyclip.DEFAULT_ARCH, **(arch or {}))
    world = ShapesWorld(image_size=arch["image_size"])
    n_captions = len(world.captions())
    if not isinstance(batch_size, int) or not 1 < batch_size <= n_captions:
        raise ValueError(f"batch_size must be an int in [2, {n_captions}] (distinct captions per batch), "
                         f"got {batch_size!r}")
    processor = build_processor(world, arch["max_text_len"])
    torch.manual_seed(seed)
    model = CLIPModel(toyclip.build_config(processor.tokenizer, arch))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"toy CLIP: {n_params / 1e6:.2f} M parameters; {steps} steps of {batch_size} distinct captions; seed {seed}")

    text = processor.tokenizer(world.captions(), padding=True, return_tensors="pt")  # every caption, once
    decays = {n: p.ndim >= 2 and "embedding" not in n for n, p in model.named_parameters()}
    opt = torch.optim.AdamW([
        {"params": [p for n, p in model.named_parameters() if decays[n]], "weight_decay": weight_decay},
        {"params": [p for n, p in model.named_parameters() if not decays[n]], "weight_decay": 0.0},
    ], lr=lr)
    val_images, _ = world.sample_each(seed=VAL_SEED)  # one image per caption, in caption order
    val_pixels = images_to_tensor(val_images)

    start, cpu_start = time.perf_counter(), time.process_time()
    model.train()
    for step in range(steps):
        rng = np.random.default_rng((seed, step))
        idx = rng.permutation(n_captions)[:batch_size]  # distinct captions
        pixel_values = images_to_tensor([world.render(world.scenes[i], rng) for i in idx])
        ids = torch.as_tensor(idx)
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, steps, lr, warmup)
        loss = model(input_ids=text.input_ids[ids], attention_mask=text.attention_mask[ids],
                     pixel_values=pixel_values, return_loss=True).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % log_every == 0 or step == steps - 1:
            model.eval()
            acc = _exact_on_diagonal(model, val_pixels, text)
            model.train()
            log(f"step {step + 1:5d}  loss {loss.item():.3f}  val exact {acc:.3f}  "
                f"logit scale {model.logit_scale.exp().item():.1f}  {time.perf_counter() - start:.0f} s")
    facts = dict(
        **run_facts(model, processor, start, cpu_start),
        steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup=warmup, train_seed=seed,
        arch=arch,
    )
    return model.eval(), processor, facts


def write_card(folder) -> Path:
    """(Re)write ``README.md`` of a toy-CLIP checkpoint folder from its ``metrics.json``."""
    folder = Path(folder)
    metrics = json.loads((folder / "metrics.json").read_text())
    card = folder / "README.md"
    card.write_text(toyclip_card(metrics, ShapesWorld(image_size=metrics["arch"]["image_size"]), BAR), encoding="utf-8")
    return card


def train_and_publish(output_dir=None, *, eval_images: int = 1000, require_bar: bool = True, log=print,
                      **train_options) -> dict:
    """The ``train`` command: train, save, evaluate the saved files, and publish if good enough.

    The checkpoint is written to a staging folder beside ``output_dir``
    (default ``data/toy-clip``), reloaded from there and evaluated by
    ``vlmlab.toyclip.evaluate`` on ``eval_images`` fresh images; its
    ``metrics.json`` and model card are written beside it. It then replaces
    ``output_dir`` in one rename, only if every accuracy reaches ``BAR`` (or
    ``require_bar`` is False); otherwise the staging folder is left for
    inspection and ``output_dir`` is unchanged. ``train_options`` go to
    :func:`train`. Returns the metrics, with ``meets_bar``.
    """
    out = Path(output_dir) if output_dir is not None else toy_model_dir(TOY_CLIP, check=False)
    model, processor, facts = train(log=log, **train_options)
    with staging_folder(out) as folder:
        save_checkpoint(model, processor, folder)
        metrics = toyclip.evaluate(folder, n=eval_images, log=log)
        metrics.update(facts)
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        write_card(folder)
        metrics["meets_bar"] = meets_bar(metrics)
        if require_bar and not metrics["meets_bar"]:
            log(f"accuracies {toyclip.format_accuracies(metrics)} miss the bar {BAR}; "
                f"checkpoint left in {folder}, {out} unchanged")
            return metrics
        publish(folder, out)
    log(f"saved {out} ({folder_megabytes(out):.2f} MB); {toyclip.format_accuracies(metrics)}")
    return metrics
