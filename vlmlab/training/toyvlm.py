"""Training the toy VLMs on a CPU: a text-only language model, then LLaVA's two stages.

1. **Language model** (``pretrain_lm``): a tiny ``LlamaForCausalLM`` learns the
   world's language from text alone: captions, and questions with their
   answers but no image. It knows what an answer looks like ("red", "two"),
   not which one is true: that is the language prior. Half of its batches are
   also *word maps* (``word_map``): the image slots of a conversation hold,
   instead of image features, the embeddings of the words that describe what
   lies under each patch ("small" + "red" + "cross" where a small red cross is,
   the digit where a digit is, zeros elsewhere). The language model learns to
   read a picture made of its own word embeddings, so stage 1 has a target it
   can reach: translate the tower's patch tokens into that space. This is
   LLaVA's stage-1 intuition (the projector maps image features into the
   word-embedding space of a frozen LM), made trainable at this size.
2. **Stage 1, feature alignment** (``train_stage(..., "stage1")``): the vision
   tower and the language model are frozen; only the projector (and
   LLaVA-NeXT's ``image_newline``) learns, on "describe the image" -> the
   scene's caption (LLaVA: Liu et al. 2023, https://arxiv.org/abs/2304.08485;
   LLaVA-1.5: Liu et al. 2023, https://arxiv.org/abs/2310.03744).
3. **Stage 2, instruction tuning** (``train_stage(..., "stage2")``): the
   projector and the language model learn together, the vision tower frozen
   as in LLaVA-1.5, on conversations of questions and answers about each
   scene (``vlmlab.grammar.questions``), several turns per image as in
   LLaVA's instruction data. Digit questions are left out: in the single view
   a digit is 2.5 pixels tall, so their answers could only teach the prior.
   Half of the conversations also ask for a description (the caption), as
   LLaVA-1.5's mixture keeps its captioning data, so that describing does not
   collapse while answering is learned.
4. **Close-ups** (``train_stage(..., "closeups")``): projector, language model
   and the vision tower (at ``TOWER_LR_SCALE`` of the rate), on one digit
   question each about the 64-pixel tile that holds the digit, at full
   resolution: the language model learns to name a digit the tower can see.
5. **Views** (``train_stage(..., "views")``): projector and language model,
   the tower fixed, on conversations of every digit question about a scene
   and a few others, once in each toy's own views (``train_and_publish``).

The loss is next-token cross-entropy on the assistant's words only (the
prompt, the image tokens and the user's words are masked with ``-100``),
as in LLaVA.

Seeds: the batch ``k`` of part ``p`` (0: language model, 1: stage 1,
2: stage 2, 3: close-ups, 4: the last part, on each toy's views) draws its scenes with seed
``5 * (seed * 10**6 + k) + p``, below ``10**9`` for any seed under 200; evaluation (``vlmlab.toyvlm.EVAL_SEED``)
uses seeds above ``10**9``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .. import grammar, toyvlm
from ..clip import vision_tower
from ..data import TOY_CLIP_2, toy_model_dir
from .cards import percent, render as render_template
from .checkpoints import publish, staging_folder
from .toyclip import learning_rate

__all__ = ["SPECIAL_TOKENS", "EXTRA_WORDS", "CHAT_TEMPLATE", "LM_ARCH", "STEPS", "BATCH", "LR", "TOWER_LR_SCALE", "EVAL_SCENES",
           "build_tokenizer", "lm_config",
           "build_lm", "build_processor", "build_model", "word_map_cells", "word_map", "pretrain_lm", "train_stage",
           "train_and_publish"]

SPECIAL_TOKENS = ["<pad>", "<unk>", "<s>", "</s>", "<image>", "USER:", "ASSISTANT:"]
EXTRA_WORDS = ("describe", "image")  # the stage-1 instruction's words that captions and questions don't use
# LLaVA-1.5's conversation format ("USER: <image>\n... ASSISTANT: ...</s>"), with a space for the newline.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}{{ 'USER:' }}"
    "{% if m['content'] is string %}{{ ' ' + m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}{{ ' <image>' }}{% else %}{{ ' ' + c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{ ' ' }}"
    "{% else %}{{ 'ASSISTANT:' }}"
    "{% if m['content'] is string %}{{ ' ' + m['content'] }}{% else %}{{ ' ' + m['content'][0]['text'] }}{% endif %}"
    "{{ '</s> ' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
LM_ARCH = dict(hidden_size=128, num_hidden_layers=3, num_attention_heads=4, intermediate_size=384)
# Steps of each part, as trained for the shipped models (batch: BATCH scenes or texts). "views" is the
# last part of stage 2, run twice from the same weights: once on the single view (toy LLaVA-1.5), once on
# LLaVA-NeXT's tiles (toy LLaVA-NeXT), with the same batches.
# The language model needs about 1000 steps before it reads word maps at all (trial: a perfect word map gave
# shape words 0.23 after 500 steps, 0.93 after 1000, 0.94 after 1500). With a tower whose patch tokens hold digits, the
# close-ups' loss was 0.003 by step 300 of 400 (trial run), so 200 suffice and the rest went to stage 2.
STEPS = {"lm": 1500, "stage1": 300, "stage2": 2600, "closeups": 200, "views": 700}
BATCH = 16
LR = {"lm": 2e-3, "stage1": 2e-3, "stage2": 1e-3, "closeups": 1e-3, "views": 7e-4}
# The close-ups also fine-tune the vision tower, at this fraction of the learning rate. LLaVA-NeXT's training scripts
# tune it at a fifth (--mm_tunable_parts mm_vision_tower,mm_mlp_adapter,mm_language_model, tower lr 2e-6 vs 1e-5);
# the toy at half, which trial runs chose: 400 close-up steps are few. Stage 2 keeps the tower frozen, as LLaVA-1.5
# did: tuned there on the single view, where a digit is a blur, it lost the detail the close-ups need (trial runs:
# the close-ups' last loss was 0.4 to 0.9 after three stage-2 runs that tuned the tower, 0.2 after one that did not).
TOWER_LR_SCALE = 0.5
PARTS = ("lm", "stage1", "stage2", "closeups", "views")
WORD_MAP_NOISE = 0.5  # Gaussian noise on a word map, in units of the embeddings' RMS: a projector's output is never exact
DESCRIBE_PROBABILITY = 0.5  # the share of stage-2 conversations that also ask for a description
EVAL_SCENES = {"llava": 100, "llava-next": 50}  # the tiled model reads 5x the image tokens: fewer scenes, same minutes



def build_tokenizer():
    """A word-level ``PreTrainedTokenizerFast``: one token per word of the grammar, special and chat tokens.

    Lower-cases its input and splits "?" off; an unknown word becomes ``<unk>``.
    ``<s>`` is put in front of every text, as Llama's tokenizer does.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = SPECIAL_TOKENS + sorted(set(grammar.words()) | set(EXTRA_WORDS))
    vocab = {w: i for i, w in enumerate(words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B",
                                                           special_tokens=[("<s>", vocab["<s>"])])
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # joins words with spaces, "?" attached
    # Matched in the raw text before lower-casing and splitting, so "<image>" and "USER:" stay one token each.
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
        chat_template=CHAT_TEMPLATE, model_max_length=1024,
    )
    return tokenizer


def lm_config(tokenizer):
    """The tiny Llama's ``LlamaConfig``: ``LM_ARCH`` over the tokenizer's vocabulary."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer), max_position_embeddings=1024, num_key_value_heads=LM_ARCH["num_attention_heads"],
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False, **LM_ARCH,
    )


def build_lm(tokenizer, seed: int = 0):
    """A freshly initialised ``LlamaForCausalLM`` (seeded)."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(lm_config(tokenizer))


def build_processor(kind: str, tokenizer, clip_dir=None):
    """``LlavaProcessor`` (toy CLIP 2's ``CLIPImageProcessor``) or ``LlavaNextProcessor`` (tiles of ``PINPOINTS``)."""
    from transformers import CLIPConfig, CLIPImageProcessor, LlavaNextImageProcessor, LlavaNextProcessor, LlavaProcessor

    clip_dir = clip_dir or toy_model_dir(TOY_CLIP_2)
    images = CLIPImageProcessor.from_pretrained(clip_dir)
    patch = CLIPConfig.from_pretrained(clip_dir).vision_config.patch_size
    common = dict(tokenizer=tokenizer, patch_size=patch, vision_feature_select_strategy="default",
                  num_additional_image_tokens=1, chat_template=CHAT_TEMPLATE)
    if kind == "llava":
        return LlavaProcessor(image_processor=images, **common)
    tiles = LlavaNextImageProcessor(
        size={"shortest_edge": toyvlm.TILE_SIZE}, crop_size={"height": toyvlm.TILE_SIZE, "width": toyvlm.TILE_SIZE},
        image_grid_pinpoints=toyvlm.PINPOINTS, image_mean=images.image_mean, image_std=images.image_std,
    )
    return LlavaNextProcessor(image_processor=tiles, **common)


def build_model(kind: str, tokenizer, lm=None, clip_dir=None, seed: int = 0):
    """A toy VLM: toy CLIP 2's vision tower (trained), a fresh projector (seeded), and ``lm`` (or a fresh Llama)."""
    import torch
    from transformers import CLIPModel, LlavaConfig, LlavaForConditionalGeneration, LlavaNextConfig
    from transformers import LlavaNextForConditionalGeneration

    clip = CLIPModel.from_pretrained(clip_dir or toy_model_dir(TOY_CLIP_2))
    common = dict(vision_config=clip.config.vision_config, text_config=lm_config(tokenizer),
                  image_token_index=tokenizer.convert_tokens_to_ids("<image>"), projector_hidden_act="gelu",
                  vision_feature_select_strategy="default", vision_feature_layer=-2,
                  image_seq_length=(clip.config.vision_config.image_size // clip.config.vision_config.patch_size) ** 2)
    torch.manual_seed(seed)
    if kind == "llava":
        model = LlavaForConditionalGeneration(LlavaConfig(**common))
    else:
        model = LlavaNextForConditionalGeneration(LlavaNextConfig(**common, image_grid_pinpoints=toyvlm.PINPOINTS))
    vision_tower(model.model.vision_tower).load_state_dict(clip.vision_model.state_dict())
    if lm is not None:
        model.model.language_model.load_state_dict(lm.model.state_dict())
        model.lm_head.load_state_dict(lm.lm_head.state_dict())
    return model


def word_map_cells(scene, grid: tuple[int, int] = (8, 8), canvas: int = toyvlm.CANVAS_SIZE) -> list[list[str]]:
    """The words of each patch cell of ``scene`` seen through a ``grid`` of patches, row-major: ``rows * cols`` lists.

    A cell covered by an object (the cell's centre inside the object's box, or
    the object's centre inside the cell) gets its size, colour and shape words;
    the cell holding a digit's centre, the digit; every other cell nothing.
    """
    rows, cols = grid
    cell_h, cell_w = canvas / rows, canvas / cols
    cells: list[list[str]] = [[] for _ in range(rows * cols)]
    for obj in scene.objects:
        top, left, bottom, right = obj.box
        for r in range(rows):
            for c in range(cols):
                cy, cx = (r + 0.5) * cell_h, (c + 0.5) * cell_w
                inside = top <= cy < bottom and left <= cx < right
                holds_centre = int(obj.centre[0] // cell_h) == r and int(obj.centre[1] // cell_w) == c
                if inside or holds_centre:
                    cells[r * cols + c] += [obj.size, obj.colour, obj.shape]
    for g in scene.glyphs:
        top, left, bottom, right = g.box
        cells[int((top + bottom) / 2 // cell_h) * cols + int((left + right) / 2 // cell_w)].append(g.char)
    return cells


def word_map(scene, embed, tokenizer, grid: tuple[int, int] = (8, 8), canvas: int = toyvlm.CANVAS_SIZE):
    """A picture made of word embeddings: ``(rows * cols, D)``, one vector per patch cell, row-major.

    Each cell holds the sum of the embeddings of its words (:func:`word_map_cells`:
    "small" + "red" + "cross" where a small red cross is, the digit where a digit
    is), zeros where there is nothing. ``embed`` is the language model's input
    embedding (``nn.Embedding``); the result keeps its gradient. This is what a
    perfect stage-1 projector would write into the image slots for ``scene``
    seen at ``canvas`` pixels through a ``grid`` of patches.
    """
    import torch

    weight = embed.weight
    out = torch.zeros(grid[0] * grid[1], weight.shape[1], dtype=weight.dtype)
    for i, words in enumerate(word_map_cells(scene, grid, canvas)):
        if words:
            out[i] = weight[tokenizer.convert_tokens_to_ids(words)].sum(0)
    return out


def _scene_seed(seed: int, step: int, part: int) -> int:
    return len(PARTS) * (seed * 10**6 + step) + part


def _qa_turns(scene, rng, most: int = 8, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """A random selection of the scene's questions (1 to ``most``, none of the kinds in ``skip``) in random
    order, as ``(question, answer)``."""
    qs = [q for q in grammar.questions(scene) if q.kind not in skip]
    k = int(rng.integers(1, min(most, len(qs)) + 1))
    return [(qs[i].text, qs[i].answer) for i in rng.permutation(len(qs))[:k]]


def _with_description(turns, scene, rng) -> list[tuple[str, str]]:
    """``turns``, and with ``DESCRIBE_PROBABILITY`` the request for a description at a random place among them."""
    if rng.random() >= DESCRIBE_PROBABILITY:
        return turns
    i = int(rng.integers(len(turns) + 1))
    return turns[:i] + [(toyvlm.INSTRUCTION, grammar.caption(scene))] + turns[i:]


def _digits_first_turns(scene, rng, others: int = 4) -> list[tuple[str, str]]:
    """Every digit question of the scene and up to ``others`` other questions, in random order."""
    qs = grammar.questions(scene)
    digits = [q for q in qs if q.kind == "glyph"]
    rest = [q for q in qs if q.kind != "glyph"]
    chosen = digits + [rest[i] for i in rng.permutation(len(rest))[:others]]
    return [(chosen[i].text, chosen[i].answer) for i in rng.permutation(len(chosen))]


def _closeup(image, scene, rng):
    """A close-up: one of the scene's digits asked about in the 64-pixel tile that holds it, at full resolution
    (the digit sits in the same corner of the tile as of the canvas). ``(tile, (question, answer))``."""
    glyph = scene.glyphs[int(rng.integers(len(scene.glyphs)))]
    question = next(q for q in grammar.questions(scene) if q.kind == "glyph" and q.text.endswith(f" {glyph.corner}?"))
    return toyvlm.tile_holding(image, glyph.box)[0], (question.text, question.answer)


def _batch(part: str, step: int, seed: int):
    """The texts (and images) of one batch: ``(messages_batch, images or None)``."""
    p = PARTS.index(part)
    s = _scene_seed(seed, step, p)
    rng = np.random.default_rng(s)
    images, scenes = toyvlm.world().sample(BATCH, seed=s)
    if part == "stage1":
        return [toyvlm.conversation([(toyvlm.INSTRUCTION, grammar.caption(sc))]) for sc in scenes], images
    if part == "stage2":
        return [toyvlm.conversation(_with_description(_qa_turns(sc, rng, skip=("glyph",)), sc, rng))
                for sc in scenes], images
    if part == "views":
        return [toyvlm.conversation(_digits_first_turns(sc, rng)) for sc in scenes], images
    if part == "closeups":
        shots = [_closeup(im, sc, rng) for im, sc in zip(images, scenes) if sc.glyphs]
        return [toyvlm.conversation([turn]) for _, turn in shots], [tile for tile, _ in shots]
    # The language model: half captions, half question-answer conversations. The first half of the batch is text
    # only; the second half puts the scene's word map in the image slots (the "images" returned are the scenes).
    msgs = [toyvlm.conversation([(toyvlm.INSTRUCTION, grammar.caption(sc))], image=i >= BATCH // 2) if i % 2 else
            toyvlm.conversation(_qa_turns(sc, rng), image=i >= BATCH // 2) for i, sc in enumerate(scenes)]
    return msgs, scenes


def _optimise(model, groups, part: str, steps: int, seed: int, processor, log):
    """AdamW over ``groups`` (``[(parameters, lr scale), ...]``) on ``steps`` batches of ``part``."""
    import torch

    params = [p for ps, _ in groups for p in ps]
    opt = torch.optim.AdamW([{"params": ps, "scale": k} for ps, k in groups], lr=LR[part], weight_decay=0.0)
    warmup = max(1, steps // 20)
    model.train()
    t0 = time.perf_counter()
    for step in range(steps):
        msgs, images = _batch(part, step, seed)
        for g in opt.param_groups:
            g["lr"] = learning_rate(step, steps, LR[part], warmup) * g["scale"]
        if part == "lm":
            loss = _lm_loss(model, processor, msgs, images, torch.Generator().manual_seed(_scene_seed(seed, step, 0)))
        else:
            loss = model(**toyvlm.encode(processor, msgs, images)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"{part} step {step}/{steps} loss {loss.item():.3f} ({time.perf_counter() - t0:.0f} s)")
    model.eval()


def _lm_loss(model, processor, msgs, scenes, generator):
    """The language model's loss on one batch: text-only conversations, and the rest read from word maps."""
    import torch

    half = BATCH // 2
    text = model(**toyvlm.encode(processor, msgs[:half])).loss
    inputs = toyvlm.encode(processor, msgs[half:], [toyvlm.blank_image()] * (len(msgs) - half))  # image slots only
    ids = inputs["input_ids"]
    embed = model.get_input_embeddings()
    maps = torch.cat([word_map(sc, embed, processor.tokenizer) for sc in scenes[half:]])
    rms = embed.weight.detach().pow(2).mean().sqrt()
    maps = maps + WORD_MAP_NOISE * rms * torch.randn(maps.shape, generator=generator)
    embeds = toyvlm.embeds_with_image_slots(model, processor, ids, maps)
    read = model(inputs_embeds=embeds, attention_mask=inputs["attention_mask"], labels=inputs["labels"]).loss
    return (text + read) / 2


def pretrain_lm(processor, steps: int = STEPS["lm"], seed: int = 0, log=print):
    """Train a fresh tiny Llama on the world's text (captions; questions with answers), half of it read from
    word maps in the image slots (``word_map``)."""
    lm = build_lm(processor.tokenizer, seed)
    _optimise(lm, [(list(lm.parameters()), 1.0)], "lm", steps, seed, processor, log)
    return lm


def _connector(model) -> list:
    """What stage 1 trains: the projector, and LLaVA-NeXT's ``image_newline``."""
    params = list(model.model.multi_modal_projector.parameters())
    if getattr(model.model, "image_newline", None) is not None:
        params.append(model.model.image_newline)
    return params


def train_stage(model, processor, stage: str, steps: int, seed: int = 0, log=print):
    """Train ``model`` in place on ``steps`` batches of one part:

    * ``"stage1"``: the projector only, on captions;
    * ``"stage2"``: projector and language model, on questions about the single view (no digit questions);
    * ``"closeups"``: projector, language model and, at ``TOWER_LR_SCALE`` of the rate, the vision tower,
      on digit questions about the tile that holds the digit;
    * ``"views"``: projector and language model on each toy's own views; the tower stays as the trunk
      left it, so the two toys see through the same encoder.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    groups = [(_connector(model), 1.0)]
    if stage in ("stage2", "closeups", "views"):
        groups[0] = (groups[0][0] + list(model.model.language_model.parameters()) + list(model.lm_head.parameters()), 1.0)
    if stage == "closeups":
        groups.append((list(model.model.vision_tower.parameters()), TOWER_LR_SCALE))
    for ps, _ in groups:
        for p in ps:
            p.requires_grad_(True)
    _optimise(model, groups, stage, steps, seed, processor, log)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _scaled(steps: int, minutes, planned_minutes: float = 30) -> int:
    return steps if minutes is None else max(2, int(steps * minutes / planned_minutes))


def train_and_publish(kinds=toyvlm.KINDS, output=None, minutes=None, seed: int = 0, eval_scenes=None, log=print):
    """Train both toy VLMs, evaluate them, and write each folder atomically.

    One trunk: the text LM, stage 1, ``STEPS["stage2"]`` steps of stage 2 on the single view, and the
    close-ups. Then the same ``STEPS["views"]`` batches twice from the trunk's weights: on the single view (the
    toy LLaVA-1.5) and on LLaVA-NeXT's tiles (the toy LLaVA-NeXT, its ``image_newline`` fresh), the tower
    fixed. The two models differ only in what they saw in that last part, so their difference measures the tiles.
    ``output``: the folder that receives ``toy-llava`` / ``toy-llava-next`` (default ``data/``).
    ``minutes``: scale every part's steps to about that many minutes (the defaults take about 30).
    """
    import copy

    import torch

    output = Path(output) if output is not None else toyvlm.model_dir("llava", check=False).parent
    steps = {k: _scaled(v, minutes) for k, v in STEPS.items()}
    tokenizer = build_tokenizer()
    single = build_processor("llava", tokenizer)
    t0, c0 = time.perf_counter(), time.process_time()
    lm = pretrain_lm(single, steps["lm"], seed, log)
    model = build_model("llava", tokenizer, lm=lm, seed=seed)
    untrained = copy.deepcopy(model.model.multi_modal_projector.state_dict())
    train_stage(model, single, "stage1", steps["stage1"], seed, log)
    stage1 = copy.deepcopy(model.model.multi_modal_projector.state_dict())
    train_stage(model, single, "stage2", steps["stage2"], seed, log)
    train_stage(model, single, "closeups", steps["closeups"], seed, log)
    trunk = copy.deepcopy(model.state_dict())
    trunk_seconds, trunk_cpu = time.perf_counter() - t0, time.process_time() - c0
    for kind in kinds:
        t1, c1 = time.perf_counter(), time.process_time()
        processor = build_processor(kind, tokenizer)
        branch = build_model(kind, tokenizer, seed=seed)
        missing = branch.load_state_dict(trunk, strict=False).missing_keys
        assert set(missing) <= {"model.image_newline"}, missing
        train_stage(branch, processor, "views", steps["views"], seed, log)
        destination = output / toyvlm.model_dir(kind, check=False).name
        with staging_folder(destination) as folder:
            branch.save_pretrained(folder, safe_serialization=True)
            processor.save_pretrained(folder)
            if kind == "llava" or "llava" not in kinds:  # shared by both toys: kept once, beside the LLaVA-1.5 toy
                (folder / "stages").mkdir()
                lm.save_pretrained(folder / "stages" / "lm", safe_serialization=True)
                _save_state(untrained, folder / "stages" / "projector-untrained.safetensors")
                _save_state(stage1, folder / "stages" / "projector-stage1.safetensors")
            facts = dict(kind=kind, seed=seed, steps=steps, batch=BATCH, lr=LR, tower_lr_scale=TOWER_LR_SCALE,
                         trunk_seconds=round(trunk_seconds, 1), trunk_cpu_seconds=round(trunk_cpu, 1),
                         views_seconds=round(time.perf_counter() - t1, 1),
                         views_cpu_seconds=round(time.process_time() - c1, 1), threads=torch.get_num_threads(),
                         parameters=sum(p.numel() for p in branch.parameters()),
                         lm_parameters=sum(p.numel() for p in lm.parameters()),
                         projector_parameters=sum(p.numel() for p in branch.model.multi_modal_projector.parameters()),
                         torch_version=torch.__version__)
            (folder / "metrics.json").write_text(json.dumps(facts, indent=1) + "\n")
            n = eval_scenes or EVAL_SCENES[kind]
            facts["metrics"] = measure(folder, kind, n, log)
            facts["eval_scenes"] = n
            facts["megabytes"] = round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6, 1)
            (folder / "metrics.json").write_text(json.dumps(facts, indent=1) + "\n")
            write_card(folder)
            publish(folder, destination)
        log(f"published {destination}")



def _save_state(state: dict, path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(path))


def measure(folder, kind: str, n: int = 100, log=print) -> dict:
    """Every stage's answer accuracy by question kind and caption-word accuracy, on ``n`` fresh scenes;
    and the final model's answers when shown blank images (the language prior)."""
    out = {}
    images, scenes = toyvlm.world().sample(n, seed=toyvlm.EVAL_SEED)
    for stage in ("final", "stage1", "untrained"):
        model, processor = toyvlm.load(kind, stage, folder=folder)
        out[stage] = toyvlm.evaluate(model, processor, n=n)
        out[stage]["caption"] = toyvlm.caption_word_accuracy(model, processor, images, scenes)
        log(f"{kind} {stage}: {out[stage]}")
    if kind == "llava":  # stage 1's ceiling: the same frozen language model reading perfect word maps (8x8 slots)
        import torch

        model, processor = toyvlm.load(kind, "stage1", folder=folder)
        embed = model.get_input_embeddings()
        out["word_map_caption"] = toyvlm.caption_word_accuracy(
            model, processor, None, scenes,
            image_slots=lambda batch: torch.cat([word_map(sc, embed, processor.tokenizer) for sc in batch]))
        log(f"{kind} perfect word maps: {out['word_map_caption']}")
    model, processor = toyvlm.load(kind, "final", folder=folder)
    out["blank"] = toyvlm.evaluate(model, processor, n=n, blank=True)
    log(f"{kind} blank: {out['blank']}")
    return out


def remeasure(folder, kind: str, n: int = 100, log=print) -> dict:
    """Measure a trained folder again (``measure``), update its ``metrics.json`` and rewrite its card."""
    folder = Path(folder)
    facts = json.loads((folder / "metrics.json").read_text())
    facts["metrics"] = measure(folder, kind, n, log)
    facts["eval_scenes"] = n
    (folder / "metrics.json").write_text(json.dumps(facts, indent=1) + "\n")
    write_card(folder)
    return facts


def _limits_sentence(m: dict) -> str:
    """What the measured numbers say the model cannot do, in words (for the card)."""
    kinds = [k for k in m["final"] if k not in ("all", "questions", "caption")]
    prior = [k for k in kinds if m["final"][k] - m["blank"][k] < 0.05]
    used = [k for k in kinds if k not in prior]
    out = (f"The image lifts the answers above the blank-image prior for {', '.join(used) or 'no kind'} questions. "
           if used else "")
    if prior:
        out += (f"For {', '.join(prior)} questions the model is within 5 points of its blank-image answers: "
                "it answers from the language prior, not from the image. ")
    c0, c1 = m["untrained"]["caption"]["all"], m["stage1"]["caption"]["all"]
    out += (f"Stage 1 moved the image-dependent caption words from {percent(c0)} to {percent(c1)}: "
            + ("the frozen language model does not read the projected tokens, and training the projector alone "
               "did not change that here; stage 2, which trains the language model, is where the image starts to "
               "count." if c1 - c0 < 0.05 else
               "the projector alone, the language model frozen, made the image tokens readable."))
    return out


def _clip_probes_sentence(clip: dict) -> str:
    """What toy CLIP 2's patch tokens hold, from its card's probes (beside a random tower)."""
    if "probe_shape_single" not in clip:
        return (f"it picks the right digit {percent(clip['seen_slot_digit'])} and the right shape "
                f"{percent(clip['seen_slot_shape'])} of the time (the truth against captions that differ in that word).")
    return (f"a linear probe reads an object's shape from the layer -2 patch tokens of the single view "
            f"{percent(clip['probe_shape_single'])} of the time (a random tower of the same shape "
            f"{percent(clip['probe_shape_single_random'])}), and a digit from a tile's "
            f"{percent(clip['probe_digit_tile'])} (random tower {percent(clip['probe_digit_tile_random'])}).")


def _word_map_sentence(m: dict) -> str:
    """Stage 1's ceiling: the frozen language model reading perfect word maps, if it was measured."""
    if "word_map_caption" not in m:
        return ""
    return (f"Stage 1's ceiling: the same frozen language model, reading perfect word maps (`word_map`) in the image "
            f"slots instead of projected tokens, predicts {percent(m['word_map_caption']['all'])} of these caption "
            "words. Caption order is the order in which the objects were drawn, which no picture shows, so even a "
            "perfect reader cannot tell which object a caption names first; the words after it are the ones a "
            "reader of the image can get right.")


def write_card(folder) -> Path:
    """The model card ``README.md`` of a toy VLM folder, from its ``metrics.json``."""
    folder = Path(folder)
    facts = json.loads((folder / "metrics.json").read_text())
    m = facts["metrics"]
    kinds = [k for k in m["final"] if k not in ("all", "questions", "caption")]
    rows = "\n".join(f"| {k} | {percent(m['untrained'][k])} | {percent(m['stage1'][k])} | {percent(m['final'][k])} "
                     f"| {percent(m['blank'][k])} |" for k in kinds)
    rows += (f"\n| **all** ({m['final']['questions']} questions) | {percent(m['untrained']['all'])} | "
             f"{percent(m['stage1']['all'])} | {percent(m['final']['all'])} | {percent(m['blank']['all'])} |")
    if "caption" in m["final"]:
        slots = [k for k in m["final"]["caption"] if k != "all"] + ["all"]
        caption_rows = "\n".join(f"| {k} | " + " | ".join(percent(m[st]["caption"][k]) for st in ("untrained", "stage1", "final"))
                                 + " |" for k in slots)
    else:
        caption_rows = "| (not measured) | | | |"
    kind = facts["kind"]
    st = facts["steps"]
    clip = json.loads((toy_model_dir(TOY_CLIP_2) / "metrics.json").read_text())
    values = dict(
        caption_rows=caption_rows, rows=rows, kind=kind, name=toyvlm.model_dir(kind, check=False).name,
        cls="LlavaForConditionalGeneration" if kind == "llava" else "LlavaNextForConditionalGeneration",
        processor_cls="LlavaProcessor" if kind == "llava" else "LlavaNextProcessor",
        views="one 64-pixel view of the whole canvas (64 image tokens)" if kind == "llava" else
              "a 64-pixel view of the whole canvas and its four 64-pixel tiles at full resolution "
              "(336 image tokens: 64 + 16 rows × (16 + 1 `image_newline`))",
        last_part=("the same batches on its single view" if kind == "llava" else
                   "the same batches on LLaVA-NeXT's tiled views, `image_newline` starting fresh"),
        other=toyvlm.model_dir("llava-next" if kind == "llava" else "llava", check=False).name,
        lm_steps=st["lm"], stage1_steps=st["stage1"], stage2_steps=st["stage2"], closeups_steps=st["closeups"],
        views_steps=st["views"], lr_lm=facts["lr"]["lm"], lr_stage1=facts["lr"]["stage1"],
        lr_stage2=facts["lr"]["stage2"], lr_closeups=facts["lr"]["closeups"], lr_views=facts["lr"]["views"],
        tower_lr_scale=facts["tower_lr_scale"], batch=facts["batch"],
        seed=facts["seed"],
        trunk_minutes=round(facts["trunk_seconds"] / 60, 1), views_minutes=round(facts["views_seconds"] / 60, 1),
        total_minutes=round((facts["trunk_seconds"] + facts["views_seconds"]) / 60, 1),
        threads=facts["threads"], torch_version=facts["torch_version"], parameters=f"{facts['parameters']:,}",
        lm_parameters=f"{facts['lm_parameters']:,}", projector_parameters=f"{facts['projector_parameters']:,}",
        megabytes=facts["megabytes"], eval_scenes=facts["eval_scenes"], eval_seed=toyvlm.EVAL_SEED,
        stages=("with `stages/` (the text-only language model and the projector at initialisation and after stage 1, "
                "for `vlmlab.toyvlm.load(kind, stage)`; shared with `toy-llava-next`)" if (folder / "stages").is_dir()
                else "without `stages/`: `vlmlab.toyvlm.load(kind, stage)` reads the shared ones beside `toy-llava`"),
        clip_probes=_clip_probes_sentence(clip),
        word_map_sentence=_word_map_sentence(m),
        limits=_limits_sentence(m),
        glyph_cell=toyvlm.GLYPH_CELL,
    )
    path = folder / "README.md"
    path.write_text(render_template("toyvlm_card.md", values), encoding="utf-8")
    return path
