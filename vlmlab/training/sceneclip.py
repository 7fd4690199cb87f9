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
* **One-edit negatives** (``edit_negatives`` per scene, default 0): captions
  one slot away from the truth (``vlmlab.sceneclip.one_edit_neighbours``: one
  object's colour, shape or size, the relation or one digit replaced), also
  extra columns that no image matches, as in the replacement negatives of
  Doveh et al. 2023 ("Teaching structured vision & language concepts to
  vision & language models", https://arxiv.org/abs/2211.11733). A batch of
  different scenes is told apart by colour and count alone; these make the
  loss pay for every slot the model does not read.

And a **local loss** (``local_weight``, default 0: the purely contrastive
recipe of the shipped checkpoint; ``--local-weight 1 --local-views 16
--edit-negatives 1 --lr 2e-3`` is the recipe being measured to replace it). The toy VLMs read the tower's *patch tokens* of layer
-2, not the pooled embedding that the contrastive loss trains, and a
batch-contrastive loss never has to put shape into them. So linear heads
read the layer -2 patch tokens averaged over each object's box and predict
its shape, colour and size, and over each digit's box, the digit (a dense,
location-aware objective, as the LocCa decoder of SigLIP 2 adds for the same
reason: Tschannen et al. 2025, https://arxiv.org/abs/2502.14786). The heads
are trained with the model and then thrown away: the saved checkpoint is a
plain ``CLIPModel``. Besides the batch's own scenes and tiles, the local loss
sees ``local_views`` images of the views the toy VLMs give the tower
(``vlmlab.toyvlm``): 128-pixel scenes shrunk to 64 by the processor, and
64-pixel quadrants of 128-pixel scenes at full resolution, their four digits
placed anywhere in their corners (not only in the middle of one patch).

Seeds: batch ``k`` of training seed ``s`` draws its scenes with the integer
seeds ``4 * (s * 10**6 + k) + part`` (part 0: scenes, 1: canvases, 2: the
choice of negatives, 3: the local views), all below ``10**9`` for any seed under 250 and any
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
from ..data import TOY_CLIP_2, TOY_CLIP_2_CONTRASTIVE, toy_model_dir
from ..glyphs import DIGITS
from ..scenes import SCENE_SHAPES, SIZE_FRACTIONS, SceneWorld, render
from ..shapes import COLOURS
from .cards import percent, render as render_template
from .checkpoints import folder_megabytes, publish, run_facts, save_checkpoint, staging_folder
from .tokenizer import build_processor
from .toyclip import learning_rate

__all__ = ["VAL_SEED", "LOCAL_FIELDS", "build_sceneclip_processor", "batch_seeds", "draw_batch", "arrays_to_tensor",
           "contrastive_loss", "view_world", "local_targets", "draw_local_views", "local_heads", "local_loss", "train", "save_running", "train_and_publish", "write_card"]

VAL_SEED = 1_500_000_001  # the small validation set printed during training; training seeds stay below 10**9
# What the local heads predict, and the classes of each (index = label).
LOCAL_FIELDS = {"shape": tuple(SCENE_SHAPES), "colour": tuple(COLOURS), "size": tuple(SIZE_FRACTIONS),
                "digit": tuple(DIGITS)}


def build_sceneclip_processor(max_text_len: int = sceneclip.ARCH["max_text_len"]):
    """A ``CLIPProcessor`` for toy CLIP 2: every word of the grammar one token, 64-pixel images."""
    return build_processor(SimpleNamespace(words=sceneclip.vocabulary, image_size=sceneclip.IMAGE_SIZE), max_text_len)


def batch_seeds(seed: int, step: int) -> tuple[int, int, int]:
    """Random seeds for batch ``step``: ``(scenes, canvases, negatives)``, see the module's docstring."""
    base = 4 * (seed * 10**6 + step)
    return base, base + 1, base + 2


def draw_batch(seed: int, step: int, n_scenes: int, n_tiles: int, hard_negatives: bool = True, world=None,
               canvas=None, edit_negatives: int = 0, with_scenes: bool = False):
    """Batch ``step``: ``(images, captions, negatives)``, and with ``with_scenes`` also ``views``.

    ``images`` is a list of ``n_scenes + n_tiles`` uint8 arrays ``(64, 64, 3)``:
    the scenes first, then the tiles; ``captions[i]`` is image ``i``'s caption;
    ``negatives`` holds one hard negative per scene that has one (none when
    ``hard_negatives`` is False), then ``edit_negatives`` one-edit neighbours
    per scene. ``views[i]`` is ``(scene, top, left, side)``: image ``i`` shows
    the square of ``scene`` at ``(top, left)`` of ``side`` pixels (for
    :func:`local_targets`).
    """
    world = world or sceneclip.scene_world()
    canvas = canvas or sceneclip.canvas_world()
    s_scenes, s_canvas, s_neg = batch_seeds(seed, step)
    images, scenes = world.sample(n_scenes, seed=s_scenes) if n_scenes else ([], [])
    images, captions = list(images), [grammar.caption(s) for s in scenes]
    views = [(s, 0, 0, world.canvas_size[0]) for s in scenes]
    rng = np.random.default_rng(s_canvas)
    tiles = []
    while len(tiles) < n_tiles:  # about two digits per canvas
        for scene in canvas.sample_scenes(max(1, (n_tiles - len(tiles)) // 2 + 1), seed=int(rng.integers(10**9))):
            tiles += [(tile, glyph, scene) for tile, glyph in sceneclip.corner_tiles(render(scene), scene)]
    side = sceneclip.IMAGE_SIZE
    for tile, glyph, scene in tiles[:n_tiles]:
        images.append(tile)
        captions.append(sceneclip.tile_caption(glyph.char, glyph.corner))
        height, width = scene.canvas_size
        views.append((scene, 0 if glyph.corner.startswith("top") else height - side,
                      0 if glyph.corner.endswith("left") else width - side, side))
    negatives = []
    pick = np.random.default_rng(s_neg)
    if hard_negatives:
        for text in captions[:n_scenes]:
            negs = grammar.hard_negatives(text)
            if negs:
                negatives.append(negs[int(pick.integers(len(negs)))].caption)
    if edit_negatives:
        for text in captions[:n_scenes]:
            edits = sceneclip.one_edit_neighbours(text)
            for k in pick.choice(len(edits), size=min(edit_negatives, len(edits)), replace=False):
                negatives.append(edits[int(k)][1])
    return (images, captions, negatives, views) if with_scenes else (images, captions, negatives)


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


def view_world() -> SceneWorld:
    """The 128-pixel scenes of the toy VLMs (``vlmlab.toyvlm.world``), but each digit anywhere in its corner.

    The same objects, sizes and digits as ``toyvlm.world()`` (a digit in every
    corner, 5×3 pixels); only the digit's place inside its corner square is
    free, so the tower learns to read a digit wherever it sits in a patch.
    """
    from ..toyvlm import CANVAS_SIZE

    return SceneWorld(CANVAS_SIZE, min_glyphs=4, max_glyphs=4, glyph_scale=1)


def local_targets(scene, top: int, left: int, side: int, grid: int = 8):
    """What the local heads should read in the square view of ``scene`` at ``(top, left)``, ``side`` pixels a side.

    Returns ``(objects, digits)``: ``objects`` a list of ``(patches, shape,
    colour, size)`` for every object whose centre lies in the view,
    ``digits`` a list of ``(patches, digit)`` for every digit wholly in it;
    ``patches`` are the row-major indices of the ``grid × grid`` patches that
    the thing's box (clipped to the view) touches, the patches
    ``vlmlab.toyvlm.tower_probe`` averages; labels index :data:`LOCAL_FIELDS`.
    The view may be shown at any size: patches are counted in its own pixels.
    """
    if side % grid:
        raise ValueError(f"side must be a multiple of grid, got side={side} and grid={grid}")
    cell = side // grid

    def patches(box):
        t, lft = max(box[0] - top, 0), max(box[1] - left, 0)
        b, r = min(box[2] - top, side), min(box[3] - left, side)
        rows, cols = range(t // cell, (b - 1) // cell + 1), range(lft // cell, (r - 1) // cell + 1)
        return [row * grid + col for row in rows for col in cols]

    labels = {f: {v: k for k, v in enumerate(c)} for f, c in LOCAL_FIELDS.items()}
    objects = [(patches(o.box), labels["shape"][o.shape], labels["colour"][o.colour], labels["size"][o.size])
               for o in scene.objects
               if top <= o.centre[0] < top + side and left <= o.centre[1] < left + side]
    digits = [(patches(g.box), labels["digit"][g.char]) for g in scene.glyphs
              if top <= g.box[0] and g.box[2] <= top + side and left <= g.box[1] and g.box[3] <= left + side]
    return objects, digits


def draw_local_views(seed: int, step: int, n: int, world=None):
    """The toy VLMs' views for the local loss: ``(shrunk, tiles, views)``.

    ``shrunk`` is ``n // 2`` 128-pixel scenes (uint8 ``(128, 128, 3)``, for the
    processor to shrink to 64), ``tiles`` ``n - n // 2`` 64-pixel quadrants of
    other 128-pixel scenes at full resolution, one random quadrant each;
    ``views`` the ``(scene, top, left, side)`` of each, shrunk views first.
    Drawn from ``batch_seeds(seed, step)[0] + 3`` (part 3).
    """
    world = world or view_world()
    side, half = world.canvas_size[0], world.canvas_size[0] // 2
    n_shrunk = n // 2
    images, scenes = world.sample(n, seed=batch_seeds(seed, step)[0] + 3)
    quadrants = np.random.default_rng(batch_seeds(seed, step)[0] + 3).integers(0, 2, size=(n - n_shrunk, 2)) * half
    shrunk = list(images[:n_shrunk])
    tiles = [images[n_shrunk + k][t:t + half, lft:lft + half] for k, (t, lft) in enumerate(quadrants)]
    views = [(s, 0, 0, side) for s in scenes[:n_shrunk]]
    views += [(s, int(t), int(lft), half) for s, (t, lft) in zip(scenes[n_shrunk:], quadrants)]
    return shrunk, tiles, views


def _local_batch(views, grid: int = 8):
    """Pooling matrices and labels of the things in ``views``: ``{"objects": (index, weights, labels), "digits": ...}``.

    ``index`` ``(M,)``: the image each thing is in; ``weights`` ``(M, grid²)``:
    1/count on the patches it touches, so ``weights @ tokens`` is their mean;
    ``labels`` ``(M, 3)`` (shape, colour, size) for objects, ``(M,)`` for digits.
    """
    import torch

    out = {}
    for kind in ("objects", "digits"):
        index, rows, labels = [], [], []
        for k, view in enumerate(views):
            for thing in local_targets(*view, grid=grid)[kind == "digits"]:
                row = torch.zeros(grid * grid)
                row[thing[0]] = 1.0 / len(thing[0])
                index.append(k)
                rows.append(row)
                labels.append(thing[1:] if kind == "objects" else thing[1])
        out[kind] = (torch.tensor(index, dtype=torch.long), torch.stack(rows) if rows else torch.zeros(0, grid * grid),
                     torch.tensor(labels, dtype=torch.long))
    return out


def local_heads(width: int):
    """Linear heads on ``width``-wide pooled patch tokens, one per field of :data:`LOCAL_FIELDS`: a ``torch.nn.ModuleDict``.

    Training only: they are not part of the saved ``CLIPModel``.
    """
    import torch

    return torch.nn.ModuleDict({field: torch.nn.Linear(width, len(classes)) for field, classes in LOCAL_FIELDS.items()})


def local_loss(tokens, targets, heads) -> tuple:
    """The mean cross-entropy of the local heads, and their accuracies: ``(loss, {field: accuracy})``.

    Args:
        tokens: ``(B, grid², width)`` patch tokens (CLS dropped).
        targets: :func:`_local_batch` of the ``B`` images' views.
        heads: :func:`local_heads`.

    Each field's cross-entropy is averaged over its things; the loss is the
    mean over the fields present.
    """
    import torch.nn.functional as F

    losses, accuracy = [], {}
    for kind, fields in (("objects", ("shape", "colour", "size")), ("digits", ("digit",))):
        index, weights, labels = targets[kind]
        if not len(index):
            continue
        pooled = (weights[:, :, None] * tokens[index]).sum(1)  # (M, width): the mean over each thing's patches
        for k, field in enumerate(fields):
            y = labels[:, k] if kind == "objects" else labels
            logits = heads[field](pooled)
            losses.append(F.cross_entropy(logits, y))
            accuracy[field] = float((logits.argmax(1) == y).float().mean())
    return sum(losses) / len(losses), accuracy


def arrays_to_tensor(images):
    """uint8 RGB arrays ``(64, 64, 3)`` already at the model's size → normalised ``(B, 3, 64, 64)`` float32.

    What ``CLIPImageProcessor`` gives for them (its resize and crop are then
    no-ops; the tests check the equality), without its per-image overhead.
    """
    import torch

    from ..preprocess import normalise

    return normalise(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous())


def _embed(model, pixel_values, text, layer: int | None = None):
    """Unit image embeddings ``(B, P)``, text embeddings ``(T, P)`` (as ``CLIPModel.forward`` computes them), and
    the patch tokens ``(B, N, width)`` of ``hidden_states[layer]`` without CLS (``None`` when ``layer`` is None)."""
    import torch.nn.functional as F

    vision = model.vision_model(pixel_values=pixel_values, output_hidden_states=layer is not None)
    v = model.visual_projection(vision.pooler_output)
    pooled = model.text_model(input_ids=text.input_ids, attention_mask=text.attention_mask).pooler_output
    t = model.text_projection(pooled)
    tokens = vision.hidden_states[layer][:, 1:] if layer is not None else None
    return F.normalize(v, dim=-1), F.normalize(t, dim=-1), tokens


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
    edit_negatives: int = 1,
    local_weight: float = 1.0,
    local_views: int = 16,
    local_layer: int = -2,
    lr: float = 2e-3,
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

    ``arch`` overrides ``vlmlab.sceneclip.ARCH``. The loss is the contrastive
    loss plus ``local_weight`` × :func:`local_loss` on the ``hidden_states[local_layer]``
    patch tokens of the batch's images and of ``local_views`` extra views
    (:func:`draw_local_views`); ``local_weight=0, local_views=0, edit_negatives=0,
    lr=1e-3`` is the purely contrastive recipe. AdamW with weight decay on
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
    local = local_weight > 0
    if not local:
        local_views = 0
    log(f"toy CLIP 2: {n_params / 1e6:.2f} M parameters; {steps} steps of {n_scenes} scenes + {n_tiles} tiles"
        f"{' + hard negatives' if hard_negatives else ''}"
        f"{f' + {edit_negatives} one-edit negative(s) per scene' if edit_negatives else ''}"
        f"{f'; local loss x {local_weight} on layer {local_layer} (+ {local_views} VLM views)' if local else ''}"
        f"; lr {lr}; seed {seed}")
    heads = local_heads(arch["vision_width"]) if local else torch.nn.ModuleDict()
    named = list(model.named_parameters()) + [(f"local.{n}", p) for n, p in heads.named_parameters()]
    decays = {n: p.ndim >= 2 and "embedding" not in n for n, p in named}
    opt = torch.optim.AdamW([
        {"params": [p for n, p in named if decays[n]], "weight_decay": weight_decay},
        {"params": [p for n, p in named if not decays[n]], "weight_decay": 0.0},
    ], lr=lr)
    world, canvas, views_world = sceneclip.scene_world(), sceneclip.canvas_world(), view_world()
    grid = arch["image_size"] // arch["patch_size"]
    val = world.sample(50, seed=VAL_SEED)

    start, cpu_start = time.perf_counter(), time.process_time()
    model.train()
    heads.train()
    for step in range(steps):
        images, captions, negatives, views = draw_batch(seed, step, n_scenes, n_tiles, hard_negatives, world, canvas,
                                                        edit_negatives, with_scenes=True)
        pixel_values = arrays_to_tensor(images)
        if local_views:
            shrunk, tiles, extra = draw_local_views(seed, step, local_views, views_world)
            parts = [pixel_values, arrays_to_tensor(tiles)]
            if shrunk:  # the processor shrinks them, as it does for the toy VLMs
                parts.append(processor.image_processor(images=shrunk, return_tensors="pt").pixel_values)
            pixel_values = torch.cat(parts)
            views = views + extra[len(shrunk):] + extra[:len(shrunk)]
        text = processor.tokenizer(captions + negatives, padding=True, return_tensors="pt")
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, steps, lr, warmup)
        v, t, tokens = _embed(model, pixel_values, text, local_layer if local else None)
        loss = contrastive_loss(v[:len(captions)], t, captions, model.logit_scale)
        if local:
            dense, dense_acc = local_loss(tokens, _local_batch(views, grid), heads)
            total = loss + local_weight * dense
        else:
            total = loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, np.log(100))  # CLIP's cap on the temperature
        if (step + 1) % log_every == 0 or step == steps - 1:
            model.eval()
            acc = _validation(model, processor, val)
            model.train()
            heads_text = ""
            if local:
                heads_text = (f"  local {dense.item():.3f} ("
                              + " ".join(f"{f} {a:.2f}" for f, a in dense_acc.items()) + ")")
            log(f"step {step + 1:5d}  loss {loss.item():.3f}{heads_text}  val exact {acc:.3f}  "
                f"logit scale {model.logit_scale.exp().item():.1f}  {time.perf_counter() - start:.0f} s", )
        if save_every and running_dir is not None and (step + 1) % save_every == 0:
            save_running(model, processor, running_dir)
    facts = dict(
        **run_facts(model, processor, start, cpu_start),
        steps=steps, n_scenes=n_scenes, n_tiles=n_tiles, hard_negatives=hard_negatives, lr=lr,
        edit_negatives=edit_negatives, local_weight=local_weight, local_views=local_views, local_layer=local_layer,
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
        train_cpu_minutes=("CPU time not recorded" if m.get("train_cpu_seconds") is None
                           else f"{m['train_cpu_seconds'] / 60:.0f} CPU-minutes"),
        hard_negative_flag="" if m["hard_negatives"] else " --no-hard-negatives",
        hard_negative_words="with" if m["hard_negatives"] else "without",
        local_paragraph=_local_paragraph(m),
        recipe_flags=_recipe_flags(m),
        name=_name(m),
        output_flag="" if _name(m) == TOY_CLIP_2 else f" --output data/{_name(m)}",
        model_flag="" if _name(m) == TOY_CLIP_2 else f" --model data/{_name(m)}",
        slot_rows=slot_rows,
        swap_rows=swap_rows,
        seen_candidates=f"{m['seen_candidates']:.0f}",
        heldout_candidates=f"{m['heldout_candidates']:.0f}",
        seen_gallery_size=f"{m['seen_gallery_size']:.0f}",
        heldout_gallery_size=f"{m['heldout_gallery_size']:.0f}",
        bag_of_words=_bag_of_words_sentence(m),
        probe_section=_probe_section(m),
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


def _name(m: dict) -> str:
    """The folder a card's model ships in: toy CLIP 2, or the purely contrastive ablation beside it."""
    return TOY_CLIP_2 if m.get("local_weight") else TOY_CLIP_2_CONTRASTIVE


def _recipe_flags(m: dict) -> str:
    """The command-line options of the recipe that a card's reproduce command must state (metrics that predate
    the local objective were trained without it)."""
    return (f" --lr {m['lr']:g} --edit-negatives {m.get('edit_negatives') or 0} --local-weight "
            f"{m.get('local_weight') or 0:g} --local-views {m.get('local_views') or 0}")


def _local_paragraph(m: dict) -> str:
    """The card's paragraph on the one-edit negatives and the local loss, empty where the recipe had neither."""
    parts = []
    if m.get("edit_negatives"):
        parts.append(f"Each scene caption also brings {m['edit_negatives']} one-edit neighbour(s) as negatives "
                     "(`vlmlab.sceneclip.one_edit_neighbours`: one colour, shape, size, relation or digit "
                     "replaced), so the loss pays for every slot the model does not read.")
    if m.get("local_weight"):
        parts.append(
            f"A local loss (weight {m['local_weight']:g}) trains the layer {m.get('local_layer', -2)} patch tokens that "
            "the toy VLMs read: linear heads on the tokens averaged over each object's box predict its shape, colour "
            "and size, and over each digit's box the digit (a dense, location-aware objective, as SigLIP 2 adds "
            "LocCa; Tschannen et al. 2025). Besides the batch's images it sees "
            f"{m.get('local_views', 0)} views of the toy VLMs' 128-pixel scenes (half shrunk to 64 pixels by the "
            "processor, half 64-pixel quadrants at full resolution), each digit anywhere in its corner. "
            "The heads are for training only: the checkpoint is a plain `CLIPModel`.")
    return "".join("\n\n" + p for p in parts)


def _probe_section(m: dict) -> str:
    """The card's table of linear probes on the layer -2 patch tokens, beside a random tower and chance
    (empty for metrics measured without ``--probes``)."""
    keys = [k for k in m if k.startswith("probe_") and not k.endswith(("_random", "_chance"))]
    if not keys:
        return ""
    views = {"single": "the 128-pixel scene shrunk to 64 (the toy LLaVA-1.5's view)",
             "tile": "a 64-pixel tile at full resolution (the toy LLaVA-NeXT's tiles)"}
    rows = "\n".join(f"| {k.split('_')[1]} | {views[k.split('_')[2]]} | {percent(m[k])} | {percent(m[k + '_random'])} "
                     f"| {percent(m[k + '_chance'])} |" for k in keys)
    return ("**Patch tokens** (what the toy VLMs read: layer -2, CLS dropped). A linear probe "
            "(`vlmlab.toyvlm.tower_probe`, ridge regression) reads each object's shape, colour and size, and each "
            "digit, from the patch tokens averaged over its box, fitted on "
            f"{m.get('probe_n_fit', 1200)} examples and scored on {m.get('probe_n_test', 400)} others; digits sit "
            "anywhere in their corner. The same probe on a randomly initialised tower of the same shape, and "
            "chance, stand beside it: what the probe reads beyond the random tower is what training put there.\n\n"
            "| field | view | this tower | random tower | chance |\n|---|---|---|---|---|\n" + rows + "\n\n")


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
        metrics = sceneclip.evaluate(folder, n=eval_scenes, log=log, probes=True)
        metrics.update(facts)
        metrics["megabytes"] = round(folder_megabytes(folder), 2)
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        write_card(folder)
        publish(folder, out)
    shutil.rmtree(running, ignore_errors=True)  # the published folder now holds the same weights
    log(f"saved {out} ({folder_megabytes(out):.2f} MB)")
    return metrics
