"""Training the toy VLMs on a CPU: a text-only language model, then LLaVA's two stages.

1. **Language model** (``pretrain_lm``): a tiny ``LlamaForCausalLM`` learns the
   world's language from text alone: captions, and questions with their
   answers but no image. It knows what an answer looks like ("red", "two"),
   not which one is true: that is the language prior.
2. **Stage 1, feature alignment** (``train_stage(..., "stage1")``): the vision
   tower and the language model are frozen; only the projector (and
   LLaVA-NeXT's ``image_newline``) learns, on "describe the image" -> the
   scene's caption (LLaVA: Liu et al. 2023, https://arxiv.org/abs/2304.08485;
   LLaVA-1.5: Liu et al. 2023, https://arxiv.org/abs/2310.03744).
3. **Stage 2, instruction tuning** (``train_stage(..., "stage2")``): the
   projector and the language model learn together on conversations of
   questions and answers about each scene (``vlmlab.grammar.questions``),
   several turns per image as in LLaVA's instruction data. The vision tower
   stays frozen throughout.

The loss is next-token cross-entropy on the assistant's words only (the
prompt, the image tokens and the user's words are masked with ``-100``),
as in LLaVA.

Seeds: the batch ``k`` of part ``p`` (0: language model, 1: stage 1,
2: stage 2) draws its scenes with seed ``3 * (seed * 10**6 + k) + p``, below
``10**9`` for any seed under 300; evaluation (``vlmlab.toyvlm.EVAL_SEED``)
uses seeds above ``10**9``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .. import grammar, sceneclip, toyvlm
from .cards import percent, render as render_template
from .checkpoints import folder_megabytes, publish, staging_folder
from .toyclip import learning_rate

__all__ = ["SPECIAL_TOKENS", "EXTRA_WORDS", "CHAT_TEMPLATE", "LM_ARCH", "STEPS", "build_tokenizer", "lm_config",
           "build_lm", "build_processor", "build_model", "pretrain_lm", "train_stage",
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
# Steps of each part, as trained for the shipped models (batch: BATCH scenes or texts).
STEPS = {"lm": 600, "stage1": {"llava": 600, "llava-next": 250}, "stage2": {"llava": 2500, "llava-next": 600}}
BATCH = 16
LR = {"lm": 2e-3, "stage1": 2e-3, "stage2": 1e-3}


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
    from transformers import CLIPImageProcessor, LlavaNextImageProcessor, LlavaNextProcessor, LlavaProcessor

    clip_dir = clip_dir or sceneclip.default_output_dir()
    images = CLIPImageProcessor.from_pretrained(clip_dir)
    patch = json.loads((Path(clip_dir) / "config.json").read_text())["vision_config"]["patch_size"]
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

    clip = CLIPModel.from_pretrained(clip_dir or sceneclip.default_output_dir())
    common = dict(vision_config=clip.config.vision_config, text_config=lm_config(tokenizer),
                  image_token_index=tokenizer.convert_tokens_to_ids("<image>"), projector_hidden_act="gelu",
                  vision_feature_select_strategy="default", vision_feature_layer=-2,
                  image_seq_length=(clip.config.vision_config.image_size // clip.config.vision_config.patch_size) ** 2)
    torch.manual_seed(seed)
    if kind == "llava":
        model = LlavaForConditionalGeneration(LlavaConfig(**common))
    else:
        model = LlavaNextForConditionalGeneration(LlavaNextConfig(**common, image_grid_pinpoints=toyvlm.PINPOINTS))
    tower = model.model.vision_tower  # CLIPVisionModel; transformers 5 flattened its inner vision_model
    getattr(tower, "vision_model", tower).load_state_dict(clip.vision_model.state_dict())
    if lm is not None:
        model.model.language_model.load_state_dict(lm.model.state_dict())
        model.lm_head.load_state_dict(lm.lm_head.state_dict())
    return model


def _scene_seed(seed: int, step: int, part: int) -> int:
    return 3 * (seed * 10**6 + step) + part


def _qa_turns(scene, rng, most: int = 8) -> list[tuple[str, str]]:
    """A random selection of the scene's questions (1 to ``most``) in random order, as ``(question, answer)``."""
    qs = grammar.questions(scene)
    k = int(rng.integers(1, min(most, len(qs)) + 1))
    return [(qs[i].text, qs[i].answer) for i in rng.permutation(len(qs))[:k]]


def _batch(part: str, step: int, seed: int):
    """The texts (and images) of one batch: ``(messages_batch, images or None)``."""
    p = {"lm": 0, "stage1": 1, "stage2": 2}[part]
    s = _scene_seed(seed, step, p)
    rng = np.random.default_rng(s)
    images, scenes = toyvlm.world().sample(BATCH, seed=s)
    if part == "stage1":
        return [toyvlm.conversation([(toyvlm.INSTRUCTION, grammar.caption(sc))]) for sc in scenes], images
    if part == "stage2":
        return [toyvlm.conversation(_qa_turns(sc, rng)) for sc in scenes], images
    # Text only: half captions, half question-answer conversations, no image.
    msgs = [toyvlm.conversation([(toyvlm.INSTRUCTION, grammar.caption(sc))], image=False) if i % 2 else
            toyvlm.conversation(_qa_turns(sc, rng), image=False) for i, sc in enumerate(scenes)]
    return msgs, None


def _optimise(model, params, part: str, steps: int, seed: int, processor, log, lm_only: bool = False):
    import torch

    opt = torch.optim.AdamW(params, lr=LR[part], weight_decay=0.0)
    warmup = max(1, steps // 20)
    model.train()
    t0 = time.perf_counter()
    for step in range(steps):
        msgs, images = _batch(part, step, seed)
        inputs = toyvlm.encode(processor, msgs, images)
        for g in opt.param_groups:
            g["lr"] = learning_rate(step, steps, LR[part], warmup)
        loss = model(**inputs).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"{part} step {step}/{steps} loss {loss.item():.3f} ({time.perf_counter() - t0:.0f} s)")
    model.eval()


def pretrain_lm(processor, steps: int = STEPS["lm"], seed: int = 0, log=print):
    """Train a fresh tiny Llama on the world's text (captions; questions with answers, no image)."""
    lm = build_lm(processor.tokenizer, seed)
    _optimise(lm, list(lm.parameters()), "lm", steps, seed, processor, log)
    return lm


def _connector(model) -> list:
    """What stage 1 trains: the projector, and LLaVA-NeXT's ``image_newline``."""
    params = list(model.model.multi_modal_projector.parameters())
    if getattr(model.model, "image_newline", None) is not None:
        params.append(model.model.image_newline)
    return params


def train_stage(model, processor, stage: str, steps: int, seed: int = 0, log=print):
    """Stage 1 (projector only, captions) or stage 2 (projector + language model, questions) in place."""
    for p in model.parameters():
        p.requires_grad_(False)
    params = _connector(model)
    if stage == "stage2":
        params += list(model.model.language_model.parameters()) + list(model.lm_head.parameters())
    for p in params:
        p.requires_grad_(True)
    _optimise(model, params, stage, steps, seed, processor, log)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _save_projector(model, path) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in model.model.multi_modal_projector.state_dict().items()}
    save_file(state, str(path))


def _scaled(steps: int, minutes, planned_minutes: float) -> int:
    return steps if minutes is None else max(2, int(steps * minutes / planned_minutes))


def train_and_publish(kinds=toyvlm.KINDS, output=None, minutes=None, seed: int = 0, eval_scenes: int = 100, log=print):
    """Train the language model once, then each toy VLM's two stages; evaluate; write each folder atomically.

    ``output``: the folder that receives ``toy-llava`` / ``toy-llava-next`` (default ``data/``).
    ``minutes``: scale every part's steps so that the whole run takes about that long
    (the defaults, ``STEPS``, take about 25 minutes on one core of a 2-core machine).
    """
    import torch
    from transformers import AutoModelForCausalLM

    output = Path(output) if output is not None else toyvlm.model_dir("llava").parent
    tokenizer = build_tokenizer()
    text_processor = build_processor("llava", tokenizer)
    t0, c0 = time.perf_counter(), time.process_time()
    lm = pretrain_lm(text_processor, _scaled(STEPS["lm"], minutes, 25), seed, log)
    lm_seconds = time.perf_counter() - t0
    for kind in kinds:
        t1, c1 = time.perf_counter(), time.process_time()
        processor = build_processor(kind, tokenizer)
        model = build_model(kind, tokenizer, lm=lm, seed=seed)
        destination = output / toyvlm.model_dir(kind).name
        with staging_folder(destination) as folder:
            (folder / "stages").mkdir()
            _save_projector(model, folder / "stages" / "projector-untrained.safetensors")
            lm.save_pretrained(folder / "stages" / "lm", safe_serialization=True)
            train_stage(model, processor, "stage1", _scaled(STEPS["stage1"][kind], minutes, 25), seed, log)
            _save_projector(model, folder / "stages" / "projector-stage1.safetensors")
            stage1_seconds = time.perf_counter() - t1
            train_stage(model, processor, "stage2", _scaled(STEPS["stage2"][kind], minutes, 25), seed, log)
            facts = dict(kind=kind, seed=seed, lm_seconds=round(lm_seconds, 1), stage1_seconds=round(stage1_seconds, 1),
                         train_seconds=round(time.perf_counter() - t1, 1),
                         train_cpu_seconds=round(time.process_time() - c1, 1), threads=torch.get_num_threads(),
                         steps={"lm": _scaled(STEPS["lm"], minutes, 25),
                                "stage1": _scaled(STEPS["stage1"][kind], minutes, 25),
                                "stage2": _scaled(STEPS["stage2"][kind], minutes, 25)},
                         parameters=sum(p.numel() for p in model.parameters()),
                         lm_parameters=sum(p.numel() for p in lm.parameters()),
                         projector_parameters=sum(p.numel() for p in model.model.multi_modal_projector.parameters()),
                         torch_version=torch.__version__)
            model.save_pretrained(folder, safe_serialization=True)
            processor.save_pretrained(folder)
            facts["metrics"] = measure(folder, kind, eval_scenes, log)
            facts["eval_scenes"] = eval_scenes
            facts["megabytes"] = round(folder_megabytes(folder) + folder_megabytes(folder / "stages")
                                       + folder_megabytes(folder / "stages" / "lm"), 1)
            (folder / "metrics.json").write_text(json.dumps(facts, indent=1) + "\n")
            write_card(folder)
            publish(folder, destination)
        log(f"published {destination}")
    del AutoModelForCausalLM


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
    values = dict(caption_rows=caption_rows,
        name=folder.name if folder.name.startswith("toy-") else toyvlm.model_dir(kind).name,
        cls="LlavaForConditionalGeneration" if kind == "llava" else "LlavaNextForConditionalGeneration",
        processor_cls="LlavaProcessor" if kind == "llava" else "LlavaNextProcessor",
        kind=kind, rows=rows, **{k: v for k, v in facts.items() if k not in ("metrics", "steps", "kind")},
        lm_steps=facts["steps"]["lm"], stage1_steps=facts["steps"]["stage1"], stage2_steps=facts["steps"]["stage2"],
        train_minutes=round(facts["train_seconds"] / 60, 1), lm_minutes=round(facts["lm_seconds"] / 60, 1),
        views="one 64-pixel view of the whole canvas (64 image tokens)" if kind == "llava" else
              "a 64-pixel view of the whole canvas and its four 64-pixel tiles at full resolution "
              "(336 image tokens: 64 + 16 rows × (16 + 1 `image_newline`))",
        eval_seed=toyvlm.EVAL_SEED, batch=BATCH,
    )
    path = folder / "README.md"
    path.write_text(render_template("toyvlm_card.md", values), encoding="utf-8")
    return path
