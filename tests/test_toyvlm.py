"""The toy VLMs: the shipped LLaVA-1.5 and LLaVA-NeXT toys answer, read images, and refuse bad input."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from vlmlab import grammar, toyvlm
from vlmlab.scenes import SceneWorld
from vlmlab.training import toyvlm as training

SCENES = 24  # a small fixed set of fresh scenes, enough to tell a model that reads from one that guesses


@pytest.fixture(scope="module")
def llava():
    return toyvlm.load("llava")


@pytest.fixture(scope="module")
def llava_next():
    return toyvlm.load("llava-next")


@pytest.fixture(scope="module")
def scenes():
    return toyvlm.world().sample(SCENES, seed=toyvlm.EVAL_SEED)


# ------------------------------------------------------------------ tokenizer and prompt
def test_tokenizer_is_word_level_with_one_token_per_grammar_word():
    tok = training.build_tokenizer()
    vocab = tok.get_vocab()
    assert set(grammar.words()) <= set(vocab)
    ids = tok("What colour is the Square?").input_ids
    assert tok.convert_ids_to_tokens(ids) == ["<s>", "what", "colour", "is", "the", "square", "?"]
    assert tok.convert_ids_to_tokens(tok("what is a zebra?").input_ids)[-2:] == ["<unk>", "?"]
    assert tok.decode(tok("blue square").input_ids, skip_special_tokens=True) == "blue square"


def test_prompt_is_llava_15_conversation_and_image_expands_to_its_token_count(llava, llava_next, scenes):
    _, processor = llava
    assert toyvlm.prompt(processor, "what colour is the square?") == "USER: <image> what colour is the square? ASSISTANT:"
    images, _ = scenes
    image_id = processor.tokenizer.convert_tokens_to_ids("<image>")
    from vlmlab.budget import token_budget

    for model_processor, family in ((llava, "llava-1.5"), (llava_next, "llava-next")):
        model, proc = model_processor
        inputs = proc(images=[Image.fromarray(images[0])], text=[toyvlm.prompt(proc, "how many objects?")],
                      return_tensors="pt")
        expected = token_budget(images[0].shape[:2], family, tile_size=toyvlm.TILE_SIZE, patch_size=8).tokens
        assert int((inputs["input_ids"] == image_id).sum()) == expected == {"llava-1.5": 64, "llava-next": 336}[family]
        assert model.config.image_token_index == image_id


# ------------------------------------------------------------------ the shipped models
def test_shipped_models_load_with_auto_classes_offline():
    from transformers import AutoModelForImageTextToText, AutoProcessor, LlavaForConditionalGeneration
    from transformers import LlavaNextForConditionalGeneration, LlavaNextProcessor, LlavaProcessor

    for kind, cls, proc_cls in (("llava", LlavaForConditionalGeneration, LlavaProcessor),
                                ("llava-next", LlavaNextForConditionalGeneration, LlavaNextProcessor)):
        folder = toyvlm.model_dir(kind)
        assert type(AutoModelForImageTextToText.from_pretrained(folder)) is cls
        assert type(AutoProcessor.from_pretrained(folder)) is proc_cls
        assert not list(folder.rglob("*.bin")) and not list(folder.rglob("*.pt"))
    total = sum(f.stat().st_size for k in toyvlm.KINDS for f in toyvlm.model_dir(k).rglob("*") if f.is_file())
    assert total <= 20e6


@pytest.mark.parametrize("kind", toyvlm.KINDS)
def test_card_command_rewrites_the_shipped_card_from_its_metrics(kind, tmp_path, capsys):
    from vlmlab.training import commands

    shipped = toyvlm.model_dir(kind)
    folder = tmp_path / shipped.name
    folder.mkdir()
    (folder / "metrics.json").write_text((shipped / "metrics.json").read_text())
    if kind == "llava":
        (folder / "stages").mkdir()  # the card says whether the folder holds the shared stages/
    assert commands.main(["toy-vlm", "card", "--kind", kind, "--folder", str(folder)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {folder / 'README.md'}"
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert card == (shipped / "README.md").read_text(encoding="utf-8")
    assert "(`python -m vlmlab.training toy-vlm train`)" in card


def test_answers_match_the_truth_on_fixed_scenes(llava, scenes):
    model, processor = llava
    images, sc = scenes
    items = [(i, q) for i, s in enumerate(sc) for q in grammar.questions(s) if q.kind in ("colour", "size")]
    said = toyvlm.answer(model, processor, [images[i] for i, _ in items], [q.text for _, q in items])
    accuracy = np.mean([a == q.answer for (_, q), a in zip(items, said)])
    blank = toyvlm.answer(model, processor, [toyvlm.blank_image()] * len(items), [q.text for _, q in items])
    prior = np.mean([a == q.answer for (_, q), a in zip(items, blank)])
    # The shipped model's level on these scenes (model card: colour and size well above the prior; counts, which
    # the blank-image prior alone mostly gets right, are left out).
    assert accuracy >= 0.6 and accuracy >= prior + 0.2, (accuracy, prior)
    # Answers are words of the answer vocabulary, never fragments of the prompt.
    assert all(a in grammar.words() or a.count(" ") == 1 for a in said)


def test_blank_image_answers_worse_than_the_real_image(llava):
    model, processor = llava
    real = toyvlm.evaluate(model, processor, n=SCENES, kinds=("colour",))
    blank = toyvlm.evaluate(model, processor, n=SCENES, kinds=("colour",), blank=True)
    assert real["colour"] >= blank["colour"] + 0.3, (real, blank)


def test_metrics_file_matches_a_fresh_evaluation(llava):
    """The card's numbers are reproducible: the same 200 scenes give the same colour accuracy."""
    facts = json.loads((toyvlm.model_dir("llava") / "metrics.json").read_text())
    model, processor = llava
    fresh = toyvlm.evaluate(model, processor, n=40, kinds=("colour",))
    assert abs(fresh["colour"] - facts["metrics"]["final"]["colour"]) <= 0.15


def test_stages_load_and_differ(llava):
    final, _ = llava
    stage1, _ = toyvlm.load("llava", "stage1")
    untrained, _ = toyvlm.load("llava", "untrained")
    p = "model.multi_modal_projector.linear_1.weight"
    weights = {name: dict(m.named_parameters())[p] for name, m in
               (("final", final), ("stage1", stage1), ("untrained", untrained))}
    assert not torch.equal(weights["final"], weights["stage1"])
    assert not torch.equal(weights["stage1"], weights["untrained"])
    # Before stage 2 the tower is toy CLIP 2's; the close-ups after stage 2 fine-tune it.
    from transformers import CLIPModel
    from vlmlab.clip import TOY_CLIP_2_PATH

    clip = CLIPModel.from_pretrained(TOY_CLIP_2_PATH)
    key = "embeddings.patch_embedding.weight"
    original = clip.vision_model.state_dict()[key]
    assert torch.equal(stage1.model.vision_tower.state_dict()[key], original)
    assert not torch.equal(final.model.vision_tower.state_dict()[key], original)
    # Stage 1 never touches the language model: untrained and stage-1 models share it.
    a, b = stage1.model.language_model.state_dict(), untrained.model.language_model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["embed_tokens.weight"], final.model.language_model.state_dict()["embed_tokens.weight"])


# ------------------------------------------------------------------ parity with vlmlab's own pipeline
def test_vlmlab_pipeline_gives_the_models_visual_tokens(llava, scenes):
    from vlmlab.pipeline import VLMVisionPipeline
    from vlmlab.clip import TOY_CLIP_2_PATH

    model, processor = llava
    images, _ = scenes
    pil = [Image.fromarray(im) for im in images[:3]]
    pixel_values = processor.image_processor(pil, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        theirs = model.get_image_features(pixel_values=pixel_values)
    theirs = torch.stack(list(theirs.pooler_output if hasattr(theirs, "pooler_output") else theirs))
    from transformers import CLIPModel

    encoder = CLIPModel.from_pretrained(TOY_CLIP_2_PATH)
    encoder.vision_model.load_state_dict(model.model.vision_tower.state_dict())  # the VLM's fine-tuned tower
    pipe = VLMVisionPipeline(encoder, llm_dim=model.config.text_config.hidden_size)
    mm = model.model.multi_modal_projector
    pipe.projector.proj[0].load_state_dict(mm.linear_1.state_dict())
    pipe.projector.proj[2].load_state_dict(mm.linear_2.state_dict())
    with torch.no_grad():
        ours = pipe(pixel_values)
    assert ours.shape == theirs.shape == (3, 64, model.config.text_config.hidden_size)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------ bad input
def test_bad_questions_and_images_get_clear_errors(llava, scenes):
    model, processor = llava
    image = scenes[0][0]
    with pytest.raises(ValueError, match="question is empty"):
        toyvlm.ask(model, processor, image, "   ")
    with pytest.raises(ValueError, match="at most 32"):
        toyvlm.ask(model, processor, image, "what " * 40)
    with pytest.raises(TypeError, match="question must be a str"):
        toyvlm.ask(model, processor, image, 7)
    with pytest.raises(ValueError, match=r"\(height, width, 3\) uint8"):
        toyvlm.ask(model, processor, image.astype(np.float32), "how many objects?")
    with pytest.raises(TypeError):
        toyvlm.ask(model, processor, "not-an-image.png", "how many objects?")
    with pytest.raises(ValueError, match="kind"):
        toyvlm.load("llava-2")


def test_unknown_words_become_unk_and_still_get_a_defined_answer(llava, scenes):
    model, processor = llava
    image = scenes[0][0]
    assert toyvlm.unknown_words(processor, "What colour is the zebra?") == ["zebra"]
    first = toyvlm.ask(model, processor, image, "what colour is the zebra?")
    assert first == toyvlm.ask(model, processor, image, "what colour is the zebra?")
    assert isinstance(first, str)


def test_grayscale_rgba_and_odd_sizes_are_answered(llava, scenes):
    model, processor = llava
    image = Image.fromarray(scenes[0][0])
    answers = [toyvlm.ask(model, processor, im, "how many objects?") for im in
               (image, image.convert("RGBA"), image.convert("L"), image.resize((300, 90)), image.resize((3, 3)))]
    assert answers[0] == answers[1]  # opaque alpha changes nothing
    assert all(isinstance(a, str) and a for a in answers)


# ------------------------------------------------------------------ training
def test_training_smoke_run_trains_only_what_each_stage_should():
    tokenizer = training.build_tokenizer()
    processor = training.build_processor("llava", tokenizer)
    lm = training.pretrain_lm(processor, steps=2, log=lambda *_: None)
    model = training.build_model("llava", tokenizer, lm=lm)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    training.train_stage(model, processor, "stage1", steps=2, log=lambda *_: None)
    after1 = {k: v.clone() for k, v in model.state_dict().items()}
    changed = {k for k in before if not torch.equal(before[k], after1[k])}
    assert changed and all(k.startswith("model.multi_modal_projector.") for k in changed)
    training.train_stage(model, processor, "stage2", steps=2, log=lambda *_: None)
    after2 = {k: v.clone() for k, v in model.state_dict().items()}
    changed2 = {k for k in before if not torch.equal(after1[k], after2[k])}
    assert any(k.startswith("model.language_model.") for k in changed2)
    assert not any(k.startswith("model.vision_tower.") for k in changed2)  # stage 2: the tower frozen, as in LLaVA-1.5
    training.train_stage(model, processor, "closeups", steps=2, log=lambda *_: None)
    after3 = {k: v.clone() for k, v in model.state_dict().items()}
    changed3 = {k for k in before if not torch.equal(after2[k], after3[k])}
    assert any("language_model" in k for k in changed3) and any(k.startswith("model.vision_tower.") for k in changed3)
    training.train_stage(model, processor, "views", steps=2, log=lambda *_: None)
    changed4 = {k for k, v in model.state_dict().items() if not torch.equal(after3[k], v)}
    assert any("language_model" in k for k in changed4) and any("multi_modal_projector" in k for k in changed4)
    assert not any(k.startswith("model.vision_tower.") for k in changed4)  # both toys keep the trunk's tower


def test_closeups_ask_about_the_digit_in_the_tile_they_show():
    from vlmlab.glyphs import read_glyph
    from vlmlab.scenes import INK

    messages, tiles = training._batch("closeups", step=3, seed=0)
    assert len(messages) == len(tiles) == training.BATCH  # every scene has digits: one close-up each
    side = toyvlm.TILE_SIZE
    for msgs, tile in zip(messages, tiles):
        question, answer = msgs[0]["content"][1]["text"], msgs[1]["content"][0]["text"]
        corner = question[len("what digit is at the "):-1]
        assert tile.shape == (side, side, 3)
        # The digit is in the tile's own corner of that name, in the middle of one of its four 8-pixel patches.
        tops = (1, 9) if corner.startswith("top") else (side - 7, side - 15)
        lefts = (2, 10) if corner.endswith("left") else (side - 6, side - 14)
        inked = [tile[t:t + 5, l:l + 3] for t in tops for l in lefts if (tile[t:t + 5, l:l + 3] == INK).all(-1).any()]
        assert len(inked) == 1 and read_glyph(inked[0], 1) == answer, (question, answer)


def test_stage_2_asks_no_digit_question_and_views_ask_every_one():
    stage2, _ = training._batch("stage2", step=3, seed=0)
    asked = [m["content"][-1]["text"] for msgs in stage2 for m in msgs if m["role"] == "user"]
    assert asked and not any(q.startswith("what digit") for q in asked)  # the single view cannot show a digit
    views, _ = training._batch("views", step=3, seed=0)
    for msgs in views:  # every digit question of the scene, and at most four others
        asked = [m["content"][-1]["text"] for m in msgs if m["role"] == "user"]
        assert sum(q.startswith("what digit") for q in asked) == 4 and len(asked) <= 8


def test_stage_2_asks_for_a_description_in_about_half_of_its_conversations():
    described = [sum(m["content"][-1]["text"] == toyvlm.INSTRUCTION for m in conv if m["role"] == "user")
                 for step in range(8) for conv in training._batch("stage2", step=step, seed=0)[0]]
    assert set(described) == {0, 1}  # at most one description per conversation
    assert 0.35 < np.mean(described) < 0.65  # DESCRIBE_PROBABILITY = 0.5, over 128 conversations


def test_word_map_writes_each_things_words_into_the_cells_it_covers():
    from vlmlab.scenes import Glyph, Scene, SceneObject

    tokenizer = training.build_tokenizer()
    embed = torch.nn.Embedding(len(tokenizer), 4)
    # 16-pixel cells (128 px through 8x8 patches), cell centres at 8, 24, 40, ... pixels.
    obj = SceneObject("red", "cross", "small", centre=(40, 72), radius=8.96)  # box (31, 63, 50, 82)
    big = SceneObject("blue", "circle", "large", centre=(96, 24), radius=14.08)  # box (82, 10, 111, 39)
    glyph = Glyph("7", "top left", top=4, left=2, scale=1)  # 5x3 pixels: centre (6.5, 3.5), cell (0, 0)
    scene = Scene(canvas_size=(128, 128), objects=(obj, big), glyphs=(glyph,))
    m = training.word_map(scene, embed, tokenizer)
    assert m.shape == (64, 4)
    covered = {(i // 8, i % 8) for i in range(64) if m[i].abs().sum() > 0}
    # the digit's cell; the cross's one cell (only the centre (40, 72) lies in its box); the circle's two (88, 24)
    # and (104, 24): a large object spans several cells, and each of them carries all three of its words
    assert covered == {(0, 0), (2, 4), (5, 1), (6, 1)}
    ids = tokenizer.convert_tokens_to_ids(["small", "red", "cross"])
    torch.testing.assert_close(m[2 * 8 + 4], embed.weight[ids].sum(0))
    torch.testing.assert_close(m[0], embed.weight[tokenizer.convert_tokens_to_ids("7")])
    m.sum().backward()  # the map is made of the embeddings: the language model learns through it
    assert embed.weight.grad[ids[0]].abs().sum() > 0


def test_caption_words_read_from_given_image_slots_equal_those_read_from_the_image(llava, scenes):
    """image_slots puts vectors in the image tokens' places: given the projected image tokens, it is the image."""
    model, processor = llava
    images, scs = scenes
    images, scs = images[:6], scs[:6]

    def projected(batch):
        rows = [next(k for k, s in enumerate(scs) if s is sc) for sc in batch]
        pixels = processor.image_processor(images=[images[k] for k in rows], return_tensors="pt").pixel_values
        with torch.no_grad():
            hidden = model.model.vision_tower(pixels, output_hidden_states=True).hidden_states[-2][:, 1:]
            return model.model.multi_modal_projector(hidden).flatten(0, 1)  # (batch * 64, D)

    want = toyvlm.caption_word_accuracy(model, processor, images, scs)
    assert toyvlm.caption_word_accuracy(model, processor, None, scs, image_slots=projected) == want
    zeros = toyvlm.caption_word_accuracy(model, processor, None, scs, image_slots=lambda b: torch.zeros(64 * len(b), 128))
    assert zeros != want  # the slots are read: an empty picture gives other words


def test_labels_cover_the_assistants_words_only():
    tokenizer = training.build_tokenizer()
    processor = training.build_processor("llava", tokenizer)
    msgs = [toyvlm.conversation([("what colour is the square?", "red"), ("how many objects?", "two")], image=False)]
    inputs = toyvlm.encode(processor, msgs)
    labels = inputs["labels"][0]
    assert tokenizer.convert_ids_to_tokens(labels[labels >= 0].tolist()) == ["red", "</s>", "two", "</s>"]


# ------------------------------------------------------------------ the widget and the command
def test_explorer_redraws_when_the_scene_changes():
    from vlmlab.widgets.toyvlm import vlm_explorer

    model, processor = toyvlm.load("llava", attn_implementation="eager")
    box = vlm_explorer(model, processor, n_scenes=4)
    first = box.info
    box.scene_slider.value = 3
    _, scenes = toyvlm.world().sample(4, seed=toyvlm.EVAL_SEED)
    assert box.info["question"] in [q.text for q in grammar.questions(scenes[3])]
    assert box.info["map"].shape == (8, 8) and 0 < box.info["image_share"] <= 1
    assert box.info["question"] != first["question"] or not np.array_equal(box.info["map"], first["map"])
    assert box.info["truth"] == next(q.answer for q in grammar.questions(scenes[3]) if q.text == box.info["question"])


def test_image_attention_needs_eager_attention_and_the_single_view_model(llava, llava_next, scenes):
    model, processor = llava
    with pytest.raises(ValueError, match="eager"):
        toyvlm.image_attention(model, processor, scenes[0][0], "how many objects?")
    with pytest.raises(ValueError, match="single-view"):
        toyvlm.image_attention(llava_next[0], llava_next[1], scenes[0][0], "how many objects?")


# ------------------------------------------------------------------ what the tower holds
def test_probe_examples_are_the_things_pixels_in_each_view():
    from vlmlab.toyvlm import _probe_examples

    views, boxes, labels = _probe_examples("digit", "tile", 40, seed=3)
    assert views.shape == (40, toyvlm.TILE_SIZE, toyvlm.TILE_SIZE, 3) and labels.shape == (40,)
    images, scenes = toyvlm.world().sample(40, seed=3)
    glyphs = [(i, g) for i, sc in enumerate(scenes) for g in sc.glyphs][:40]
    for view, box, label, (i, g) in zip(views, boxes, labels, glyphs):
        top = 0 if g.corner.startswith("top") else toyvlm.TILE_SIZE
        left = 0 if g.corner.endswith("left") else toyvlm.TILE_SIZE
        assert box == (g.top - top, g.left - left, g.top - top + 5, g.left - left + 3) and str(label) == g.char
        assert np.array_equal(view, images[i][top:top + toyvlm.TILE_SIZE, left:left + toyvlm.TILE_SIZE])
    views, boxes, labels = _probe_examples("shape", "single", 30, seed=4)
    assert views.shape == (30, toyvlm.CANVAS_SIZE, toyvlm.CANVAS_SIZE, 3)


def test_tower_probe_is_deterministic_and_reads_colour_but_not_a_shuffled_label(llava):
    model, processor = llava
    tower, images = model.model.vision_tower, processor.image_processor
    colour = toyvlm.tower_probe(tower, images, "colour", n_fit=240, n_test=120)
    assert colour >= 0.9, colour  # colour is in every patch the object touches
    assert toyvlm.tower_probe(tower, images, "colour", n_fit=240, n_test=120) == colour
    # The control: the same features against labels that do not belong to them score near chance (1/6).
    from vlmlab import toyvlm as module

    real = module._probe_examples

    def shuffled(*args):
        views, boxes, labels = real(*args)
        return views, boxes, np.random.default_rng(0).permutation(labels)

    try:
        module._probe_examples = shuffled
        assert toyvlm.tower_probe(tower, images, "colour", n_fit=240, n_test=120) < 0.4
    finally:
        module._probe_examples = real


def test_toy_clip_2_reads_a_digit_anywhere_in_a_tile_but_not_shrunk():
    """Toy CLIP 2's tower reads a digit from a full-resolution tile, centred in a patch or anywhere in its corner (its
    local objective put digits anywhere; a random tower reads a free digit about a quarter of the time), and from the
    shrunk single view less often."""
    from transformers import CLIPImageProcessor, CLIPModel
    from vlmlab.clip import TOY_CLIP_2_PATH

    tower = CLIPModel.from_pretrained(TOY_CLIP_2_PATH).vision_model
    images = CLIPImageProcessor.from_pretrained(TOY_CLIP_2_PATH)
    assert toyvlm.world().glyph_cell == toyvlm.GLYPH_CELL == 8
    probe = dict(n_fit=300, n_test=150)
    in_patch = toyvlm.tower_probe(tower, images, "digit", "tile", placement="cell", **probe)
    shrunk = toyvlm.tower_probe(tower, images, "digit", "single", placement="cell", **probe)
    anywhere = toyvlm.tower_probe(tower, images, "digit", "tile", placement="free", **probe)
    assert in_patch >= 0.95 and anywhere >= 0.7 and shrunk <= in_patch - 0.05, (in_patch, anywhere, shrunk)


def test_random_tower_like_has_the_same_shape_fresh_weights_and_leaves_the_rng_alone(llava):
    tower = llava[0].model.vision_tower
    state = torch.random.get_rng_state()
    fresh, again, other = (toyvlm.random_tower_like(tower, seed) for seed in (0, 0, 1))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert type(fresh) is type(tower) and fresh.config.to_dict() == tower.config.to_dict() and not fresh.training
    params = [dict(m.named_parameters()) for m in (tower, fresh, again, other)]
    assert params[0].keys() == params[1].keys()
    weight = next(k for k in params[0] if k.endswith("layers.0.mlp.fc1.weight"))
    assert torch.equal(params[1][weight], params[2][weight])  # the same seed, the same tower
    assert not torch.equal(params[1][weight], params[3][weight]) and not torch.equal(params[0][weight], params[1][weight])
    with pytest.raises(TypeError, match="tower must be a CLIP vision tower"):
        toyvlm.random_tower_like(llava[0].model.language_model)


def test_probe_chance_is_one_over_the_classes():
    assert [toyvlm.probe_chance(f) for f in toyvlm.PROBE_FIELDS] == [1 / 6, 1 / 5, 1 / 2, 1 / 10]


def test_a_random_tower_reads_a_digit_centred_in_a_patch_but_not_one_placed_freely(llava):
    """Why the digit probe places digits anywhere in their corner: centred in one patch, a digit lights the same
    pixels of one patch every time, and a straight line reads it even from a random tower's tokens."""
    tower, images = toyvlm.random_tower_like(llava[0].model.vision_tower, seed=0), llava[1].image_processor
    assert toyvlm.free_digit_world().glyph_cell == 0 and toyvlm.free_digit_world().min_glyphs == 4
    probe = dict(n_fit=400, n_test=200)
    free = toyvlm.tower_probe(tower, images, "digit", "tile", **probe)  # placement="free" is the default
    cell = toyvlm.tower_probe(tower, images, "digit", "tile", placement="cell", **probe)
    assert free <= 0.3 and cell >= 0.9, (free, cell)  # chance is 0.1


def test_tower_probe_references_put_the_probe_beside_a_random_tower_and_chance(llava):
    tower, images = llava[0].model.vision_tower, llava[1].image_processor
    probe = dict(n_fit=240, n_test=120)
    ref = toyvlm.tower_probe_references(tower, images, "colour", **probe)
    assert ref == {"trained": toyvlm.tower_probe(tower, images, "colour", **probe),
                   "random": toyvlm.tower_probe(toyvlm.random_tower_like(tower, 0), images, "colour", **probe),
                   "chance": 1 / 6}


@pytest.mark.parametrize("kwargs, match", [
    (dict(field="texture"), r"field must be one of \['colour', 'digit', 'shape', 'size'\], got 'texture'"),
    (dict(view="tiles"), r"view must be one of \['single', 'tile'\]"),
    (dict(n_fit=5), r"n_fit must be in \[20, 100000\]"),
    (dict(world="scenes"), r"world must be a SceneWorld of 128x128 pixels, got 'scenes'"),
    (dict(field="digit", world=SceneWorld(128, max_glyphs=0)), r"world draws no digits"),
    (dict(field="digit", placement="centre"), r"placement must be one of \['cell', 'free'\], got 'centre'"),
])
def test_tower_probe_refuses_bad_arguments(llava, kwargs, match):
    model, processor = llava
    with pytest.raises((ValueError, TypeError), match=match):
        toyvlm.tower_probe(model.model.vision_tower, processor.image_processor, **kwargs)


def test_answer_encode_and_attention_leave_the_callers_padding_side_alone(llava, scenes):
    model, processor = llava
    images, _ = scenes
    questions = ["what colour is the square?", "how many objects are there in the image?"]  # two lengths: padding
    pad = processor.tokenizer.pad_token_id
    said = {}
    for side in ("left", "right"):
        processor.tokenizer.padding_side = side
        said[side] = toyvlm.answer(model, processor, images[:2], questions)
        assert processor.tokenizer.padding_side == side
        for image_batch in (images[:2], None):
            inputs = toyvlm.encode(processor, [toyvlm.conversation([(q, "red")], image=image_batch is not None)
                                               for q in questions], image_batch)
            assert processor.tokenizer.padding_side == side
            ids = inputs["input_ids"]
            assert (ids[:, 0] != pad).all() and (ids[:, -1] == pad).any()  # right-padded, whatever the caller set
    assert said["left"] == said["right"]  # the answers never depend on the caller's setting
    processor.tokenizer.padding_side = "right"  # as loaded
    eager, _ = toyvlm.load("llava", attn_implementation="eager")
    processor.tokenizer.padding_side = "left"
    toyvlm.image_attention(eager, processor, images[0], questions[0])
    assert processor.tokenizer.padding_side == "left"
    processor.tokenizer.padding_side = "right"


def test_command_evaluates(capsys):
    assert toyvlm.main(["evaluate", "--kind", "llava", "--scenes", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["questions"] == sum(len(grammar.questions(s)) for s in toyvlm.world().sample(2, seed=toyvlm.EVAL_SEED)[1])
    assert 0 <= result["all"] <= 1


def test_tiles_let_the_next_toy_read_digits_the_single_view_cannot(llava, llava_next, scenes):
    """Notebook 10's experiment in small: the same digit questions to both toys, which differ only in their views."""
    images, sc = scenes
    items = [(i, q) for i, s in enumerate(sc) for q in grammar.questions(s) if q.kind == "glyph"]
    assert len(items) == 4 * len(sc)  # a digit in every corner
    right = {}
    for name, (model, processor) in (("single", llava), ("tiled", llava_next)):
        said = toyvlm.answer(model, processor, [images[i] for i, _ in items], [q.text for _, q in items])
        right[name] = np.mean([a == q.answer for (_, q), a in zip(items, said)])
    assert right["single"] <= 0.25 and right["tiled"] >= right["single"] + 0.3, right  # the target: 30 points


def test_caption_words_do_not_count_a_digits_corner_as_a_relation(llava):
    """ "at the top left" ends in "left", a relation word elsewhere; only the word before it decides it here."""
    model, processor = llava
    images, scenes = toyvlm.one_object_world().sample(6, seed=toyvlm.EVAL_SEED)
    assert any(g.corner.endswith(("left", "right")) for s in scenes for g in s.glyphs)  # corners are in the captions
    result = toyvlm.caption_word_accuracy(model, processor, images, scenes)
    assert "relation" not in result and "digit" in result  # one object: no relation to say
