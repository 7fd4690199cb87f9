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
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        world.sample(2, seed=-1)
    with pytest.raises(ValueError, match="n must be"):
        world.sample(0, seed=1)
    with pytest.raises(ValueError, match="jitter"):
        ShapesWorld(jitter=0.5)
