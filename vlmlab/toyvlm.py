"""The toy VLMs: a toy LLaVA-1.5 and a toy LLaVA-NeXT that answer questions about scenes.

Both are ``transformers`` models of the very classes real LLaVA checkpoints
load into (``LlavaForConditionalGeneration``, ``LlavaNextForConditionalGeneration``),
made of three parts:

* **vision tower**: toy CLIP 2's vision transformer (``data/toy-clip-2``,
  64-pixel input, patch 8), fine-tuned on close-ups of digits after the
  second training stage (``vlmlab.training.toyvlm``); the language model
  reads its penultimate layer (``hidden_states[-2]``) without the CLS token;
* **projector**: LLaVA-1.5's ``mlp2x_gelu``, ``Linear -> GELU -> Linear``
  from the tower's width 128 to the language model's width;
* **language model**: a tiny ``LlamaForCausalLM`` whose vocabulary is the
  words of ``vlmlab.grammar`` plus special and chat tokens.

The scenes are ShapesWorld 2 drawn at 128 pixels (:func:`world`) with a digit
5 pixels tall in each corner. The LLaVA-1.5 toy sees one 64-pixel
view of the whole canvas (64 image tokens), where a digit is about 2 pixels
tall. The LLaVA-NeXT toy also sees the four 64-pixel tiles of the canvas at
full resolution (``PINPOINTS`` are LLaVA-NeXT's, scaled from 336 to 64), so
336 image tokens: 64 for the base view, 16 rows of 16 tile tokens, and one
``image_newline`` at the end of each row.

Load a model and ask it something::

    model, processor = load("llava")                 # or "llava-next"
    ask(model, processor, image, "what colour is the square?")   # -> 'red'

The tokenizer is word-level: a word it does not know becomes ``<unk>``, and
the model still answers (greedily, so the same answer every time); nothing
guarantees that answer is sensible. :func:`unknown_words` lists such words.

``python -m vlmlab.toyvlm evaluate`` measures both models on fresh scenes;
``python -m vlmlab.training toy-vlm train`` retrains them (``vlmlab.training.toyvlm``).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from . import grammar, sceneclip
from ._validate import as_int_in_range, as_seed, check_choice
from .data import TOY_CLIP_2, TOY_LLAVA, TOY_LLAVA_NEXT, toy_model_dir
from .scenes import SceneWorld

__all__ = ["KINDS", "STAGES", "CANVAS_SIZE", "TILE_SIZE", "PINPOINTS", "GLYPH_CELL", "EVAL_SEED", "INSTRUCTION", "MAX_QUESTION_WORDS",
           "world", "one_object_world", "tile_holding", "model_dir", "load", "prompt", "unknown_words", "ask", "answer", "blank_image",
           "conversation", "answer_labels", "encode", "embeds_with_image_slots", "caption_word_accuracy", "image_attention",
           "PROBE_FIELDS", "PROBE_VIEWS", "PROBE_PLACEMENTS", "free_digit_world", "probe_chance", "random_tower_like",
           "tower_probe", "tower_probe_references", "evaluate", "main"]

KINDS = ("llava", "llava-next")
STAGES = ("untrained", "stage1", "final")  # projector at initialisation; after feature alignment; after instruction tuning
CANVAS_SIZE = 128  # the scenes the toy VLMs are asked about
TILE_SIZE = 64  # toy CLIP 2's input: LLaVA-NeXT's tiles and base view
# LLaVA-NeXT's grid pinpoints ([[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]) scaled to 64-pixel tiles.
PINPOINTS = [[64, 128], [128, 64], [128, 128], [192, 64], [64, 192]]
# A digit sits in the middle of one patch of the tile that holds it, always at the same place, which keeps the
# translation invariance a tower may lack out of the tiling experiment, which is about resolution: shrunk to 64
# pixels with its canvas, the same digit is 2.5 pixels tall. A digit so placed is readable by a linear probe even
# on the tokens of a *random* tower (each digit lights the same pixels of one patch), so tower_probe places digits
# anywhere in their corner by default (placement="free"), where a random tower is near chance.
GLYPH_CELL = sceneclip.ARCH["patch_size"]
EVAL_SEED = 2_000_000_011  # evaluation scenes; training seeds stay below 10**9 (vlmlab.training.toyvlm)
INSTRUCTION = "describe the image"  # the stage-1 request, answered with the scene's caption
MAX_QUESTION_WORDS = 32
_FOLDERS = {"llava": TOY_LLAVA, "llava-next": TOY_LLAVA_NEXT}  # kind -> toy model in vlmlab.data


def world(max_objects: int = 4) -> SceneWorld:
    """ShapesWorld 2 at 128 pixels: 1 to ``max_objects`` objects, and a digit 5×3 pixels (scale 1) in every
    corner, centred in a cell of toy CLIP 2's 8-pixel patch grid (``GLYPH_CELL``). Every corner holds a digit,
    so "what digit is at the top left?" is answered only by looking at the top left: naming any digit in the
    picture is right about a quarter of the time (more when digits repeat)."""
    return SceneWorld(CANVAS_SIZE, max_objects=max_objects, min_glyphs=4, max_glyphs=4, glyph_scale=1,
                      glyph_cell=GLYPH_CELL)


def one_object_world() -> SceneWorld:
    """:func:`world` with one object per scene: no second object can be mistaken for the one asked about."""
    return world(max_objects=1)


def model_dir(kind: str = "llava", check: bool = True) -> Path:
    """The shipped folder of a toy VLM: ``data/toy-llava`` or ``data/toy-llava-next`` (``vlmlab.data.toy_model_dir``).

    With ``check`` (default), a missing folder raises ``vlmlab.data.DataNotFoundError``, which says where it looked.
    """
    check_choice(kind, KINDS, "kind")
    return toy_model_dir(_FOLDERS[kind], check=check)


def load(kind: str = "llava", stage: str = "final", folder=None, **kwargs):
    """Load a toy VLM and its processor: ``(model, processor)``, the model in eval mode.

    Args:
        kind: ``"llava"`` (``LlavaForConditionalGeneration`` + ``LlavaProcessor``)
            or ``"llava-next"`` (``LlavaNextForConditionalGeneration`` + ``LlavaNextProcessor``).
        stage: ``"final"`` (fully trained), ``"stage1"`` (the projector
            after feature alignment; the language model as pretrained on text and
            toy CLIP 2's tower, both as they were before stage 2 and the close-ups) or ``"untrained"``
            (the projector at its initialisation; the same language model and tower).
        folder: a checkpoint folder to load instead of the shipped one.
        **kwargs: passed to ``from_pretrained`` (e.g. ``attn_implementation="eager"``
            for attention weights).
    """
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor

    check_choice(kind, KINDS, "kind")
    check_choice(stage, STAGES, "stage")
    folder = Path(folder) if folder is not None else model_dir(kind)
    if not (folder / "config.json").exists():
        raise FileNotFoundError(f"no toy VLM in {str(folder)!r}; train it with "
                                f"`python -m vlmlab.training toy-vlm train --kind {kind}`")
    model = AutoModelForImageTextToText.from_pretrained(folder, **kwargs)
    processor = AutoProcessor.from_pretrained(folder)
    if stage != "final":
        # Before instruction tuning: toy CLIP 2's vision tower as it was (the close-ups fine-tune it), the
        # text-only language model, and the projector saved after stage 1 (or at initialisation).
        from transformers import CLIPModel

        from .clip import vision_tower

        clip = CLIPModel.from_pretrained(toy_model_dir(TOY_CLIP_2))
        vision_tower(model.model.vision_tower).load_state_dict(clip.vision_model.state_dict())
        stages = _stages_folder(folder)
        lm = AutoModelForCausalLM.from_pretrained(stages / "lm")
        model.model.language_model.load_state_dict(lm.model.state_dict())
        model.lm_head.load_state_dict(lm.lm_head.state_dict())
        projector = load_file(stages / f"projector-{stage}.safetensors")
        model.model.multi_modal_projector.load_state_dict(projector)
    model.eval()
    return model, processor


def _stages_folder(folder: Path) -> Path:
    """Where a model's ``stages/`` are: its own, or the toy LLaVA-1.5's beside it.

    The two toys share every step before their last (``vlmlab.training.toyvlm``), so the
    LLaVA-NeXT toy's language model and projectors before stage 2 are the LLaVA-1.5 toy's files.
    """
    for candidate in (folder / "stages", folder.parent / _FOLDERS["llava"] / "stages"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no stages/ folder in {str(folder)!r} or beside it in {_FOLDERS['llava']!r}")


def prompt(processor, question: str | None = None, image: bool = True) -> str:
    """The chat text for one question, ending where the assistant's answer starts.

    ``"USER: <image> what colour is the square ? ASSISTANT:"``: the processor's
    chat template, as LLaVA-1.5 formats its conversations. ``question=None`` asks
    for a caption (``INSTRUCTION``, the stage-1 request).
    """
    content = ([{"type": "image"}] if image else []) + [{"type": "text", "text": question or INSTRUCTION}]
    return processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)


def unknown_words(processor, question: str) -> list[str]:
    """The words of ``question`` that the tokenizer turns into ``<unk>`` (lower-cased, "?" split off)."""
    vocab = processor.tokenizer.get_vocab()
    return [w for w in re.findall(r"\w+|[^\w\s]", question.lower()) if w not in vocab]


def _check_question(question) -> str:
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, got {type(question).__name__}")
    words = question.split()
    if not words:
        raise ValueError("question is empty; ask e.g. 'what colour is the square?'")
    if len(words) > MAX_QUESTION_WORDS:
        raise ValueError(f"question has {len(words)} words; the toy VLMs read at most {MAX_QUESTION_WORDS}")
    return question


def blank_image(size: int = CANVAS_SIZE) -> np.ndarray:
    """An image with no scene in it, the background grey only: ``(size, size, 3)`` uint8. The language-prior control."""
    from .scenes import BACKGROUND

    return np.full((size, size, 3), BACKGROUND, dtype=np.uint8)


def _as_image(image):
    """A PIL image or an ``(H, W, 3)`` uint8 array (a rendered scene) → RGB PIL image, by ``preprocess.to_rgb``'s rules."""
    from PIL import Image

    from .preprocess import to_rgb

    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"an image array must be (height, width, 3) uint8, got {image.shape} {image.dtype}")
        image = Image.fromarray(image)
    return to_rgb(image, "image")


def answer(model, processor, images, questions, max_new_tokens: int = 4, batch_size: int = 32) -> list[str]:
    """Greedy answers to ``questions[i]`` about ``images[i]``: a list of strings.

    ``images``: PIL images or ``(H, W, 3)`` uint8 arrays (any size: the processor
    resizes, and LLaVA-NeXT tiles); ``questions``: strings of at most
    ``MAX_QUESTION_WORDS`` words. A batch is left-padded so that every answer
    starts right after its own prompt (the processor is asked for left padding
    in the call; its tokenizer's ``padding_side`` is left as it was).
    """
    import torch

    images = [_as_image(im) for im in images]
    questions = [_check_question(q) for q in questions]
    if len(images) != len(questions):
        raise ValueError(f"got {len(images)} images and {len(questions)} questions; ask one question per image")
    out = []
    for i in range(0, len(images), batch_size):
        texts = [prompt(processor, q) for q in questions[i:i + batch_size]]
        inputs = processor(images=images[i:i + batch_size], text=texts, return_tensors="pt", padding=True,
                           padding_side="left")
        with torch.no_grad():
            ids = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=processor.tokenizer.pad_token_id)
        new = ids[:, inputs["input_ids"].shape[1]:]
        out += [s.strip() for s in processor.batch_decode(new, skip_special_tokens=True)]
    return out


def ask(model, processor, image, question: str, max_new_tokens: int = 4) -> str:
    """The model's answer to one ``question`` about one ``image``, e.g. ``'red'``."""
    return answer(model, processor, [image], [question], max_new_tokens=max_new_tokens)[0]


# ------------------------------------------------------------------ conversations and the loss LLaVA trains on
def conversation(turns, image: bool = True) -> list[dict]:
    """Chat messages for ``turns`` = ``[(question, answer), ...]``, the image in the first user turn."""
    messages = []
    for i, (q, a) in enumerate(turns):
        content = ([{"type": "image"}] if image and i == 0 else []) + [{"type": "text", "text": q}]
        messages += [{"role": "user", "content": content},
                     {"role": "assistant", "content": [{"type": "text", "text": a}]}]
    return messages


def answer_labels(input_ids, tokenizer):
    """``(B, L)`` labels: ``input_ids`` where the assistant speaks (its words and ``</s>``), -100 elsewhere.

    LLaVA's loss counts only the answers: the prompt, the image tokens and the
    user's words are context, not targets (-100 is what cross-entropy ignores).
    """
    import torch

    start = tokenizer.convert_tokens_to_ids("ASSISTANT:")
    stop = {tokenizer.convert_tokens_to_ids("USER:"), tokenizer.pad_token_id}
    labels = torch.full_like(input_ids, -100)
    for row in range(input_ids.shape[0]):
        speaking = False
        for j, t in enumerate(input_ids[row].tolist()):
            if t == start:
                speaking = True
            elif t in stop:
                speaking = False
            elif speaking:
                labels[row, j] = t
    return labels


def encode(processor, messages_batch, images=None):
    """Processor inputs for a batch of conversations, right-padded, with ``labels`` for the answers.

    ``images``: one image per conversation (PIL or ``(H, W, 3)`` uint8), or None for text only.
    The tokenizer's own ``padding_side`` is left as it was.
    """
    texts = [processor.apply_chat_template(m) for m in messages_batch]
    if images is None:
        inputs = processor.tokenizer(texts, return_tensors="pt", padding=True, padding_side="right")
    else:
        inputs = processor(images=[_as_image(im) for im in images], text=texts, return_tensors="pt", padding=True,
                           padding_side="right")
    inputs["labels"] = answer_labels(inputs["input_ids"], processor.tokenizer)
    return inputs


def embeds_with_image_slots(model, processor, input_ids, vectors):
    """The model's input embeddings of ``input_ids (B, L)`` with ``vectors (n, D)`` in the ``<image>`` tokens' places,
    in order (row-major over the batch), as ``LlavaModel`` puts projected image features there. ``(B, L, D)``.

    What LLaVA's projector writes into the image slots can be replaced by anything of the right width: a word map,
    the tokens of another scene, zeros. Gradients flow into both the embeddings and ``vectors``.
    """
    slots = input_ids == processor.tokenizer.convert_tokens_to_ids(processor.tokenizer.image_token)
    if int(slots.sum()) != vectors.shape[0]:
        raise ValueError(f"{int(slots.sum())} image slots for {vectors.shape[0]} vectors")
    embeds = model.get_input_embeddings()(input_ids)
    return embeds.masked_scatter(slots[..., None], vectors.to(embeds.dtype))


def caption_word_accuracy(model, processor, images, scenes, batch_size: int = 16, image_slots=None) -> dict:
    """How often the model predicts each image-dependent word of the true caption, given the words before it.

    Teacher forcing: the prompt "describe the image" and the true caption go
    in; at every caption word that states a colour, shape, size, count,
    relation or digit (``grammar.CAPTION_SLOTS``, as the grammar tags it:
    ``Description.tagged``), the model's most likely next token is compared
    with the word. Stage 1 trains exactly this, so this is its measure. Words
    the grammar fixes ("the digit", "at the top left") are not counted.
    Returns ``{slot: fraction}`` for the slots the captions hold, plus ``"all"``.

    ``image_slots``: a function ``(scenes) -> (n_slots, D)`` giving, instead of
    the image, the vectors to put in the image tokens' places (e.g. the word maps
    of ``vlmlab.training.toyvlm.word_map``); ``model`` is then the language model
    alone and ``images`` may be None.
    """
    import torch

    if image_slots is not None:
        images = [blank_image()] * len(scenes)  # the processor still writes the image tokens; their vectors are replaced
    hits: dict[str, list[bool]] = {k: [] for k in grammar.CAPTION_SLOTS}
    vocab = processor.tokenizer.convert_ids_to_tokens
    for i in range(0, len(scenes), batch_size):
        descriptions = [grammar.describe(s) for s in scenes[i:i + batch_size]]
        msgs = [conversation([(INSTRUCTION, d.text)]) for d in descriptions]
        inputs = encode(processor, msgs, images[i:i + batch_size])
        labels = inputs.pop("labels")
        with torch.no_grad():
            if image_slots is None:
                predicted = model(**inputs).logits.argmax(-1)
            else:
                embeds = embeds_with_image_slots(model, processor, inputs["input_ids"], image_slots(scenes[i:i + batch_size]))
                predicted = model(inputs_embeds=embeds, attention_mask=inputs["attention_mask"]).logits.argmax(-1)
        for row, description in enumerate(descriptions):
            spoken = (labels[row] >= 0).nonzero().flatten().tolist()   # the caption's words, then </s>
            for j, (word, slot) in zip(spoken, description.tagged):
                if vocab(int(labels[row, j])) != word:
                    raise ValueError(f"the tokenizer split the caption word {word!r}: caption_word_accuracy needs "
                                     "the toy VLMs' word-level tokenizer, one token per word")
                if slot is not None:
                    hits[slot].append(bool(predicted[row, j - 1] == labels[row, j]))
    result = {k: float(np.mean(v)) for k, v in hits.items() if v}
    result["all"] = float(np.mean([h for v in hits.values() for h in v]))
    return result


def image_attention(model, processor, image, question: str) -> np.ndarray:
    """Where the first answer token looks: attention from the last prompt position to each image token.

    Averaged over heads and layers of the language model (load the model with
    ``attn_implementation="eager"``, which returns attention weights). For the
    LLaVA-1.5 toy the 64 image tokens are returned as an ``(8, 8)`` grid over
    the picture; each value is a share of that position's whole attention,
    so the grid sums to the share the image gets (the rest goes to text).
    """
    import torch

    if model.config.model_type != "llava":
        raise ValueError("image_attention draws the single-view LLaVA-1.5 toy; the tiled model's 336 tokens "
                         "do not form one grid")
    _check_question(question)
    inputs = processor(images=[_as_image(image)], text=[prompt(processor, question)], return_tensors="pt")
    with torch.no_grad():
        out = model(**inputs, output_attentions=True)
    if not out.attentions or out.attentions[0] is None:  # SDPA returns no weights
        raise ValueError('no attention weights: load the model with attn_implementation="eager"')
    weights = torch.stack([a[0, :, -1] for a in out.attentions]).mean(dim=(0, 1))  # (L,) over keys
    is_image = inputs["input_ids"][0] == model.config.image_token_index
    from .attention import to_grid

    return to_grid(weights[is_image]).numpy()


PROBE_FIELDS = ("colour", "shape", "size", "digit")
PROBE_VIEWS = ("single", "tile")
PROBE_PLACEMENTS = ("free", "cell")  # a digit anywhere in its corner, or centred in one patch cell (world())


def free_digit_world() -> SceneWorld:
    """:func:`world` with each digit anywhere in its corner square instead of centred in a patch cell."""
    return SceneWorld(CANVAS_SIZE, min_glyphs=4, max_glyphs=4, glyph_scale=1)


def probe_chance(field: str) -> float:
    """The accuracy of a guess on :func:`tower_probe`'s ``field``: one over its number of classes."""
    from .glyphs import DIGITS
    from .scenes import SCENE_SHAPES, SIZE_FRACTIONS
    from .shapes import COLOURS

    check_choice(field, PROBE_FIELDS, "field")
    return 1.0 / len({"colour": COLOURS, "shape": SCENE_SHAPES, "size": SIZE_FRACTIONS, "digit": DIGITS}[field])


def random_tower_like(tower, seed: int = 0):
    """A randomly initialised vision tower of the same shape and class as ``tower``: the floor a probe stands on.

    ``tower`` is a ``CLIPVisionModel`` (a toy VLM's ``model.model.vision_tower``)
    or a ``CLIPVisionTransformer`` (``CLIPModel.vision_model``); the copy is
    initialised as ``transformers`` initialises a new ``CLIPVisionModel`` from
    ``tower.config``, with ``torch`` seeded by ``seed`` (the caller's random
    state is left as it was), and put in eval mode.
    """
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = getattr(tower, "config", None)
    if not isinstance(config, CLIPVisionConfig):
        raise TypeError(f"tower must be a CLIP vision tower (CLIPVisionModel or CLIPModel.vision_model), "
                        f"got {type(tower).__name__}")
    seed = as_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = CLIPVisionModel(config)
    fresh = fresh if isinstance(tower, CLIPVisionModel) else fresh.vision_model
    return fresh.eval()


def tile_holding(image: np.ndarray, box) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The 64-pixel tile of a 128-pixel scene (LLaVA-NeXT's grid) that holds the centre of ``box``, at full
    resolution: ``(tile (64, 64, 3), box in the tile's pixels, clipped to it)``. ``box``: ``(top, left, bottom, right)``."""
    cy, cx = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
    top, left = (cy // TILE_SIZE) * TILE_SIZE, (cx // TILE_SIZE) * TILE_SIZE
    tile = image[top:top + TILE_SIZE, left:left + TILE_SIZE]
    return tile, (max(box[0] - top, 0), max(box[1] - left, 0), min(box[2] - top, TILE_SIZE), min(box[3] - left, TILE_SIZE))


def _probe_examples(field: str, view: str, n: int, seed: int, source: SceneWorld | None = None,
                    placement: str = "cell"):
    """``n`` probe examples: ``(views (n, 64, 64, 3) or (n, 128, 128, 3), boxes in view pixels, labels)``.

    Without ``source``, digits come from :func:`world` (``placement="cell"``) or :func:`free_digit_world`."""
    from .glyphs import DIGITS
    from .scenes import SCENE_SHAPES, SIZE_FRACTIONS
    from .shapes import COLOURS

    classes = {"colour": list(COLOURS), "shape": list(SCENE_SHAPES), "size": list(SIZE_FRACTIONS),
               "digit": list(DIGITS)}[field]
    if source is None:
        source = one_object_world() if field != "digit" else world() if placement == "cell" else free_digit_world()
    images, scenes = source.sample(n, seed=seed)
    views, boxes, labels = [], [], []
    for image, scene in zip(images, scenes):
        things = scene.glyphs if field == "digit" else scene.objects[:1]
        for thing in things:
            box = thing.box
            if view == "tile":
                image_view, box = tile_holding(image, box)
            else:
                image_view = image
            value = thing.char if field == "digit" else getattr(thing, field)
            views.append(image_view)
            boxes.append(box)
            labels.append(classes.index(value))
    return np.stack(views[:n]), boxes[:n], np.array(labels[:n])


def tower_probe(tower, image_processor, field: str = "shape", view: str = "single", n_fit: int = 1200,
                n_test: int = 400, seed: int = EVAL_SEED, layer: int = -2, world: SceneWorld | None = None,
                placement: str = "free") -> float:
    """How much of ``field`` a vision tower's patch features hold, read by a straight line.

    For each example (one object of a one-object scene, or one digit), the
    tower's ``hidden_states[layer]`` patch tokens (CLS dropped, as the toy
    VLMs read them) are averaged over the patches the thing's box touches,
    and a closed-form linear classifier (``vlmlab.probes.linear_probe``)
    fitted on ``n_fit`` examples is scored on ``n_test`` fresh ones.

    Args:
        tower: a CLIP vision tower (``model.model.vision_tower`` of a toy VLM,
            or ``CLIPModel.vision_model``).
        image_processor: its ``CLIPImageProcessor`` (``processor.image_processor``).
        field: ``"colour"``, ``"shape"``, ``"size"`` or ``"digit"``.
        view: ``"single"``: the 128-pixel scene shrunk to 64, as LLaVA-1.5
            sees it; ``"tile"``: the 64-pixel quadrant at full resolution
            that holds the thing, as LLaVA-NeXT's tiles show it.
        world: the 128-pixel ``SceneWorld`` to draw from; default
            :func:`one_object_world` (the first object of each scene is the
            one probed), and for digits the world ``placement`` names.
        placement: where digits sit when ``world`` is not given: ``"free"``
            (default, :func:`free_digit_world`): anywhere in their corner, a
            test that a random tower fails; ``"cell"`` (:func:`world`, what
            the toy VLMs see): centred in one patch cell, always the same
            pixels of one patch, which a linear probe reads even on a random
            tower's tokens.

    Returns the test accuracy (chance: :func:`probe_chance`; a random tower of
    the same shape: :func:`tower_probe_references`). The examples are drawn
    from ``seed`` and ``seed + 1`` (fitting and test): the same arguments give
    the same number.
    """
    import torch

    from .attention import box_coverage
    from .patches import token_grid
    from .probes import linear_probe

    check_choice(field, PROBE_FIELDS, "field")
    check_choice(view, PROBE_VIEWS, "view")
    check_choice(placement, PROBE_PLACEMENTS, "placement")
    n_fit = as_int_in_range(n_fit, "n_fit", 20, 100_000)
    n_test = as_int_in_range(n_test, "n_test", 20, 100_000)
    seed = as_seed(seed)
    if world is not None and not (isinstance(world, SceneWorld) and world.canvas_size == (CANVAS_SIZE, CANVAS_SIZE)):
        raise ValueError(f"world must be a SceneWorld of {CANVAS_SIZE}x{CANVAS_SIZE} pixels, got {world!r}")
    if world is not None and field == "digit" and not world.max_glyphs:
        raise ValueError(f"world draws no digits (max_glyphs=0): nothing to probe for field 'digit'")

    def features(n, s):
        images, boxes, labels = _probe_examples(field, view, n, s, world, placement)
        pixels = image_processor(images=list(images), return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            tokens = tower(pixel_values=pixels, output_hidden_states=True).hidden_states[layer][:, 1:]
        grid = token_grid(tokens.shape[1])  # (rows, cols) of the square patch grid
        pooled = [tokens[k][box_coverage([box], images.shape[1:3], grid) > 0].mean(0) for k, box in enumerate(boxes)]
        return torch.stack(pooled), labels

    fit_x, fit_y = features(n_fit, seed)
    test_x, test_y = features(n_test, seed + 1)
    return linear_probe(fit_x, fit_y, test_x, test_y)


def tower_probe_references(tower, image_processor, field: str = "shape", view: str = "single", *,
                           random_seed: int = 0, **probe) -> dict:
    """:func:`tower_probe` beside its floors: ``{"trained": ..., "random": ..., "chance": ...}``.

    ``"random"`` is the same probe on :func:`random_tower_like` ``(tower, random_seed)``,
    ``"chance"`` is :func:`probe_chance`; ``probe`` passes on to :func:`tower_probe`
    (``n_fit``, ``n_test``, ``seed``, ``layer``, ``world``, ``placement``). A
    number means something only where it stands well above both.
    """
    return {"trained": tower_probe(tower, image_processor, field, view, **probe),
            "random": tower_probe(random_tower_like(tower, random_seed), image_processor, field, view, **probe),
            "chance": probe_chance(field)}


def _eval_set(n: int, seed: int, kinds=None):
    """``n`` fresh scenes and every question about them: ``(images, scenes, [(scene index, Question)])``."""
    images, scenes = world().sample(n, seed=seed)
    items = [(i, q) for i, s in enumerate(scenes) for q in grammar.questions(s) if kinds is None or q.kind in kinds]
    return images, scenes, items


def evaluate(model, processor, n: int = 200, seed: int = EVAL_SEED, kinds=None, blank: bool = False,
             return_answers: bool = False) -> dict:
    """Answer accuracy by question kind on ``n`` fresh scenes: ``{kind: fraction}`` plus ``"all"``.

    Every question of ``vlmlab.grammar.questions`` is asked about each scene
    (``kinds`` keeps only some kinds); an answer counts when it equals the
    truth exactly. ``blank=True`` shows the model a blank image instead of the
    scene, with the same questions: what the language prior alone gets right.
    """
    n = as_int_in_range(n, "n", 1, 100_000)
    seed = as_seed(seed)
    images, scenes, items = _eval_set(n, seed, kinds)
    shown = [blank_image() if blank else images[i] for i, _ in items]
    said = answer(model, processor, shown, [q.text for _, q in items])
    right: dict[str, list[bool]] = {}
    for (_, q), a in zip(items, said):
        right.setdefault(q.kind, []).append(a == q.answer)
    result = {k: float(np.mean(v)) for k, v in sorted(right.items())}
    result["all"] = float(np.mean([a == q.answer for (_, q), a in zip(items, said)]))
    result["questions"] = len(items)
    if return_answers:
        result["answers"] = [(i, q, a) for (i, q), a in zip(items, said)]
    return result


def main(argv=None) -> int:
    """``python -m vlmlab.toyvlm evaluate``: answer accuracy by question kind on fresh scenes."""
    parser = argparse.ArgumentParser(prog="python -m vlmlab.toyvlm", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="answer accuracy by question kind on fresh scenes")
    ev.add_argument("--kind", choices=KINDS, default="llava")
    ev.add_argument("--stage", choices=STAGES, default="final")
    ev.add_argument("--scenes", type=int, default=200)
    ev.add_argument("--blank", action="store_true", help="show a blank image instead of each scene")
    args = parser.parse_args(argv)
    model, processor = load(args.kind, args.stage)
    print(json.dumps(evaluate(model, processor, n=args.scenes, blank=args.blank), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
