"""ShapesWorld: every caption, reproducible samples, images that show what the caption says."""

import numpy as np
import pytest

from vlmlab.shapes import COLOURS, ShapesWorld


def test_world_size_and_captions():
    world = ShapesWorld()
    caps = world.captions()
    assert len(caps) == len(set(caps)) == 6 * 4 * 5 * 2
    assert len(world.colours) >= 6 and len(world.shapes) >= 4 and len(world.positions) >= 5 and len(world.sizes) == 2
    assert "a small red circle at the top left" in caps
    assert "a large blue cross in the center" in caps
    assert world.parse("a small red circle at the top left").position == "top left"


def test_sample_is_reproducible_and_seed_dependent():
    world = ShapesWorld()
    a_imgs, a_caps = world.sample(8, seed=3)
    b_imgs, b_caps = world.sample(8, seed=3)
    c_imgs, c_caps = world.sample(8, seed=4)
    assert a_caps == b_caps
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a_imgs, b_imgs))
    assert a_caps != c_caps
    assert all(im.size == (64, 64) and im.mode == "RGB" for im in a_imgs)
    assert set(a_caps) <= set(world.captions())


def test_images_show_the_caption():
    """The shape's pixels have the caption's colour, sit in the caption's quadrant, and large > small."""
    world = ShapesWorld()
    images, caps = world.sample(60, seed=11)
    for image, cap in zip(images, caps):
        scene = world.parse(cap)
        x = np.asarray(image).astype(int)
        mask = (np.abs(x - np.array(COLOURS[scene.colour])).sum(-1) < 10)
        assert mask.sum() > 20, cap
        ys, xs = np.nonzero(mask)
        cy, cx = ys.mean() / 64, xs.mean() / 64
        if "top" in scene.position:
            assert cy < 0.5, cap
        if "bottom" in scene.position:
            assert cy > 0.5, cap
        if "left" in scene.position:
            assert cx < 0.5, cap
        if "right" in scene.position:
            assert cx > 0.5, cap
        if scene.position == "center":
            assert abs(cy - 0.5) < 0.1 and abs(cx - 0.5) < 0.1, cap
    small = np.mean([np.asarray(world.render(f"a small red {s} in the center")).std() for s in world.shapes])
    large = np.mean([np.asarray(world.render(f"a large red {s} in the center")).std() for s in world.shapes])
    assert large > small


def test_bad_input():
    world = ShapesWorld()
    with pytest.raises(ValueError, match="not in this world"):
        world.parse("a photo of a cat")
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        world.sample(2, seed=-1)
    with pytest.raises(ValueError, match="n must be"):
        world.sample(0, seed=1)
    with pytest.raises(ValueError, match=r"jitter must be in \[0, 0.1\] \(a fraction of the image side\), got 0.5"):
        ShapesWorld(jitter=0.5)


def test_single_object_world_is_pinned():
    """The toy CLIP was trained on these exact images: a change of drawing or sampling must show here."""
    import hashlib

    images, caps = ShapesWorld().sample(16, seed=0)
    pixels = np.stack([np.asarray(image) for image in images])
    assert caps[:3] == [
        "a small orange circle in the center",
        "a small yellow cross at the top right",
        "a small yellow circle at the top right",
    ]
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == (
        "85ff20c30fd6184b09a1f27cc305fdd7cbde80295acf0f8cc6611e7bf3d0edaa"
    )


def test_jitter_changes_size_by_up_to_twice_jitter():
    """The radius is scaled by 1 + 2u with u in [-jitter, jitter], as the docstring says."""
    world = ShapesWorld(jitter=0.1, background_noise=0.0)
    nominal = (np.asarray(world.render("a large red square in the center")) != (235, 235, 235)).any(-1).sum()
    areas = [
        (np.asarray(world.render("a large red square in the center", rng=k)) != (235, 235, 235)).any(-1).sum()
        for k in range(200)
    ]
    # Area goes with the square of the radius: (1 +- 0.2)^2 = 0.64 .. 1.44 of nominal (a change of
    # +-jitter alone would stay within 0.81 .. 1.21); whole pixels widen the range a little.
    assert min(areas) / nominal < 0.8 and max(areas) / nominal > 1.25
    assert 0.55 < min(areas) / nominal and max(areas) / nominal < 1.6
