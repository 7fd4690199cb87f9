"""Training toy CLIP 2: a contrastive loss over scenes, corner tiles and hard negatives, on a CPU.

Each batch holds ``n_scenes`` scenes drawn at 64 pixels with their captions
and ``n_tiles`` corner tiles of 256-pixel canvases with their digit captions
(``vlmlab.sceneclip``). The loss is CLIP's symmetric contrastive loss
(Radford et al. 2021, https://arxiv.org/abs/2103.00020) with two changes:

* **Several positives.** Tile captions repeat within a batch (there are only
  forty: ten digits × four corners), so image ``i``'s target is spread evenly
  over every caption in the batch equal to its own, and the same for
  captions over images; with distinct captions this is CLIP's loss exactly.
* **Hard negatives** (NegCLIP: Yuksekgonul et al. 2023, "When and why
  vision-language models behave like bags-of-words, and what to do about
  it", https://arxiv.org/abs/2210.01936). For each scene whose caption has
  one, a caption of the same words with two attributes or the sides of a
  relation swapped (``vlmlab.grammar.hard_negatives``) joins the batch as an
  extra column of the image-to-text logits. It is no image's positive, so a
  model that reads captions as bags of words pays for it.

Seeds: batch ``k`` of training seed ``s`` draws its scenes with the integer
seeds ``4 * (s * 10**6 + k) + part`` (part 0: scenes, 1: canvases, 2: the
choice of negatives), all below ``10**9`` for any seed under 250 and any
run under a million steps (the 256-pixel canvases of a batch come from seeds
below ``10**9`` drawn from its part-1 seed). Evaluation
(``vlmlab.sceneclip.EVAL_SEED``) and the validation set printed during
training (``VAL_SEED``) use seeds above ``10**9``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .. import grammar, sceneclip, toyclip
from ..data import TOY_CLIP_2, toy_model_dir
from ..scenes import render
from .cards import percent, render as render_template
from .checkpoints import folder_megabytes, publish, run_facts, save_checkpoint, staging_folder
from .tokenizer import build_processor
from .toyclip import learning_rate

__all__ = ["VAL_SEED", "build_sceneclip_processor", "batch_seeds", "draw_batch", "arrays_to_tensor", "contrastive_loss",
           "train", "save_running", "train_and_publish", "write_card"]

VAL_SEED = 1_500_000_001  # the small validation set printed during training; training seeds stay below 10**9


def build_sceneclip_processor(max_text_len: int = sceneclip.ARCH["max_text_len"]):
    """A ``CLIPProcessor`` for toy CLIP 2: every word of the grammar one token, 64-pixel images."""
    return build_processor(SimpleNamespace(words=sceneclip.vocabulary, image_size=sceneclip.IMAGE_SIZE), max_text_len)


def batch_seeds(seed: int, step: int) -> tuple[int, int, int]:
    """Random seeds for batch ``step``: ``(scenes, canvases, negatives)``, see the module's docstring."""
    base = 4 * (seed * 10**6 + step)
    return base, base + 1, base + 2


def draw_batch(seed: int, step: int, n_scenes: int, n_tiles: int, hard_negatives: bool = True, world=None,
               canvas=None):
    """Batch ``step``: ``(images, captions, negatives)``.

    ``images`` is a list of ``n_scenes + n_tiles`` uint8 arrays ``(64, 64, 3)``:
    the scenes first, then the tiles; ``captions[i]`` is image ``i``'s caption;
    ``negatives`` holds one hard negative per scene that has one (none when
    ``hard_negatives`` is False).
    """
    world = world or sceneclip.scene_world()
    canvas = canvas or sceneclip.canvas_world()
    s_scenes, s_canvas, s_neg = batch_seeds(seed, step)
    images, scenes = world.sample(n_scenes, seed=s_scenes) if n_scenes else ([], [])
    images, captions = list(images), [grammar.caption(s) for s in scenes]
    rng = np.random.default_rng(s_canvas)
    tiles = []
    while len(tiles) < n_tiles:  # about two digits per canvas
        for scene in canvas.sample_scenes(max(1, (n_tiles - len(tiles)) // 2 + 1), seed=int(rng.integers(10**9))):
            tiles += sceneclip.corner_tiles(render(scene), scene)
    for tile, glyph in tiles[:n_tiles]:
        images.append(tile)
        captions.append(sceneclip.tile_caption(glyph.char, glyph.corner))
    negatives = []
    if hard_negatives:
        pick = np.random.default_rng(s_neg)
        for text in captions[:n_scenes]:
            negs = grammar.hard_negatives(text)
            if negs:
                negatives.append(negs[int(pick.integers(len(negs)))].caption)
    return images, captions, negatives


def contrastive_loss(image_embeds, text_embeds, captions, logit_scale):
    """CLIP's symmetric loss with repeated captions as shared positives and extra negative captions.

    Args:
        image_embeds: ``(B, P)`` unit vectors, image ``i`` captioned ``captions[i]``.
        text_embeds: ``(B + H, P)`` unit vectors: the ``B`` captions, then ``H`` hard negatives.
        captions: the ``B`` caption strings (equal strings are positives of each other).
        logit_scale: the model's log temperature (a scalar tensor).

    Returns the scalar loss: the mean of the image-to-text cross-entropy (over
    all ``B + H`` captions) and the text-to-image one (over the ``B`` images),
    each against targets spread evenly over the positives.
    """
    import torch

    b = len(captions)
    logits = logit_scale.exp() * image_embeds @ text_embeds.T  # (B, B + H)
    ids = {c: k for k, c in enumerate(dict.fromkeys(captions))}
    label = torch.tensor([ids[c] for c in captions])
    positive = (label[:, None] == label[None, :]).float()  # (B, B), symmetric, ones on the diagonal
    target = positive / positive.sum(1, keepdim=True)
    i2t = torch.cat([target, torch.zeros(b, logits.shape[1] - b)], 1)
    loss_i2t = -(i2t * logits.log_softmax(1)).sum(1).mean()
    loss_t2i = -(target * logits[:, :b].T.log_softmax(1)).sum(1).mean()
    return (loss_i2t + loss_t2i) / 2


def arrays_to_tensor(images):
    """uint8 RGB arrays ``(64, 64, 3)`` already at the model's size → normalised ``(B, 3, 64, 64)`` float32.

    What ``CLIPImageProcessor`` gives for them (its resize and crop are then
    no-ops; the tests check the equality), without its per-image overhead.
    """
    import torch

    from ..preprocess import normalise

    return normalise(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous())


def _embed(model, pixel_values, text):
    """Unit image embeddings ``(B, P)`` and text embeddings ``(T, P)``, as ``CLIPModel.forward`` computes them."""
    import torch.nn.functional as F

    v = model.visual_projection(model.vision_model(pixel_values=pixel_values).pooler_output)
    pooled = model.text_model(input_ids=text.input_ids, attention_mask=text.attention_mask).pooler_output
    t = model.text_projection(pooled)
    return F.normalize(v, dim=-1), F.normalize(t, dim=-1)


def _validation(model, processor, val) -> float:
    """Exact-caption accuracy of the validation scenes among their one-edit neighbours."""
    images, scenes = val
    return sceneclip.retrieval(model, processor, images, scenes)["exact"]


def save_running(model, processor, folder) -> None:
    """Save the model as it is now into ``folder``, replacing what was there in one rename."""
    with staging_folder(folder) as staging:
        save_checkpoint(model, processor, staging)
        publish(staging, folder)


def train(
    *,
    steps: int = 1300,
    n_scenes: int = 64,
    n_tiles: int = 24,
    hard_negatives: bool = True,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    warmup: int = 100,
    seed: int = 0,
    arch: dict | None = None,
    log_every: int = 100,
    save_every: int = 0,
    running_dir=None,
    log=print,
):
    """Train toy CLIP 2 from scratch; returns ``(model, processor, facts)``.

    ``arch`` overrides ``vlmlab.sceneclip.ARCH``. AdamW with weight decay on
    the weight matrices only, the warm-up + cosine :func:`learning_rate`,
    gradient clipping at 1.0, the batches of :func:`draw_batch`. Every
    ``save_every`` steps (0: never) the running model is saved into
    ``running_dir``, so that a long run leaves a usable checkpoint if stopped.
    ``facts`` records what a model card reports. The model is returned in eval mode.
    """
    import torch
    from transformers import CLIPModel

    arch = dict(sceneclip.ARCH, **(arch or {}))
    processor = build_sceneclip_processor(arch["max_text_len"])
    torch.manual_seed(seed)
    model = CLIPModel(toyclip.build_config(processor.tokenizer, arch))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"toy CLIP 2: {n_params / 1e6:.2f} M parameters; {steps} steps of {n_scenes} scenes + {n_tiles} tiles"
        f"{' + hard negatives' if hard_negatives else ''}; seed {seed}")
    decays = {n: p.ndim >= 2 and "embedding" not in n for n, p in model.named_parameters()}
    opt = torch.optim.AdamW([
        {"params": [p for n, p in model.named_parameters() if decays[n]], "weight_decay": weight_decay},
        {"params": [p for n, p in model.named_parameters() if not decays[n]], "weight_decay": 0.0},
    ], lr=lr)
    world, canvas = sceneclip.scene_world(), sceneclip.canvas_world()
    val = world.sample(50, seed=VAL_SEED)

    start, cpu_start = time.perf_counter(), time.process_time()
    model.train()
    for step in range(steps):
        images, captions, negatives = draw_batch(seed, step, n_scenes, n_tiles, hard_negatives, world, canvas)
        pixel_values = arrays_to_tensor(images)
        text = processor.tokenizer(captions + negatives, padding=True, return_tensors="pt")
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, steps, lr, warmup)
        v, t = _embed(model, pixel_values, text)
        loss = contrastive_loss(v, t, captions, model.logit_scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, np.log(100))  # CLIP's cap on the temperature
        if (step + 1) % log_every == 0 or step == steps - 1:
            model.eval()
            acc = _validation(model, processor, val)
            model.train()
            log(f"step {step + 1:5d}  loss {loss.item():.3f}  val exact {acc:.3f}  "
                f"logit scale {model.logit_scale.exp().item():.1f}  {time.perf_counter() - start:.0f} s", )
        if save_every and running_dir is not None and (step + 1) % save_every == 0:
            save_running(model, processor, running_dir)
    facts = dict(
        **run_facts(model, processor, start, cpu_start),
        steps=steps, n_scenes=n_scenes, n_tiles=n_tiles, hard_negatives=hard_negatives, lr=lr,
        weight_decay=weight_decay, warmup=warmup, train_seed=seed,
        arch=arch,
    )
    return model.eval(), processor, facts


def write_card(folder) -> Path:
    """(Re)write ``README.md`` of a toy-CLIP-2 folder from its ``metrics.json`` and ``templates/sceneclip_card.md``."""
    folder = Path(folder)
    m = json.loads((folder / "metrics.json").read_text())
    a = m["arch"]
    grid = a["image_size"] // a["patch_size"]
    percents = {k: percent(v) for k, v in m.items()
                if isinstance(v, float) and k.startswith(("seen_", "heldout_", "hardneg_", "glyph_"))
                and not k.endswith(("candidates", "gallery_size"))}
    slot_rows = "\n".join(
        f"| {slot} | {percents.get(f'seen_slot_{slot}', '–')} | {percents.get(f'heldout_slot_{slot}', '–')} |"
        for slot in ("colour", "shape", "size", "relation", "digit"))
    swaps = [k[len("hardneg_pairs_"):] for k in m if k.startswith("hardneg_pairs_")]
    swap_rows = "\n".join(f"| {s} | {percents[f'hardneg_{s}']} | {m[f'hardneg_pairs_{s}']} |" for s in swaps)
    values = dict(
        a,
        grid=grid,
        patch_tokens=grid * grid,
        vision_mlp=a["vision_width"] * a["mlp_ratio"],
        parameters=f"{m['parameters']:,}",
        vision_parameters=f"{m['vision_parameters']:,}",
        text_parameters=f"{m['text_parameters']:,}",
        train_minutes=f"{m['train_seconds'] / 60:.0f}",
        train_cpu_minutes=f"{m['train_cpu_seconds'] / 60:.0f}",
        hard_negative_flag="" if m["hard_negatives"] else " --no-hard-negatives",
        hard_negative_words="with" if m["hard_negatives"] else "without",
        slot_rows=slot_rows,
        swap_rows=swap_rows,
        seen_candidates=f"{m['seen_candidates']:.0f}",
        heldout_candidates=f"{m['heldout_candidates']:.0f}",
        seen_gallery_size=f"{m['seen_gallery_size']:.0f}",
        heldout_gallery_size=f"{m['heldout_gallery_size']:.0f}",
        bag_of_words=_bag_of_words_sentence(m),
        strengths=_strengths_sentence(m),
        megabytes=f"{m.get('megabytes', 0):.1f}",
        n_colours=len(sceneclip.scene_world().colours),
        n_shapes=len(sceneclip.scene_world().shapes),
        heldout_pairs=", ".join(f"{c} {s}" for c, s in sceneclip.scene_world().heldout_pairs),
        **percents,
        **{k: m[k] for k in ("train_seed", "vocab_size", "steps", "n_scenes", "n_tiles", "lr", "weight_decay",
                             "warmup", "threads", "torch_version", "transformers_version", "n", "seed",
                             "glyph_digits")},
    )
    card = folder / "README.md"
    card.write_text(render_template("sceneclip_card.md", values), encoding="utf-8")
    return card


def _strengths_sentence(m: dict) -> str:
    """Which slots of a caption the model reads (seen split, one-edit retrieval), in words."""
    slots = {k[len("seen_slot_"):]: v for k, v in m.items() if k.startswith("seen_slot_")}
    good = [f"{k} ({percent(v)})" for k, v in slots.items() if v >= 0.85]
    weak = [f"{k} ({percent(v)})" for k, v in slots.items() if v < 0.5]
    parts = []
    if good:
        parts.append(f"It reads {', '.join(good)} reliably")
    if weak:
        parts.append(f"it picks the right {', '.join(weak)} among the alternatives less than half the time")
    return ("; ".join(parts) + " (seen split, per slot).") if parts else "See the per-slot table."


def _bag_of_words_sentence(m: dict) -> str:
    """A plain verdict on the relation swaps: near chance means the model reads a bag of words there."""
    rel = m.get("hardneg_relation")
    if rel is None:
        return "No relation swaps were measured."
    if rel < 0.6:
        return (f"On relation swaps it is right {percent(rel)} of the time, near the 50 % of chance: for the order of "
                "a relation it behaves like a bag of words.")
    if rel < 0.9:
        return (f"On relation swaps it is right {percent(rel)} of the time: better than a bag of words (50 %), "
                "but far from reading word order reliably.")
    return f"On relation swaps it is right {percent(rel)} of the time: it does not behave like a bag of words there."


def train_and_publish(output_dir=None, *, eval_scenes: int = 500, save_every: int = 100, log=print,
                      **train_options) -> dict:
    """The ``train`` command: train, save, evaluate the saved files, write the card, publish.

    While training, the running model is saved every ``save_every`` steps into
    ``<output_dir>.running`` beside the output (removed once the output is
    published; it stays if anything fails). At the end the model is saved
    into a staging folder, reloaded from there, measured by
    ``vlmlab.sceneclip.evaluate`` on ``eval_scenes`` scenes of each kind, given
    its ``metrics.json`` and ``README.md``, and moved into ``output_dir``
    (default ``data/toy-clip-2``) in one rename. Returns the metrics.
    """
    out = Path(output_dir) if output_dir is not None else toy_model_dir(TOY_CLIP_2, check=False)
    running = out.parent / f"{out.name}.running"
    model, processor, facts = train(log=log, save_every=save_every, running_dir=running, **train_options)
    save_running(model, processor, running)  # the finished model is kept even if what follows fails
    with staging_folder(out) as folder:
        save_checkpoint(model, processor, folder)
        metrics = sceneclip.evaluate(folder, n=eval_scenes, log=log)
        metrics.update(facts)
        metrics["megabytes"] = round(folder_megabytes(folder), 2)
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        write_card(folder)
        publish(folder, out)
    shutil.rmtree(running, ignore_errors=True)  # the published folder now holds the same weights
    log(f"saved {out} ({folder_megabytes(out):.2f} MB)")
    return metrics
