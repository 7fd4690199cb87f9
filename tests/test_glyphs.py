"""The pixel font: every digit distinct, drawn identically, read back exactly."""

import doctest
import itertools

import numpy as np
import pytest

from vlmlab import glyphs
from vlmlab.glyphs import DIGITS, FONT, bitmap, draw_glyph, glyph_size, read_glyph


def test_font_has_ten_distinct_digits_of_5_by_3():
    assert DIGITS == tuple("0123456789")
    assert all(len(rows) == 5 and all(len(r) == 3 for r in rows) for rows in FONT.values())
    for a, b in itertools.combinations(DIGITS, 2):
        assert (bitmap(a) != bitmap(b)).any(), (a, b)


def test_bitmap_repeats_each_font_pixel_scale_times():
    seven = bitmap("7", scale=3)
    assert seven.shape == glyph_size(3) == (15, 9)
    # Top row of "7" is all ink, the rest only its right column.
    assert seven[:3].all() and seven[3:, 6:].all() and not seven[3:, :6].any()
    with pytest.raises(ValueError):
        seven[0, 0] = False  # shared templates are read-only


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_read_glyph_reads_every_digit_on_any_ground(scale):
    for d in DIGITS:
        ink = bitmap(d, scale)
        assert read_glyph(np.where(ink, 30, 240), scale) == d
        assert read_glyph(np.where(ink, 0, 90), scale) == d  # contrast and brightness do not matter


def test_draw_glyph_paints_ink_only_on_the_bitmap():
    image = np.full((9, 7, 3), 200, np.uint8)
    draw_glyph(image, "1", top=2, left=3, scale=1, ink=(10, 20, 30))
    painted = (image != 200).any(-1)
    assert painted.sum() == bitmap("1").sum() == 8
    assert np.array_equal(painted[2:7, 3:6], bitmap("1"))
    assert (image[painted] == (10, 20, 30)).all()


def test_bad_input():
    with pytest.raises(ValueError, match=r"char must be one of the digits .* got 'A'"):
        bitmap("A")
    with pytest.raises(ValueError, match="scale must be a positive int, got 0"):
        bitmap("1", scale=0)
    with pytest.raises(ValueError, match=r"crop must be \(height, width\)=\(10, 6\) for scale=2, got shape \(5, 3\)"):
        read_glyph(np.zeros((5, 3)), scale=2)
    with pytest.raises(ValueError, match=r"does not fit in an image of \(height, width\)=\(6, 6\)"):
        draw_glyph(np.zeros((6, 6, 3), np.uint8), "1", top=2, left=0)


def test_docstring_examples_run():
    result = doctest.testmod(glyphs, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
