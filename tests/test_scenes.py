"""ShapesWorld 2: the scenes' ground truth is what the images show."""

import dataclasses
import doctest
import hashlib
import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from vlmlab import scenes as scenes_module
from vlmlab.glyphs import read_glyph
from vlmlab.grammar import caption, describe, questions
from vlmlab.scenes import (
    CORNERS,
    HELDOUT_PAIRS,
    HELDOUT_RELATIONS,
    INK,
    SCENE_SHAPES,
    SIZE_FRACTIONS,
    SceneWorld,
    glyph_reading_accuracy,
    relation,
    render,
    shape_mask,
)
from vlmlab.shapes import COLOURS


@pytest.fixture(scope="module")
def world():
    return SceneWorld()


@pytest.fixture(scope="module")
def many(world):
    """500 scenes of the default world and their images."""
    return world.sample(500, seed=21, split="all")


def painted(image, obj):
    """Bool mask over ``obj.box``: pixels that carry the object's colour."""
    top, left, bottom, right = obj.box
    return (image[top:bottom, left:right] == COLOURS[obj.colour]).all(-1)


def centroid(image, obj):
    """(row, col) of the centre of the object's painted pixels, in image coordinates."""
    ys, xs = np.nonzero(painted(image, obj))
    return ys.mean() + obj.box[0], xs.mean() + obj.box[1]


def count_blobs(mask):
    """Number of 4-connected regions of True in ``mask``: label propagation until nothing changes."""
    h, w = mask.shape
    big = h * w
    labels = np.where(mask, np.arange(big).reshape(h, w), big)
    while True:
        padded = np.pad(labels, 1, constant_values=big)
        neighbours = np.stack([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:], labels])
        new = np.where(mask, neighbours.min(0), big)
        if np.array_equal(new, labels):
            return len(np.unique(labels[mask]))
        labels = new


def test_a_fixed_seed_gives_this_scene(world):
    scene = world.sample_scenes(1, seed=9)[0]
    data = scene.to_dict()
    assert data["canvas_size"] == (64, 64)
    assert [(o["colour"], o["shape"], o["size"], o["centre"], o["box"]) for o in data["objects"]] == [
        ("orange", "square", "large", (45, 38), (38, 31, 53, 46)),
        ("red", "cross", "large", (28, 43), (21, 36, 36, 51)),
    ]
    assert [(g["char"], g["corner"], g["box"]) for g in data["glyphs"]] == [("0", "bottom right", (58, 57, 63, 60))]
    assert data["background"] == (250, 250, 250)
    assert caption(scene) == "a large orange square below a large red cross with the digit 0 at the bottom right"
    assert [(q.kind, q.text, q.answer) for q in questions(scene)] == [
        ("count", "how many objects?", "two"),
        ("count", "how many squares?", "one"),
        ("count", "how many crosses?", "one"),
        ("colour", "what colour is the square?", "orange"),
        ("colour", "what colour is the cross?", "red"),
        ("shape", "what shape is the orange object?", "square"),
        ("shape", "what shape is the red object?", "cross"),
        ("size", "what size is the orange square?", "large"),
        ("size", "what size is the red cross?", "large"),
        ("relation", "what is above the square?", "red cross"),
        ("relation", "what is below the cross?", "orange square"),
        ("glyph", "what digit is at the bottom right?", "0"),
    ]
    # Pure numpy drawing: the same bytes on every platform.
    assert hashlib.sha256(render(scene).tobytes()).hexdigest() == (
        "2a52f03bcbeec0382c112a7059e19cad63f8a1560e4c6663ae71f215075c3dfe"
    )
    json.dumps(data)  # the ground truth is plain data


def test_sampling_is_reproducible_and_images_are_the_rendered_scenes(world):
    images, scenes = world.sample(6, seed=3)
    again, same = world.sample(6, seed=3)
    other, different = world.sample(6, seed=4)
    assert images.shape == (6, 64, 64, 3) and images.dtype == np.uint8
    assert np.array_equal(images, again) and scenes == same
    assert [caption(s) for s in scenes] != [caption(s) for s in different]
    assert all(np.array_equal(image, render(scene)) for image, scene in zip(images, scenes))
    assert world.sample_scenes(6, seed=3) == scenes


def _corner_squares(world):
    (height, width), s = world.canvas_size, world.slot
    return [(0, 0, s, s), (0, width - s, s, width), (height - s, 0, height, s), (height - s, width - s, height, width)]


def _overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_objects_never_overlap_and_keep_off_the_glyph_corners(world, many):
    images, scenes = many
    height, width = world.canvas_size
    gap = world.gap
    corners = _corner_squares(world)
    for image, scene in zip(images, scenes):
        boxes = [o.box for o in scene.objects]
        for i, (t, l, b, r) in enumerate(boxes):
            assert 0 <= t < b <= height and 0 <= l < r <= width
            grown = (t - gap, l - gap, b + gap, r + gap)
            assert not any(_overlaps(grown, o) for o in boxes[i + 1:] + corners)
        # Inside each box the object's colour covers exactly its shape; outside every box no object colour.
        outside = np.ones((height, width), bool)
        for obj in scene.objects:
            assert np.array_equal(painted(image, obj), shape_mask(obj)), caption(scene)
            t, l, b, r = obj.box
            outside[t:b, l:r] = False
        palette = np.array([COLOURS[c] for c in COLOURS])
        assert not (image[outside][:, None, :] == palette[None]).all(-1).any()


def test_objects_sit_where_the_ground_truth_says(world, many):
    images, scenes = many
    sizes = {(s, size): [] for s in SCENE_SHAPES for size in ("small", "large")}
    for image, scene in zip(images, scenes):
        for obj in scene.objects:
            assert tuple(image[obj.centre]) == COLOURS[obj.colour]  # the pixel at the centre has its colour
            sizes[obj.shape, obj.size].append(painted(image, obj).sum())
        for a in scene.objects:
            for b in scene.objects:
                if a is b:
                    continue
                (ay, ax), (by, bx) = centroid(image, a), centroid(image, b)
                dy, dx = ay - by, ax - bx
                seen = ("left of" if dx < 0 else "right of") if abs(dx) > abs(dy) else ("above" if dy < 0 else "below")
                assert relation(a, b) == seen
                # Every pair is in a clear relation: the offsets differ by the margin.
                cdy, cdx = a.centre[0] - b.centre[0], a.centre[1] - b.centre[1]
                assert abs(abs(cdy) - abs(cdx)) >= world.margin
    for shape in SCENE_SHAPES:
        assert max(sizes[shape, "small"]) < min(sizes[shape, "large"]), shape


def test_counts_kinds_and_glyph_corners_vary(many):
    _, scenes = many
    n_objects = Counter(len(s.objects) for s in scenes)
    assert set(n_objects) == {1, 2, 3, 4} and min(n_objects.values()) > 80
    repeats = sum(len({o.kind for o in s.objects}) < len(s.objects) for s in scenes)
    assert repeats > 50  # material for "two green triangles"
    assert {g.corner for s in scenes for g in s.glyphs} == set(CORNERS)
    assert Counter(len(s.glyphs) for s in scenes).keys() == {0, 1, 2}


def test_questions_agree_with_the_image(many):
    images, scenes = many
    kinds = Counter()
    for image, scene in zip(images, scenes):
        coloured = (image.max(-1).astype(int) - image.min(-1)) > 60  # shapes are saturated, grey is not
        for q in questions(scene):
            kinds[q.kind] += 1
            if q.text == "how many objects?":
                assert count_blobs(coloured) == ["one", "two", "three", "four"].index(q.answer) + 1
            elif q.kind == "colour":
                (obj,) = [o for o in scene.objects if q.text == f"what colour is the {o.shape}?"]
                assert tuple(image[obj.centre]) == COLOURS[q.answer]
            elif q.kind == "glyph":
                (glyph,) = [g for g in scene.glyphs if q.text.endswith(f"at the {g.corner}?")]
                t, l, b, r = glyph.box
                assert read_glyph(image[t:b, l:r], glyph.scale) == q.answer
                assert (image[t:b, l:r] == INK).all(-1).any()
            elif q.kind == "relation":
                rel, shape = q.text[len("what is "):-1].rsplit(" the ", 1)
                (b,) = [o for o in scene.objects if o.shape == shape]
                answers = []
                for a in scene.objects:
                    if a is b:
                        continue
                    (ay, ax), (by, bx) = centroid(image, a), centroid(image, b)
                    dy, dx = ay - by, ax - bx
                    seen = ("left of" if dx < 0 else "right of") if abs(dx) > abs(dy) else ("above" if dy < 0 else "below")
                    if seen == rel:
                        answers.append(f"{a.colour} {a.shape}")
                assert answers == [q.answer]
    assert set(kinds) == {"count", "colour", "shape", "size", "relation", "glyph"}


def test_glyphs_are_legible_at_full_size_and_not_after_shrinking_four_times():
    """The reason for tiling, measured: nearest-template reading of every digit's box."""
    world = SceneWorld(256, max_glyphs=4)
    images, scenes = world.sample(150, seed=5)
    assert sum(len(s.glyphs) for s in scenes) > 250
    assert glyph_reading_accuracy(images, scenes) == 1.0  # every digit read at full resolution
    assert glyph_reading_accuracy(images, scenes, shrink_to=64) < 0.3  # near chance (1 in 10) at 64 px
    # By hand for one scene: shrink to 64 px, enlarge back, read the same box.
    image, scene = images[0], scenes[0]
    back = np.asarray(Image.fromarray(image).resize((64, 64), Image.BILINEAR).resize((256, 256), Image.BILINEAR))
    read = [read_glyph(back[g.box[0]:g.box[2], g.box[1]:g.box[3]], g.scale) == g.char for g in scene.glyphs]
    assert glyph_reading_accuracy(images[:1], scenes[:1], shrink_to=(64, 64)) == sum(read) / len(read)
    # shrink_to is (height, width): "shrinking" a wide canvas to its own size changes nothing.
    wide = SceneWorld((128, 256), max_glyphs=4)
    images, scenes = wide.sample(60, seed=2)
    assert glyph_reading_accuracy(images, scenes, shrink_to=(128, 256)) == 1.0
    assert glyph_reading_accuracy(images, scenes, shrink_to=(32, 64)) < 0.35


def test_heldout_split(world):
    train = world.sample_scenes(800, seed=1, split="train")
    heldout = world.sample_scenes(300, seed=2, split="heldout")
    everything = world.sample_scenes(800, seed=3, split="all")
    train_kinds = {o.kind for s in train for o in s.objects}
    assert world.heldout_pairs == HELDOUT_PAIRS
    assert not train_kinds & set(HELDOUT_PAIRS)  # never shown in training
    assert train_kinds == set(world.train_pairs) and len(train_kinds) == 6 * 5 - 5
    # Every word still appears in training: a held-out pair is a new combination of known words.
    assert {c for c, _ in train_kinds} == set(COLOURS) and {s for _, s in train_kinds} == set(SCENE_SHAPES)
    assert all(world.split_of(s) == "heldout" for s in heldout)
    assert {o.kind for s in heldout for o in s.objects} >= set(HELDOUT_PAIRS)
    assert Counter(world.split_of(s) for s in everything).keys() == {"train", "heldout", "heldout_relation"}

    custom = SceneWorld(colours=["red", "blue"], shapes=["circle", "square"], heldout=[("red", "square")])
    assert custom.train_pairs == (("red", "circle"), ("blue", "circle"), ("blue", "square"))
    assert all(o.kind != ("red", "square") for s in custom.sample_scenes(200, seed=0) for o in s.objects)


def test_heldout_relation_pairings_are_never_said_in_training(world):
    """Training images show triangles above things, but their captions never say "triangle above"."""
    train = world.sample_scenes(1500, seed=6, split="train")
    said, shown = set(), set()
    for scene in train:
        d = describe(scene)
        if d.relation:
            said.add((d.phrases[0].shape, d.relation))
        for a in scene.objects:
            for b in scene.objects:
                if a.kind != b.kind:
                    shown.add((a.shape, relation(a, b)))
    assert world.heldout_relations == HELDOUT_RELATIONS
    assert not said & set(HELDOUT_RELATIONS)
    assert set(HELDOUT_RELATIONS) <= shown  # in the images, just never in those words
    assert len(said) == len(SCENE_SHAPES) * 4 - len(HELDOUT_RELATIONS)  # every other pairing is said
    novel = world.sample_scenes(100, seed=7, split="heldout_relation")
    for scene in novel:
        d = describe(scene)
        assert len(scene.objects) == 2 and (d.phrases[0].shape, d.relation) in HELDOUT_RELATIONS
        assert world.split_of(scene) == "heldout_relation"
        assert all(o.kind in world.train_pairs for o in scene.objects)


def test_single_object_case_and_non_square_canvas():
    single = SceneWorld(max_objects=1)
    for scene in single.sample_scenes(50, seed=0):
        (obj,) = scene.objects
        assert caption(scene, with_glyphs=False) == f"a {obj.size} {obj.colour} {obj.shape}"
    wide = SceneWorld((56, 96), max_glyphs=4)
    images, scenes = wide.sample(40, seed=1)
    assert images.shape == (40, 56, 96, 3)
    for scene in scenes:
        for g in scene.glyphs:
            t, l, b, r = g.box
            assert (t < wide.slot) == g.corner.startswith("top") and (b > 56 - wide.slot) == g.corner.startswith("bottom")
            assert (l < wide.slot) == g.corner.endswith("left") and (r > 96 - wide.slot) == g.corner.endswith("right")


def test_object_scale_grows_every_object_and_keeps_the_layout_rules():
    plain, big = SceneWorld(128, max_objects=3), SceneWorld(128, max_objects=3, object_scale=1.6)
    assert "objects x1.6" in repr(big) and "objects x" not in repr(plain)
    images, scenes = big.sample(60, seed=2)
    for image, scene in zip(images, scenes):
        for obj in scene.objects:
            assert obj.radius == pytest.approx(1.6 * SIZE_FRACTIONS[obj.size] * 128)
            assert np.array_equal(painted(image, obj), shape_mask(obj))
        boxes = [o.box for o in scene.objects]
        for i, a in enumerate(boxes):  # still apart by the gap
            for b in boxes[i + 1:]:
                assert a[2] + big.gap <= b[0] or b[2] + big.gap <= a[0] or a[3] + big.gap <= b[1] or b[3] + big.gap <= a[1]
    # Only the radii change: a scene's first draws (its objects' kinds and sizes) are the same at any scale.
    first, first_big = plain.sample_scenes(1, 5)[0], big.sample_scenes(1, 5)[0]
    assert [(o.colour, o.shape, o.size) for o in first.objects] == [(o.colour, o.shape, o.size) for o in first_big.objects]


@pytest.mark.parametrize("kwargs, match", [
    (dict(canvas_size=128, object_scale=1.6), r"4 large objects at object_scale=1.6 do not fit on canvas \(128, 128\) .*fewer objects"),
    (dict(canvas_size=128, max_objects=3, object_scale=1.8), r"3 large objects at object_scale=1.8 do not fit"),
    (dict(object_scale=0.1), r"object_scale must be in \[0.25, 4.0\], got 0.1"),
])
def test_object_scale_that_cannot_fit_is_refused_up_front(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SceneWorld(**kwargs)


def test_clutter_and_noise_are_part_of_the_scene():
    world = SceneWorld(clutter=6, noise=8.0)
    (scene,) = world.sample_scenes(1, seed=4)
    assert len(scene.clutter) == 6 and scene.noise == 8.0
    clean = render(dataclasses.replace(scene, noise=0.0))
    noisy = render(scene)
    assert np.array_equal(noisy, render(scene))  # the noise comes from the scene's own seed
    assert 4.0 < np.abs(noisy.astype(int) - clean).mean() < 8.0  # about 8 * sqrt(2/pi) = 6.4
    assert all(tuple(clean[o.centre]) == COLOURS[o.colour] for o in scene.objects)  # clutter stays under objects


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(max_objects=0), ValueError, r"max_objects must be in \[1, 4\] \(at most 4 objects fit"),
        (dict(max_objects=5), ValueError, r"max_objects must be in \[1, 4\] \(at most 4 objects fit .*got 5"),
        (dict(min_objects=-1), ValueError, r"min_objects must be in \[1, 4\]"),
        (dict(min_objects=3, max_objects=2), ValueError, r"min_objects must be in \[1, 2\]"),
        (dict(max_objects=2.5), TypeError, r"max_objects must be an int in \[1, 4\] \(at most 4 objects fit without overlap\), got 2.5"),
        (dict(colours=["red", "pink"]), ValueError, r"colours: unknown name 'pink'; accepted names are \['red'"),
        (dict(shapes=["hexagon"]), ValueError, r"shapes: unknown name 'hexagon'; accepted names are \['circle'"),
        (dict(colours="red"), TypeError, r"colours must be a list of names"),
        (dict(heldout=[("red", "hexagon")]), ValueError, r"heldout shape must be one of"),
        (dict(heldout_relations=[("circle", "behind")]), ValueError, r"heldout_relations relation must be one of"),
        (dict(canvas_size=24), ValueError, r"canvas_size must be at least 32 pixels a side, got \(24, 24\)"),
        (dict(glyph_scale=2), ValueError,
         r"canvas_size \(64, 64\) is too small for glyph_scale=2: glyph_scale must be in \[1, 1\] .*at least 79 px"),
        (dict(canvas_size=(40, 80)), ValueError, r"too small for glyph_scale=1: no glyph fits .*at least 43 px .*max_glyphs=0"),
        (dict(max_glyphs=5), ValueError, r"max_glyphs must be in \[0, 4\] \(one per corner\)"),
        (dict(noise=-1.0), ValueError, r"noise must be in \[0.0, 64.0\]"),
    ],
)
def test_bad_world_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        SceneWorld(**kwargs)


def test_bad_sampling_arguments(world):
    SceneWorld(canvas_size=(40, 80), max_glyphs=0)  # no glyphs: a small canvas is fine
    with pytest.raises(ValueError, match=r"split must be one of \['all', 'heldout', 'heldout_relation', 'train'\], got 'test'"):
        world.sample(2, seed=0, split="test")
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        world.sample(2, seed=-1)
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        world.sample_scenes(0, seed=0)
    with pytest.raises(ValueError, match="needs held-out pairs"):
        SceneWorld(heldout=()).sample(1, seed=0, split="heldout")
    with pytest.raises(ValueError, match=r"needs held-out relation pairings and max_objects >= 2, .*max_objects=1"):
        SceneWorld(max_objects=1).sample(1, seed=0, split="heldout_relation")
    with pytest.raises(TypeError, match="scene must be a vlmlab.scenes.Scene"):
        render("a small red circle")
    images, scenes = SceneWorld(max_glyphs=0).sample(2, seed=0)
    with pytest.raises(ValueError, match="the scenes hold no glyphs; .* max_glyphs > 0"):
        glyph_reading_accuracy(images, scenes)
    with pytest.raises(ValueError, match="must match in number, got 1 images and 2 scenes"):
        glyph_reading_accuracy(images[:1], scenes)


def test_docstring_examples_run():
    result = doctest.testmod(scenes_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_glyph_cell_centres_every_digit_in_one_patch_of_the_grid():
    plain, snapped = SceneWorld(128, max_glyphs=4), SceneWorld(128, max_glyphs=4, glyph_cell=8)
    assert "glyphs in 8-px cells" in repr(snapped) and "cells" not in repr(plain)
    images, scenes = snapped.sample(80, seed=4)
    places, cells = set(), set()
    for image, scene in zip(images, scenes):
        for g in scene.glyphs:
            top, left, bottom, right = g.box
            assert (top // 8, left // 8) == ((bottom - 1) // 8, (right - 1) // 8)  # inside one cell
            places.add((top % 8, left % 8))
            cells.add((g.corner, top // 8, left // 8))
            assert read_glyph(image[top:bottom, left:right], g.scale) == g.char  # drawn where the scene says
        for obj in scene.objects:  # objects still keep off the corner squares
            assert not any(_overlaps(obj.box, c) for c in _corner_squares(snapped))
    assert places == {(1, 2)}  # a 5x3 glyph in the middle of an 8-pixel cell, the same in every corner
    assert len(cells) == 16  # two cells a side fit in each 18-pixel corner square: four places per corner
    # Random offsets by default: glyphs straddle cell borders.
    straddle = [g for s in plain.sample_scenes(80, 4) for g in s.glyphs if g.box[0] // 8 != (g.box[2] - 1) // 8]
    assert straddle


@pytest.mark.parametrize("kwargs, match", [
    (dict(glyph_cell=6), r"glyph_cell=6 is too small for glyph_scale=1: .* at least 7 px"),
    (dict(glyph_cell=20), r"glyph_cell=20 is larger than the corner squares of canvas \(128, 128\) \(18 px\)"),
    (dict(glyph_cell=-1), r"glyph_cell must be in \[0, 10000\], got -1"),
])
def test_glyph_cell_that_cannot_hold_a_glyph_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SceneWorld(128, max_glyphs=4, **kwargs)


def test_min_glyphs_fills_every_corner_and_leaves_the_default_scenes_unchanged():
    full = SceneWorld(128, max_glyphs=4, min_glyphs=4)
    assert "4-4 glyphs" in repr(full) and "up to 4 glyphs" in repr(SceneWorld(128, max_glyphs=4))
    for scene in full.sample_scenes(30, 5):
        assert sorted(g.corner for g in scene.glyphs) == sorted(CORNERS)
    counts = Counter(len(s.glyphs) for s in SceneWorld(128, max_glyphs=4, min_glyphs=2).sample_scenes(200, 5))
    assert set(counts) == {2, 3, 4}
    # min_glyphs=0 draws the same random numbers as before the keyword existed: the same scenes.
    assert SceneWorld(128, max_glyphs=4, min_glyphs=0).sample_scenes(20, 7) == SceneWorld(128, max_glyphs=4).sample_scenes(20, 7)


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_glyphs=2, min_glyphs=3), r"min_glyphs must be in \[0, 2\] \(0 to max_glyphs\), got 3"),
    (dict(min_glyphs=-1), r"min_glyphs must be in \[0, 2\] \(0 to max_glyphs\), got -1"),
])
def test_min_glyphs_outside_its_range_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SceneWorld(128, **kwargs)


def test_a_draw_whose_objects_find_no_room_is_drawn_again(monkeypatch):
    """Four large objects at 1.5x nearly fill a 128-pixel canvas: rarely, one draw finds no layout. The
    scene is drawn again, sizes and all, instead of sample() failing; every other scene is unchanged."""
    world = SceneWorld(128, max_objects=4, min_glyphs=4, max_glyphs=4, glyph_cell=8, object_scale=1.5)
    failures = []
    place = SceneWorld._place

    def counting_place(self, rng, radii, tries=200):
        try:
            return place(self, rng, radii, tries)
        except RuntimeError:
            failures.append(len(radii))
            raise

    monkeypatch.setattr(SceneWorld, "_place", counting_place)
    scenes = world.sample_scenes(16, 9)  # this seed's sixteen scenes include one such draw
    assert failures and len(scenes) == 16
    for scene in scenes:
        boxes = [o.box for o in scene.objects]
        assert all(not _overlaps(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
