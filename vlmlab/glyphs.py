"""A 3 x 5 pixel font for the digits, and a reader that recognises them.

The scenes of ``vlmlab.scenes`` carry small digits ("glyphs") so that the
course can show what high-resolution tiling is for: a glyph a few pixels tall
is easy to read in the full image and unreadable once the image is shrunk to
an encoder's input size. To make that claim exact, the font is ours: each
digit is a 5-row, 3-column bitmap written out below, drawn with numpy by
repeating every font pixel ``scale`` times in each direction. No font file
and no rasteriser is involved, so a glyph is the same array on every platform.

    >>> bitmap("7").astype(int)
    array([[1, 1, 1],
           [0, 0, 1],
           [0, 0, 1],
           [0, 0, 1],
           [0, 0, 1]])
    >>> glyph_size(scale=2)
    (10, 6)
    >>> read_glyph(255 - 200 * bitmap("4", scale=2), scale=2)
    '4'

``read_glyph`` is the simplest possible reader, nearest template by
correlation; it measures how much of a glyph survives a resize (see the
tests: 100 % at full resolution, near chance after shrinking four times).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._validate import as_positive_int

# Each digit as 5 rows of 3 columns; "#" is ink. Several digits differ from
# another by a single pixel (8 and 0, 8 and 6, 8 and 9, 5 and 6), so reading
# them needs every pixel: a blurred glyph is ambiguous.
FONT: dict[str, tuple[str, ...]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", ".##", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", "..#", "..#", "..#"),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
}
DIGITS: tuple[str, ...] = tuple(FONT)
FONT_SIZE: tuple[int, int] = (5, 3)  # (height, width) of one glyph in font pixels


def glyph_size(scale: int = 1) -> tuple[int, int]:
    """``(height, width)`` in image pixels of a glyph drawn at ``scale``."""
    scale = as_positive_int(scale, "scale")
    return (FONT_SIZE[0] * scale, FONT_SIZE[1] * scale)


def bitmap(char: str, scale: int = 1) -> np.ndarray:
    """The glyph of ``char`` as a bool array ``(5 * scale, 3 * scale)``; True is ink (read-only)."""
    if char not in FONT:
        raise ValueError(f"char must be one of the digits {list(DIGITS)}, got {char!r}")
    return _bitmap(char, as_positive_int(scale, "scale"))


@lru_cache(maxsize=None)
def _bitmap(char: str, scale: int) -> np.ndarray:
    rows = np.array([[c == "#" for c in row] for row in FONT[char]])
    # Nearest-neighbour upscaling: each font pixel becomes a scale x scale block.
    mask = np.repeat(np.repeat(rows, scale, axis=0), scale, axis=1)
    mask.flags.writeable = False  # shared by every caller
    return mask


def draw_glyph(image: np.ndarray, char: str, top: int, left: int, scale: int = 1,
               ink: tuple[int, int, int] = (25, 25, 25)) -> None:
    """Paint ``char`` into ``image`` (``(H, W, 3)`` uint8, changed in place) at ``(top, left)``."""
    mask = bitmap(char, scale)
    h, w = mask.shape
    if top < 0 or left < 0 or top + h > image.shape[0] or left + w > image.shape[1]:
        raise ValueError(
            f"a glyph of size {(h, w)} at (top, left)={(top, left)} does not fit in an image of "
            f"(height, width)={image.shape[:2]}"
        )
    image[top:top + h, left:left + w][mask] = ink


def read_glyph(crop: np.ndarray, scale: int = 1) -> str:
    """The digit whose template best matches ``crop``: nearest template by correlation.

    Args:
        crop: the glyph's box cut from an image, ``(5 * scale, 3 * scale)`` grey
            or ``(5 * scale, 3 * scale, 3)`` RGB, dark ink on a lighter ground.
        scale: the scale the glyph was drawn at.

    Both the crop's darkness and each template are centred and scaled to unit
    length, so the score is their correlation: it ignores the background's
    brightness and the ink's contrast, and only the pattern counts.
    """
    expected = glyph_size(scale)
    crop = np.asarray(crop, dtype=np.float64)
    if crop.ndim == 3:
        crop = crop.mean(axis=-1)  # RGB -> grey
    if crop.shape != expected:
        raise ValueError(f"crop must be (height, width)={expected} for scale={scale}, got shape {crop.shape}")
    darkness = _unit(-crop)
    scores = [float((darkness * _unit(bitmap(c, scale).astype(np.float64))).sum()) for c in DIGITS]
    return DIGITS[int(np.argmax(scores))]


def _unit(x: np.ndarray) -> np.ndarray:
    """``x`` minus its mean, divided by its length (all zeros for a constant ``x``)."""
    x = x - x.mean()
    norm = np.sqrt((x * x).sum())
    return x / norm if norm > 0 else x
