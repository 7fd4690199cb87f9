"""Toy CLIP 2: its data, its loss, its evaluation, a training smoke run, and the shipped checkpoint."""

import json

import numpy as np
import pytest
import torch

from vlmlab import grammar, sceneclip
from vlmlab.data import TOY_CLIP_2, toy_model_dir
from vlmlab.glyphs import read_glyph
from vlmlab.scenes import SceneWorld
from vlmlab.training import cards, commands
from vlmlab.training import sceneclip as training

CKPT = toy_model_dir(TOY_CLIP_2)
QUIET = dict(log=lambda *a: None)
CAPTION = "a small red circle left of a large blue square with the digit 7 at the top left"


@pytest.fixture(scope="module")
def processor():
    return training.build_sceneclip_processor()


# ------------------------------------------------------------------------ words and tokens
def test_every_word_is_one_token_and_the_longest_caption_fits(processor):
    tok = processor.tokenizer
    _, scenes = sceneclip.canvas_world().sample(300, seed=3)
    captions = [grammar.caption(s) for s in scenes] + [sceneclip.tile_caption("7", "top left")]
    for text in captions:
        ids = tok(text).input_ids
        assert len(ids) == len(text.split()) + 2, text  # BOS + one per word (digits included) + EOS
    assert max(len(tok(t).input_ids) for t in captions) <= sceneclip.ARCH["max_text_len"]
    assert tok.eos_token_id != 2 and tok.eos_token_id == len(tok) - 1
    assert "7" not in sceneclip.vocabulary() and "?" not in sceneclip.vocabulary()


def test_arrays_to_tensor_equals_clip_image_processor(processor):
    images, _ = sceneclip.scene_world().sample(4, seed=2)
    ref = processor(images=list(images), return_tensors="pt").pixel_values
    torch.testing.assert_close(training.arrays_to_tensor(list(images)), ref, atol=1e-5, rtol=0)


# ------------------------------------------------------------------------ what a batch holds
def test_corner_tiles_hold_their_digit_at_full_resolution():
    images, scenes = sceneclip.canvas_world().sample(5, seed=4)
    n = 0
    for image, scene in zip(images, scenes):
        for tile, glyph in sceneclip.corner_tiles(image, scene):
            assert tile.shape == (64, 64, 3)
            top = glyph.top if glyph.corner.startswith("top") else glyph.top - (256 - 64)
            left = glyph.left if glyph.corner.endswith("left") else glyph.left - (256 - 64)
            assert read_glyph(tile[top:top + 5, left:left + 3], 1) == glyph.char
            n += 1
    assert n == sum(len(s.glyphs) for s in scenes) > 0


def test_draw_batch_is_reproducible_and_holds_scenes_tiles_and_negatives():
    images, captions, negatives = training.draw_batch(0, 5, n_scenes=6, n_tiles=3)
    again = training.draw_batch(0, 5, n_scenes=6, n_tiles=3)
    assert len(images) == len(captions) == 9 and all(im.shape == (64, 64, 3) for im in images)
    assert all(np.array_equal(a, b) for a, b in zip(images, again[0])) and captions == again[1]
    assert negatives == again[2]
    assert training.draw_batch(0, 6, n_scenes=6, n_tiles=3)[1] != captions  # the next step draws afresh
    for text in captions[:6]:
        grammar.parse(text)  # scene captions are captions of the grammar
    assert all(t.startswith("the digit ") for t in captions[6:])
    hard = {n.caption for text in captions[:6] for n in grammar.hard_negatives(text)}
    assert set(negatives) <= hard and len(negatives) == sum(bool(grammar.hard_negatives(t)) for t in captions[:6])
    assert training.draw_batch(0, 5, n_scenes=6, n_tiles=3, hard_negatives=False)[2] == []


def test_training_seeds_never_reach_the_evaluation_seeds():
    assert training.batch_seeds(0, 0) == (0, 1, 2) and training.batch_seeds(1, 3) == (4_000_012, 4_000_013, 4_000_014)
    assert max(training.batch_seeds(249, 10**6 - 1)) < 10**9 < min(training.VAL_SEED, sceneclip.EVAL_SEED)


# ------------------------------------------------------------------------ the loss
def test_loss_with_distinct_captions_and_no_negatives_is_clips_own(processor):
    """Parity with transformers: CLIPModel(return_loss=True) computes the same number."""
    from transformers import CLIPModel
    from vlmlab import toyclip

    torch.manual_seed(0)
    model = CLIPModel(toyclip.build_config(processor.tokenizer, sceneclip.TINY_ARCH)).eval()
    images, captions, _ = training.draw_batch(0, 0, n_scenes=6, n_tiles=0)
    pixels = training.arrays_to_tensor(images)
    text = processor.tokenizer(captions, padding=True, return_tensors="pt")
    with torch.no_grad():
        v, t, tokens = training._embed(model, pixels, text)
        ours = training.contrastive_loss(v, t, captions, model.logit_scale)
        theirs = model(input_ids=text.input_ids, attention_mask=text.attention_mask, pixel_values=pixels,
                       return_loss=True).loss
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert tokens is None  # no layer asked for


# ------------------------------------------------------------------ the local loss
def test_local_targets_are_the_patches_the_tower_probe_averages():
    """The heads pool each thing over the patches its box touches, as ``toyvlm.tower_probe`` does (``box_coverage > 0``)."""
    from vlmlab.attention import box_coverage

    images, captions, negatives, views = training.draw_batch(0, 3, n_scenes=5, n_tiles=4, with_scenes=True)
    shrunk, tiles, extra = training.draw_local_views(0, 3, 6)
    checked = {"objects": 0, "digits": 0}
    for scene, top, left, side in views + extra:
        objects, digits = training.local_targets(scene, top, left, side)
        inside = [o for o in scene.objects if top <= o.centre[0] < top + side and left <= o.centre[1] < left + side]
        whole = [g for g in scene.glyphs if top <= g.box[0] and g.box[2] <= top + side
                 and left <= g.box[1] and g.box[3] <= left + side]
        assert len(objects) == len(inside) and len(digits) == len(whole)
        for (patches, *labels), thing in zip(objects + digits, inside + whole):
            t, lft, b, r = thing.box
            clipped = (max(t - top, 0), max(lft - left, 0), min(b - top, side), min(r - left, side))
            assert patches == box_coverage([clipped], (side, side), (8, 8)).nonzero().flatten().tolist()
            names = [thing.char] if hasattr(thing, "char") else [thing.shape, thing.colour, thing.size]
            fields = ["digit"] if hasattr(thing, "char") else ["shape", "colour", "size"]
            assert [training.LOCAL_FIELDS[f][k] for f, k in zip(fields, labels)] == names
            checked["digits" if hasattr(thing, "char") else "objects"] += 1
    assert min(checked.values()) >= 10
    with pytest.raises(ValueError, match="side must be a multiple of grid, got side=60"):
        training.local_targets(views[0][0], 0, 0, 60)


def test_local_views_are_the_toy_vlms_views_with_digits_anywhere_in_their_corner():
    from vlmlab import toyvlm

    shrunk, tiles, views = training.draw_local_views(2, 7, 5)
    assert len(shrunk) == 2 and len(tiles) == 3 and len(views) == 5
    assert all(im.shape == (toyvlm.CANVAS_SIZE, toyvlm.CANVAS_SIZE, 3) for im in shrunk)
    assert all(im.shape == (toyvlm.TILE_SIZE, toyvlm.TILE_SIZE, 3) for im in tiles)
    images, scenes = training.view_world().sample(5, seed=training.batch_seeds(2, 7)[0] + 3)
    for k, (scene, top, left, side) in enumerate(views):
        assert scene == scenes[k]
        want = images[k] if k < 2 else images[k][top:top + side, left:left + side]
        assert np.array_equal(shrunk[k] if k < 2 else tiles[k - 2], want)
    world = training.view_world()
    assert (world.canvas_size, world.max_objects, world.min_glyphs, world.max_glyphs, world.glyph_scale) == (
        toyvlm.world().canvas_size, toyvlm.world().max_objects, 4, 4, 1)
    assert world.glyph_cell == 0 and toyvlm.world().glyph_cell == 8  # the same world, digits placed freely
    again = training.draw_local_views(2, 7, 5)
    assert all(np.array_equal(a, b) for a, b in zip(again[0] + again[1], shrunk + tiles))


def test_local_loss_with_zero_heads_is_the_mean_log_of_the_classes():
    """Heads that output zeros guess uniformly: each field's cross-entropy is log(classes)."""
    import math

    _, _, _, views = training.draw_batch(1, 0, n_scenes=4, n_tiles=2, with_scenes=True)
    heads = training.local_heads(16)
    for head in heads.values():
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
    loss, accuracy = training.local_loss(torch.randn(len(views), 64, 16), training._local_batch(views), heads)
    expected = sum(math.log(len(c)) for c in training.LOCAL_FIELDS.values()) / len(training.LOCAL_FIELDS)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert set(accuracy) == set(training.LOCAL_FIELDS)


def test_draw_batch_adds_one_edit_negatives_after_the_hard_ones():
    images, captions, negatives = training.draw_batch(0, 5, n_scenes=6, n_tiles=3)
    _, _, with_edits = training.draw_batch(0, 5, n_scenes=6, n_tiles=3, edit_negatives=1)
    assert with_edits[:len(negatives)] == negatives and len(with_edits) == len(negatives) + 6
    for caption, edit in zip(captions, with_edits[len(negatives):]):
        assert edit in {c for _, c in sceneclip.one_edit_neighbours(caption)}


def test_loss_shares_repeated_captions_and_counts_negatives():
    e = torch.eye(3)
    scale = torch.tensor(0.0)  # temperature 1
    # images 0 and 1 share a caption: each spreads its target over both columns
    loss = training.contrastive_loss(e[:2], e[:2], ["x", "x"], scale)
    expected = -torch.log(torch.softmax(torch.tensor([1.0, 0.0]), 0)).mean()
    torch.testing.assert_close(loss, expected)
    # a hard negative equal to the true caption's embedding halves the image's probability of its caption
    plain = training.contrastive_loss(e[:1], e[:1], ["x"], scale)
    with_neg = training.contrastive_loss(e[:1], torch.cat([e[:1], e[:1]]), ["x"], scale)
    torch.testing.assert_close(with_neg - plain, torch.tensor(np.log(2) / 2, dtype=torch.float32))


# ------------------------------------------------------------------------ the candidates
def test_one_edit_neighbours_of_a_caption():
    nb = sceneclip.one_edit_neighbours(CAPTION)
    slots = [s for s, _ in nb]
    # 5 other colours and 4 other shapes per object, one other size each, 3 other relations, 9 other digits
    assert {s: slots.count(s) for s in dict.fromkeys(slots)} == {"colour": 10, "shape": 8, "size": 2,
                                                                 "relation": 3, "digit": 9}
    assert ("relation", "a small red circle above a large blue square with the digit 7 at the top left") in nb
    assert ("digit", "a small red circle left of a large blue square with the digit 3 at the top left") in nb
    truth = grammar.parse(CAPTION).normalised()
    assert all(grammar.parse(c).normalised() != truth for _, c in nb) and len({c for _, c in nb}) == len(nb)
    # two circles: making both blue (or both red) would name one kind twice, which the grammar forbids
    two = sceneclip.one_edit_neighbours("a small red circle left of a large blue circle")
    assert [s for s, _ in two].count("colour") == 8
    assert "a small blue circle left of a large blue circle" not in {c for _, c in two}


# ---------------------------------------------------------- a training smoke run, evaluated
@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """``python -m vlmlab.training toy-clip-2 train --tiny`` for 2 steps, run once for every test below."""
    out = tmp_path_factory.mktemp("sceneclip") / "toy2"
    argv = ["toy-clip-2", "train", "--tiny", "--steps", "2", "--scenes", "8", "--tiles", "4", "--output", str(out),
            "--eval-scenes", "12", "--save-every", "1", "--threads", str(torch.get_num_threads()),
            "--local-weight", "1", "--local-views", "16", "--edit-negatives", "1", "--lr", "2e-3"]  # the new recipe
    assert commands.main(argv) == 0
    return out


def test_smoke_run_writes_a_loadable_folder_with_card(smoke_run):
    from transformers import CLIPModel, CLIPProcessor

    names = {p.name for p in smoke_run.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json", "README.md",
            "metrics.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl", ".pth")) for n in names)
    assert [p.name for p in smoke_run.parent.iterdir()] == ["toy2"]  # no staging or running folder left
    model = CLIPModel.from_pretrained(smoke_run)
    CLIPProcessor.from_pretrained(smoke_run)
    metrics = json.loads((smoke_run / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["n"] == 12 and metrics["arch"] == sceneclip.TINY_ARCH
    assert (metrics["local_weight"], metrics["local_views"], metrics["edit_negatives"], metrics["lr"]) == (1.0, 16, 1, 2e-3)
    # the local heads were for training only: the checkpoint is a plain CLIPModel, every weight in use
    assert CLIPModel(model.config).state_dict().keys() == model.state_dict().keys()
    assert metrics["parameters"] == sum(p.numel() for p in model.parameters())
    card = (smoke_run / "README.md").read_text()
    assert f"| exact caption | {100 * metrics['seen_exact']:.1f} % | {100 * metrics['heldout_exact']:.1f} % |" in card


def test_evaluation_functions_on_a_tiny_model(smoke_run):
    from vlmlab.clip import load_clip

    model, processor = load_clip(str(smoke_run))
    images, scenes = sceneclip.scene_world().sample(6, seed=11)
    scores = sceneclip.similarities(model, processor, images, [[grammar.caption(s), "a small red circle"]
                                                               for s in scenes])
    assert len(scores) == 6 and all(s.shape == (2,) for s in scores)
    r = sceneclip.retrieval(model, processor, images, scenes)
    assert set(r) >= {"exact", "candidates", "slot_colour", "slot_shape", "gallery", "gallery_size"}
    assert all(0 <= v <= 1 for k, v in r.items() if k not in ("candidates", "gallery_size"))
    sizes = [len({grammar.caption(t) for t in scenes if len(t.objects) == len(s.objects)}) for s in scenes]
    assert r["gallery_size"] == pytest.approx(np.mean(sizes)) and 0 <= r["gallery"] <= 1
    h = sceneclip.hard_negative_accuracy(model, processor, images, scenes)
    assert 0 <= h["all"] <= 1 and all(isinstance(h[k], int) for k in h if k.startswith("pairs_"))
    canvases, cscenes = sceneclip.canvas_world().sample(3, seed=12)
    g = sceneclip.glyph_reading(model, processor, canvases, cscenes)
    assert g["digits"] == sum(len(s.glyphs) for s in cscenes) and 0 <= g["tile"] <= 1 and 0 <= g["downscaled"] <= 1


def test_tower_probes_stand_beside_a_random_tower_and_chance(smoke_run):
    from vlmlab import toyvlm
    from vlmlab.clip import load_clip

    model, processor = load_clip(str(smoke_run))
    probe = dict(n_fit=40, n_test=20)
    m = sceneclip.tower_probes(model, processor, fields=("colour", "digit"), views=("tile",), **probe)
    assert list(m) == [f"probe_{f}_tile{end}" for f in ("colour", "digit") for end in ("", "_random", "_chance")]
    assert m["probe_digit_tile"] == toyvlm.tower_probe(model.vision_model, processor.image_processor, "digit", "tile",
                                                       **probe)  # digits anywhere in their corner
    assert m["probe_digit_tile_random"] == toyvlm.tower_probe(toyvlm.random_tower_like(model.vision_model),
                                                              processor.image_processor, "digit", "tile", **probe)
    assert (m["probe_colour_tile_chance"], m["probe_digit_tile_chance"]) == (1 / 6, 0.1)
    table = sceneclip.probe_table(m).splitlines()
    assert table[0].split() == ["probe", "(layer", "-2", "patch", "tokens)", "trained", "random", "chance"]
    assert table[2].split() == ["digit_tile", f"{m['probe_digit_tile']:.2f}", f"{m['probe_digit_tile_random']:.2f}",
                                "0.10"]


def test_evaluation_refuses_bad_input(tmp_path, smoke_run):
    from vlmlab.clip import load_clip

    model, processor = load_clip(str(smoke_run))
    with pytest.raises(ValueError, match=r"images and candidates must match in number, got 2 images and 1"):
        sceneclip.similarities(model, processor, np.zeros((2, 64, 64, 3), np.uint8), [["a small red circle"]])
    world = SceneWorld(256, max_glyphs=0)
    images, scenes = world.sample(2, seed=0)
    with pytest.raises(ValueError, match=r"the scenes hold no digits"):
        sceneclip.glyph_reading(model, processor, images, scenes)
    with pytest.raises(FileNotFoundError, match=r"holds no checkpoint \(no config.json\)"):
        sceneclip.evaluate(tmp_path)


# ------------------------------------------------------------------- the shipped checkpoint
def test_shipped_checkpoint_files_and_loading():
    from transformers import CLIPModel, CLIPProcessor
    from vlmlab.clip import load_clip

    files = [p for p in CKPT.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 15_000_000
    assert not any(p.suffix in {".bin", ".pt", ".pkl", ".pth"} for p in files)
    model = CLIPModel.from_pretrained(CKPT)
    processor = CLIPProcessor.from_pretrained(CKPT)
    assert model.config.vision_config.image_size == 64 and model.config.vision_config.patch_size == 8
    assert model.config.text_config.eos_token_id == processor.tokenizer.eos_token_id != 2
    loaded, _ = load_clip(str(CKPT))
    for (name, p), (_, q) in zip(model.named_parameters(), loaded.named_parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=name)


def test_shipped_model_card_is_the_template_filled_from_metrics(tmp_path):
    """README.md is exactly what `python -m vlmlab.training toy-clip-2 card` writes from metrics.json."""
    (tmp_path / "metrics.json").write_text((CKPT / "metrics.json").read_text())
    assert training.write_card(tmp_path).read_text(encoding="utf-8") == (CKPT / "README.md").read_text(encoding="utf-8")
    card = (CKPT / "README.md").read_text(encoding="utf-8").lower()
    for history in ("issue", "engineer", "seed tutorial", "we fixed"):
        assert history not in card
    with pytest.raises(KeyError, match="name"):
        cards.render("sceneclip_card.md", {})


def test_shipped_checkpoint_on_fixed_scenes():
    """Exact outputs of the shipped model on a few fixed fresh scenes (seeds never used in training)."""
    from vlmlab.clip import load_clip
    from vlmlab.glyphs import DIGITS

    model, processor = load_clip(str(CKPT))
    images, scenes = sceneclip.scene_world().sample(8, seed=sceneclip.EVAL_SEED + 100)
    captions = [grammar.caption(s) for s in scenes]
    # each scene picks its own caption among the eight
    assert [int(s.argmax()) for s in sceneclip.similarities(model, processor, images, [captions] * 8)] == list(range(8))
    # ... and, in six of the eight, beats every caption with one colour changed (index 0: the truth)
    colour = [[c] + [n for kind, n in sceneclip.one_edit_neighbours(c) if kind == "colour"] for c in captions]
    assert [int(s.argmax()) for s in sceneclip.similarities(model, processor, images, colour)] == [15, 0, 0, 0, 0, 3, 0, 0]
    # digits read from corner tiles of 256-pixel canvases: four of five right
    canvases, cscenes = sceneclip.canvas_world().sample(4, seed=sceneclip.EVAL_SEED + 101)
    tiles = [t for image, scene in zip(canvases, cscenes) for t in sceneclip.corner_tiles(image, scene)]
    assert [g.char for _, g in tiles] == ["5", "8", "3", "1", "1"]
    cands = [[sceneclip.tile_caption(d, g.corner) for d in DIGITS] for _, g in tiles]
    scores = sceneclip.similarities(model, processor, [t for t, _ in tiles], cands)
    assert [DIGITS[int(s.argmax())] for s in scores] == ["2", "8", "3", "1", "1"]


def test_shipped_metrics_match_the_card_and_the_evaluation_keys():
    metrics = json.loads((CKPT / "metrics.json").read_text())
    assert metrics["n"] == 500 and metrics["seed"] == sceneclip.EVAL_SEED and metrics["hard_negatives"] is True
    assert metrics["glyph_tile"] > metrics["glyph_downscaled"] + 0.3  # tiles make the digits readable
    card = (CKPT / "README.md").read_text(encoding="utf-8")
    assert f"| the 64-pixel corner tile, at full resolution | {100 * metrics['glyph_tile']:.1f} % |" in card


def test_the_default_recipe_is_the_shipped_checkpoints_and_the_ablation_differs_only_in_its_flags():
    """`train` with no options reproduces the shipped toy CLIP 2 (contrastive + local objective), as its card
    says; the ablation's command turns the local objective and the one-edit negatives off, and nothing else."""
    import inspect

    from vlmlab.data import TOY_CLIP_2, TOY_CLIP_2_CONTRASTIVE, TRAIN_COMMANDS, toy_model_dir

    shipped = json.loads((toy_model_dir(TOY_CLIP_2) / "metrics.json").read_text())
    defaults = {k: v.default for k, v in inspect.signature(training.train).parameters.items()}
    for key in ("steps", "n_scenes", "n_tiles", "lr", "edit_negatives", "local_weight", "local_views", "local_layer",
                "weight_decay", "warmup"):
        assert defaults[key] == shipped[key], key
    assert shipped["local_weight"] > 0 and shipped["edit_negatives"] > 0
    ablation = json.loads((toy_model_dir(TOY_CLIP_2_CONTRASTIVE) / "metrics.json").read_text())
    assert ablation["lr"] == 1e-3 and ablation.get("local_weight", 0) == 0 and ablation.get("edit_negatives", 0) == 0
    assert ablation["steps"] == shipped["steps"] and ablation["n_scenes"] == shipped["n_scenes"]
    command = TRAIN_COMMANDS[TOY_CLIP_2_CONTRASTIVE]
    assert "--lr 1e-3 --edit-negatives 0 --local-weight 0 --local-views 0" in command


