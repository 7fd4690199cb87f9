"""Toy CLIP 2: a small ``transformers.CLIPModel`` that knows the scenes of ShapesWorld 2, and how well.

    python -m vlmlab.sceneclip evaluate   # the measured numbers of data/toy-clip-2 on fresh scenes

The model is the same kind as the first toy CLIP (``vlmlab.toyclip``): a
ViT on 64×64 images with 8×8 patches and a small causal text transformer,
both projected into one space where cosine similarity times a learned
temperature is the logit (Radford et al. 2021, https://arxiv.org/abs/2103.00020).
What it reads is richer (``vlmlab.scenes``, ``vlmlab.grammar``): scenes of one
to four shapes with relations, counts and small digits, captioned by a
grammar. It sees two kinds of 64-pixel image:

* **scenes drawn at 64 pixels**, with their full caption
  ("a small red circle left of a large blue square with the digit 7 at the top left");
* **corner tiles**: the 64-pixel corner of a 256-pixel canvas, cut out at full
  resolution, captioned by the digit it holds ("the digit 7 at the top left").
  The digit is 5 pixels tall in the tile, as in a 64-pixel scene, but shrunk
  with its whole 256-pixel canvas to 64 pixels it is about one pixel tall.
  This is the view a tiling VLM (LLaVA-NeXT) gives its encoder.

Everything here measures the model (:func:`evaluate`); how it is trained
lives in ``vlmlab.training.sceneclip`` (``python -m vlmlab.training toy-clip-2 train``).

The measurements, each on fresh scenes whose seeds training never draws:

* **exact-caption retrieval**: each image's true caption against its
  *one-edit neighbours* (:func:`one_edit_neighbours`), every caption of the
  grammar that differs from the truth in one slot: one object's colour,
  shape or size, the relation, or one digit. Choosing the truth among them
  means every slot was read right. Scored on the training split (seen
  colour–shape combinations) and on the held-out split (every scene holds a
  combination that training never showed).
  Beside it, the looser retrieval most CLIP benchmarks report: the truth
  among the captions of the other test scenes with as many objects
  (:func:`gallery_retrieval`).
* **hard negatives**: the truth against each caption of
  ``vlmlab.grammar.hard_negatives`` (the same words, two attributes or the
  two sides of a relation swapped), per kind of swap. A model that reads a
  caption as a bag of words scores 50 % on these (Yuksekgonul et al. 2023,
  "When and why vision-language models behave like bags-of-words, and what
  to do about it", https://arxiv.org/abs/2210.01936).
* **linear probes** (``vlmlab.probes.linear_probe``): what a layer's tokens hold,
  read by the simplest trained reader, a linear map fitted on some images
  and scored on others. Notebook 04 probes each layer to compare the last
  layer with the penultimate one, the layer LLaVA reads. :func:`tower_probes`
  probes the layer -2 patch tokens the toy VLMs read (``vlmlab.toyvlm.tower_probe``)
  for each object's shape, colour and size and each digit, in both views the
  toy VLMs give the tower, each beside the same probe on a randomly initialised
  tower of the same shape and beside chance (``evaluate --probes``).
* **glyph reading**: for each digit of a 256-pixel canvas, the model picks
  the digit among the ten (a) from the corner tile, against the ten tile
  captions, and (b) from the whole canvas shrunk to 64 pixels by the
  processor, against the canvas's caption with that digit replaced by each
  of the ten. Chance is 10 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import grammar
from .glyphs import DIGITS
from .scenes import RELATIONS, SCENE_SHAPES, SIZE_FRACTIONS, SceneWorld
from .shapes import COLOURS

__all__ = ["IMAGE_SIZE", "CANVAS_SIZE", "EVAL_SEED", "ARCH", "TINY_ARCH", "scene_world",
           "canvas_world", "vocabulary", "tile_caption", "corner_tiles", "one_edit_neighbours", "similarities",
           "retrieval", "gallery_retrieval", "hard_negative_accuracy", "glyph_reading", "tower_probes",
           "probe_table", "evaluate", "main"]

IMAGE_SIZE = 64  # the model's input: a scene drawn at 64 pixels, or a 64-pixel tile
CANVAS_SIZE = 256  # the large canvas whose corner tiles the model reads
EVAL_SEED = 1_000_000_007  # evaluation scenes; training seeds stay far below 10**9 (vlmlab.training.sceneclip)

# The shipped model: 65 vision tokens (8×8 patches + CLS); a text context long
# enough for the longest caption, that of a 256-pixel canvas with four single
# objects and four digits (51 words + BOS + EOS = 53 tokens).
ARCH = dict(
    image_size=IMAGE_SIZE,
    patch_size=8,
    vision_width=128,
    vision_layers=6,
    text_width=128,
    text_layers=3,
    heads=4,
    mlp_ratio=4,
    projection_dim=64,
    max_text_len=56,
)
# The same shape of model, as small as it gets: for tests and smoke runs.
TINY_ARCH = dict(ARCH, vision_width=32, vision_layers=1, text_width=32, text_layers=1, heads=2, projection_dim=16)


def scene_world() -> SceneWorld:
    """The 64-pixel world: 1-4 objects, up to 2 digits at scale 1 (5×3 pixels), the default held-out pairs."""
    return SceneWorld(IMAGE_SIZE, max_glyphs=2, glyph_scale=1)


def canvas_world() -> SceneWorld:
    """The 256-pixel world whose corner tiles the model reads: up to 4 digits at scale 1 (5×3 pixels)."""
    return SceneWorld(CANVAS_SIZE, max_glyphs=4, glyph_scale=1)


def vocabulary() -> list[str]:
    """The words the tokenizer makes single tokens: the grammar's words, less the digits and "?".

    A digit or "?" is already one token in CLIP's BPE: its pre-tokenizer
    splits every digit and punctuation mark off, and the byte symbol with
    its word-end mark (``7</w>``) is in every CLIP vocabulary.
    """
    return [w for w in grammar.words() if w.isalpha()]


def tile_caption(digit: str, corner: str) -> str:
    """The caption of a corner tile: ``"the digit 7 at the top left"`` (the grammar's digit clause)."""
    return f"the digit {digit} at the {corner}"


def corner_tiles(image: np.ndarray, scene, tile: int = IMAGE_SIZE):
    """The corner tiles of a canvas that hold a digit: a list of ``(tile (tile, tile, 3) uint8, glyph)``.

    ``image`` is the rendered ``scene`` ``(H, W, 3)``; a digit sits in the
    corner square of its corner, which lies inside the ``tile``-pixel corner
    tile whenever ``tile`` is at least the square's side.
    """
    height, width = image.shape[:2]
    out = []
    for glyph in scene.glyphs:
        top = 0 if glyph.corner.startswith("top") else height - tile
        left = 0 if glyph.corner.endswith("left") else width - tile
        out.append((image[top:top + tile, left:left + tile], glyph))
    return out


def one_edit_neighbours(text: str) -> list[tuple[str, str]]:
    """Every caption of the grammar one slot away from ``text``: a list of ``(slot, caption)``.

    ``slot`` is ``"colour"``, ``"shape"``, ``"size"``, ``"relation"`` or
    ``"digit"``: one phrase's colour, shape or size replaced by each other
    value, the relation by each other relation, one digit by each other
    digit. Neighbours that would name one colour-shape kind twice are left
    out (the grammar forbids them), so each is a valid caption that is false
    for a scene ``text`` describes. A size is edited only where the phrase
    states one.
    """
    d = grammar.parse(text)
    out: list[tuple[str, str]] = []
    seen = {d.normalised()}

    def add(slot: str, desc: grammar.Description) -> None:
        kinds = [(p.colour, p.shape) for p in desc.phrases]
        if len(set(kinds)) != len(kinds):
            return
        key = desc.normalised()
        if key not in seen:
            seen.add(key)
            out.append((slot, desc.text))

    for i, phrase in enumerate(d.phrases):
        for field, values in (("colour", COLOURS), ("shape", SCENE_SHAPES), ("size", SIZE_FRACTIONS)):
            if getattr(phrase, field) is None:
                continue
            for value in values:
                if value != getattr(phrase, field):
                    phrases = list(d.phrases)
                    phrases[i] = replace(phrase, **{field: value})
                    add(field, replace(d, phrases=tuple(phrases)))
    if d.relation:
        for rel in RELATIONS:
            if rel != d.relation:
                add("relation", replace(d, relation=rel))
    for i, (digit, corner) in enumerate(d.glyphs):
        for other in DIGITS:
            if other != digit:
                glyphs = list(d.glyphs)
                glyphs[i] = (other, corner)
                add("digit", replace(d, glyphs=tuple(glyphs)))
    return out


# ------------------------------------------------------------------ scoring
def similarities(model, processor, images, candidates, batch_size: int = 256) -> list[np.ndarray]:
    """For each image, the logits of its own candidate captions.

    Args:
        images: ``n`` RGB images (uint8 arrays ``(H, W, 3)`` or PIL images);
            the processor resizes them to the model's input, as it would any image.
        candidates: ``n`` lists of captions, one list per image.

    Returns ``n`` float arrays, ``out[i][j]`` = ``logit_scale`` × cosine
    similarity of image ``i`` and ``candidates[i][j]``. Each distinct caption
    is encoded once.
    """
    import torch

    from .clip import image_embeddings, text_embeddings

    if len(images) != len(candidates):
        raise ValueError(f"images and candidates must match in number, got {len(images)} images "
                         f"and {len(candidates)} candidate lists")
    unique = sorted({c for cands in candidates for c in cands})
    index = {c: k for k, c in enumerate(unique)}
    with torch.no_grad():
        t = []
        for i in range(0, len(unique), batch_size):
            text = processor.tokenizer(unique[i:i + batch_size], padding=True, return_tensors="pt")
            t.append(text_embeddings(model, text.input_ids, text.attention_mask))
        t = torch.cat(t)  # (captions, P), unit length
        v = []
        for i in range(0, len(images), batch_size):
            pixels = processor(images=list(images[i:i + batch_size]), return_tensors="pt").pixel_values
            v.append(image_embeddings(model, pixels))
        v = torch.cat(v)  # (n, P), unit length
        scale = model.logit_scale.exp()
    return [(scale * v[i] @ t[[index[c] for c in cands]].T).numpy() for i, cands in enumerate(candidates)]


def retrieval(model, processor, images, scenes) -> dict:
    """Exact-caption retrieval among each scene's one-edit neighbours, and what went wrong.

    Returns ``{"exact": accuracy, "candidates": mean candidates per scene,
    "slot_<kind>": accuracy of the truth against the neighbours of that kind
    alone}`` (a slot is right when the truth beats all of its neighbours of
    that kind), and the looser gallery retrieval (:func:`gallery_retrieval`)
    as ``"gallery"`` and ``"gallery_size"``.
    """
    truths = [grammar.caption(s) for s in scenes]
    neighbours = [one_edit_neighbours(t) for t in truths]
    scores = similarities(model, processor, images, [[t] + [c for _, c in nb] for t, nb in zip(truths, neighbours)])
    exact = [float(s[0] > s[1:].max()) if len(s) > 1 else 1.0 for s in scores]
    per_slot: dict[str, list[float]] = {}
    for s, nb in zip(scores, neighbours):
        slots = np.array([k for k, _ in nb])
        for kind in dict.fromkeys(slots.tolist()):
            per_slot.setdefault(kind, []).append(float(s[0] > s[1:][slots == kind].max()))
    out = {"exact": float(np.mean(exact)), "candidates": float(np.mean([len(s) for s in scores]))}
    out.update({f"slot_{k}": float(np.mean(v)) for k, v in sorted(per_slot.items())})
    out["gallery"], out["gallery_size"] = gallery_retrieval(model, processor, images, scenes)
    return out


def gallery_retrieval(model, processor, images, scenes) -> tuple[float, float]:
    """Retrieval among the captions of the other given scenes with as many objects: ``(accuracy, mean candidates)``.

    The candidates of scene ``i`` are the distinct captions of every scene in
    ``scenes`` with ``len(scenes[i].objects)`` objects, its own included; a
    pick is right when it says what the truth says (``grammar.equivalent``).
    These candidates differ from the truth in several slots at once, so this
    is much easier than the one-edit retrieval above.
    """
    captions = [grammar.caption(s) for s in scenes]
    groups: dict[int, list[str]] = {}
    for s, c in zip(scenes, captions):
        groups.setdefault(len(s.objects), [])
        if c not in groups[len(s.objects)]:
            groups[len(s.objects)].append(c)
    candidates = [groups[len(s.objects)] for s in scenes]
    scores = similarities(model, processor, images, candidates)
    right = [grammar.equivalent(cands[int(s.argmax())], c) for s, cands, c in zip(scores, candidates, captions)]
    return float(np.mean(right)), float(np.mean([len(c) for c in candidates]))


def hard_negative_accuracy(model, processor, images, scenes) -> dict:
    """True caption vs each of its hard negatives, scored as pairs; per swap kind and overall.

    Returns ``{"all": accuracy, "<swap>": accuracy, "pairs_<swap>": count}``
    over every (scene, negative) pair; scenes whose caption has no hard
    negative (one object and at most one digit) are skipped. 0.5 is chance.
    """
    keep = [(im, grammar.caption(s)) for im, s in zip(images, scenes)]
    keep = [(im, t, grammar.hard_negatives(t)) for im, t in keep]
    keep = [k for k in keep if k[2]]
    candidates = [[t] + [n.caption for n in negs] for _, t, negs in keep]
    scores = similarities(model, processor, [k[0] for k in keep], candidates)
    by_kind: dict[str, list[float]] = {}
    for s, (_, _, negs) in zip(scores, keep):
        for value, neg in zip(s[1:], negs):
            by_kind.setdefault(neg.swap, []).append(float(s[0] > value))
    out = {"all": float(np.mean([x for v in by_kind.values() for x in v]))}
    for kind, v in sorted(by_kind.items()):
        out[kind] = float(np.mean(v))
        out[f"pairs_{kind}"] = len(v)
    return out


def glyph_reading(model, processor, images, scenes) -> dict:
    """Digit reading on 256-pixel canvases: from the corner tile, and from the canvas shrunk to the model's input.

    ``images`` are canvases (``canvas_world().sample``). For every digit:
    ``"tile"`` picks among the ten :func:`tile_caption` of its corner, given
    the 64-pixel corner tile; ``"downscaled"`` picks among the canvas's caption
    with that digit replaced by each of the ten, given the whole canvas (the
    processor shrinks it to the model's input). Returns both accuracies and
    ``"digits"``, the number of digits read. Chance is 0.1.
    """
    tiles, tile_cands, canvases, canvas_cands, truth = [], [], [], [], []
    for image, scene in zip(images, scenes):
        d = grammar.describe(scene)
        for (tile, glyph), k in zip(corner_tiles(image, scene), range(len(d.glyphs))):
            tiles.append(tile)
            tile_cands.append([tile_caption(digit, glyph.corner) for digit in DIGITS])
            canvases.append(image)
            variants = []
            for digit in DIGITS:
                glyphs = list(d.glyphs)
                glyphs[k] = (digit, d.glyphs[k][1])
                variants.append(grammar.Description(d.phrases, d.relation, tuple(glyphs)).text)
            canvas_cands.append(variants)
            truth.append(DIGITS.index(glyph.char))
    if not truth:
        raise ValueError("the scenes hold no digits; sample them from canvas_world()")
    truth = np.array(truth)
    tile_pred = np.array([s.argmax() for s in similarities(model, processor, tiles, tile_cands)])
    canvas_pred = np.array([s.argmax() for s in similarities(model, processor, canvases, canvas_cands)])
    return {"tile": float(np.mean(tile_pred == truth)), "downscaled": float(np.mean(canvas_pred == truth)),
            "digits": int(len(truth))}


def tower_probes(model, processor, *, fields=None, views=None, n_fit: int = 1200, n_test: int = 400,
                 seed: int | None = None, random_seed: int = 0) -> dict:
    """What the vision tower's layer -2 patch tokens hold, beside a random tower and chance.

    For each field (default ``vlmlab.toyvlm.PROBE_FIELDS``: colour, shape,
    size, digit) and view (default ``PROBE_VIEWS``: the 128-pixel scene
    shrunk to 64, and the 64-pixel tile at full resolution),
    ``vlmlab.toyvlm.tower_probe_references`` on ``model.vision_model``; digits
    sit anywhere in their corner. Returns ``{"probe_<field>_<view>": trained,
    "probe_<field>_<view>_random": random tower, "probe_<field>_<view>_chance": chance}``.
    ``seed`` defaults to ``vlmlab.toyvlm.EVAL_SEED``, far from every training seed.
    """
    from . import toyvlm

    out = {}
    for field in fields or toyvlm.PROBE_FIELDS:
        for view in views or toyvlm.PROBE_VIEWS:
            ref = toyvlm.tower_probe_references(model.vision_model, processor.image_processor, field, view,
                                                random_seed=random_seed, n_fit=n_fit, n_test=n_test,
                                                seed=toyvlm.EVAL_SEED if seed is None else seed)
            key = f"probe_{field}_{view}"
            out.update({key: ref["trained"], f"{key}_random": ref["random"], f"{key}_chance": ref["chance"]})
    return out


def probe_table(metrics: dict) -> str:
    """The ``probe_*`` numbers of :func:`tower_probes` (or :func:`evaluate`) as a text table, one row a probe."""
    keys = [k for k in metrics if k.startswith("probe_") and not k.endswith(("_random", "_chance"))]
    rows = [f"{'probe (layer -2 patch tokens)':<30}{'trained':>9}{'random':>9}{'chance':>9}"]
    rows += [f"{k[len('probe_'):]:<30}{metrics[k]:>9.2f}{metrics[k + '_random']:>9.2f}{metrics[k + '_chance']:>9.2f}"
             for k in keys]
    return "\n".join(rows)


def _load(model_dir):
    from transformers import CLIPModel, CLIPProcessor

    from .data import TOY_CLIP_2, toy_model_dir

    path = Path(model_dir) if model_dir is not None else toy_model_dir(TOY_CLIP_2)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"model_dir {str(path)!r} holds no checkpoint (no config.json); "
                                "train one with `python -m vlmlab.training toy-clip-2 train`")
    return CLIPModel.from_pretrained(path).eval(), CLIPProcessor.from_pretrained(path)


def evaluate(model_dir=None, *, n: int = 500, seed: int = EVAL_SEED, model=None, processor=None, log=print,
             probes: bool = False) -> dict:
    """Every measurement above on fresh scenes; returns a flat dict of numbers.

    Loads ``model_dir`` (default ``data/toy-clip-2``) unless ``model`` and
    ``processor`` are given. Draws ``n`` scenes of each kind from seeds
    ``seed`` (64-pixel training split), ``seed + 1`` (64-pixel held-out split)
    and ``seed + 2`` (256-pixel canvases). Keys: ``seen_*`` and ``heldout_*``
    (:func:`retrieval`), ``hardneg_*`` (:func:`hard_negative_accuracy`, seen
    split), ``glyph_tile``, ``glyph_downscaled``, ``glyph_digits``
    (:func:`glyph_reading`), ``n``, ``seed``, ``eval_seconds``; with ``probes``
    also the ``probe_*`` keys of :func:`tower_probes`.
    """
    if model is None or processor is None:
        model, processor = _load(model_dir)
    start = time.perf_counter()
    world, canvas = scene_world(), canvas_world()
    metrics: dict = {"n": n, "seed": seed}
    seen_images, seen = world.sample(n, seed=seed, split="train")
    metrics.update({f"seen_{k}": v for k, v in retrieval(model, processor, seen_images, seen).items()})
    held_images, held = world.sample(n, seed=seed + 1, split="heldout")
    metrics.update({f"heldout_{k}": v for k, v in retrieval(model, processor, held_images, held).items()})
    metrics.update({f"hardneg_{k}": v for k, v in hard_negative_accuracy(model, processor, seen_images, seen).items()})
    canvas_images, canvases = canvas.sample(n, seed=seed + 2)
    metrics.update({f"glyph_{k}": v for k, v in glyph_reading(model, processor, canvas_images, canvases).items()})
    if probes:
        metrics.update(tower_probes(model, processor))
    metrics["eval_seconds"] = round(time.perf_counter() - start, 1)
    log(summary(metrics))
    if probes:
        log(probe_table(metrics))
    return metrics


def summary(metrics: dict) -> str:
    """The headline numbers of :func:`evaluate` in one line."""
    keys = [("seen_exact", "exact caption, seen"), ("heldout_exact", "held-out"), ("hardneg_all", "hard negatives"),
            ("hardneg_relation", "relation swaps"), ("glyph_tile", "digits from tiles"),
            ("glyph_downscaled", "digits downscaled")]
    return ", ".join(f"{name} {metrics[k]:.1%}" for k, name in keys if k in metrics)


# -------------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vlmlab.sceneclip", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_eval = sub.add_parser("evaluate", help="the measured numbers on fresh scenes")
    p_eval.add_argument("--model", default=None, help="checkpoint folder (default data/toy-clip-2)")
    p_eval.add_argument("--n", type=int, default=500)
    p_eval.add_argument("--seed", type=int, default=EVAL_SEED)
    p_eval.add_argument("--threads", type=int, default=2)
    p_eval.add_argument("--probes", action="store_true",
                        help="also probe the layer -2 patch tokens, beside a random tower and chance")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)  # a command owns its process; a library function leaves threads alone
    metrics = evaluate(args.model, n=args.n, seed=args.seed, probes=args.probes)
    print(json.dumps(metrics, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
