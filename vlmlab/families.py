"""Image rules of the VLM families that ``vlmlab.tiling`` does not cover.

``tiling`` holds the three ideas the course builds on (LLaVA-NeXT anyres,
InternVL dynamic tiles, Qwen2-VL smart resize). The families released since
reuse those ideas with their own twists; each function here is one such twist,
pure arithmetic on ``(height, width)``, transcribed from and tested against the
``transformers`` processor named in its docstring (``tests/test_families.py``,
hundreds of random sizes):

* **LLaVA-OneVision** (Li et al. 2024, https://arxiv.org/abs/2408.03326):
  LLaVA-NeXT's anyres on a 6x6 menu of 384-px SigLIP tiles, then, when the
  crops hold more than 9 tiles' worth of features ("anyres_max_9"), the feature
  grid is shrunk (bilinear) so that it holds about 9.
* **Idefics3 / SmolVLM** (Laurençon et al. 2024, https://arxiv.org/abs/2408.12637;
  Marafioti et al. 2025, https://arxiv.org/abs/2504.05299): resize the longest
  side to a fixed length, cut into square tiles, add the whole image as a
  global tile; a pixel shuffle shrinks each tile's features.
* **Pixtral** (Agrawal et al. 2024, https://arxiv.org/abs/2410.07073): no
  tiles; shrink to fit a longest edge, round each side *up* to whole patches.
* **Gemma 3** (Gemma Team 2025, https://arxiv.org/abs/2503.19786): one 896-px
  square; optionally "pan and scan" crops for elongated images.
* **Llama 3.2 Vision** (MLlama): tiles of 560 px on the canvas that needs the
  least scaling; the features reach the LLM through cross-attention.

Sizes are ``(height, width)``; grids are ``(rows, cols)``.

    >>> onevision_num_tokens((1080, 1920))
    7269
    >>> idefics3_grid((1080, 1920), longest_edge=1536, tile_size=384)
    (3, 4)
    >>> pixtral_resized_size((1080, 1920), longest_edge=1024, patch_size=16)
    (576, 1024)
    >>> mllama_grid((1080, 1920))
    (2, 2)
"""

from __future__ import annotations

import math

from . import tiling
from ._validate import as_positive_int, as_size

__all__ = [
    "IDEFICS3_MAX_IMAGE_SIZE",
    "gemma3_pan_and_scan_grid",
    "idefics3_grid",
    "idefics3_resized_size",
    "mllama_grid",
    "mllama_resized_size",
    "onevision_num_tokens",
    "onevision_pinpoints",
    "pixtral_resized_size",
]

# Idefics3/SmolVLM never resize beyond 4096 px ("4k resolution as absolute maximum", MAX_IMAGE_SIZE in
# transformers.models.idefics3.image_processing_idefics3).
IDEFICS3_MAX_IMAGE_SIZE = 4096


# ---------------------------------------------------------------------------
# LLaVA-OneVision: anyres_max_9
# ---------------------------------------------------------------------------


def onevision_pinpoints(tile_size: int = 384, max_grid: int = 6) -> list[tuple[int, int]]:
    """The ``(height, width)`` canvases of 1..max_grid by 1..max_grid tiles, in the released config's order.

    llava-hf/llava-onevision-qwen2-7b-ov-hf lists ``image_grid_pinpoints`` from
    ``[384, 384]``, ``[384, 768]`` ... to ``[2304, 2304]``: 36 canvases, rows outer.

        >>> onevision_pinpoints(384, 2)
        [(384, 384), (384, 768), (768, 384), (768, 768)]
    """
    tile_size = as_positive_int(tile_size, "tile_size")
    max_grid = as_positive_int(max_grid, "max_grid")
    return [(a * tile_size, b * tile_size) for a in range(1, max_grid + 1) for b in range(1, max_grid + 1)]


def onevision_num_tokens(image_size, tile_size: int = 384, patch_size: int = 14, max_crops: int = 9) -> int:
    """LLaVA-OneVision's visual tokens: base image + (possibly shrunk) unpadded crop features + a newline per row.

    Steps, as ``LlavaOnevisionProcessor._get_number_of_features``:

    1. choose the canvas (``tiling.select_best_resolution`` on ``onevision_pinpoints``);
    2. lay the crops' ``s x s`` feature grids side by side and drop the rows or
       columns that only saw padding (``tiling.llava_next_unpadded_grid``);
    3. if that grid holds more than ``max_crops`` tiles' worth of features by a
       margin (``ratio = sqrt(h*w / (max_crops*s²)) > 1.1``), shrink both sides
       to ``int(side // ratio)`` (the model interpolates the features);
    4. add the base image's ``s²`` features (SigLIP has no CLS token to drop)
       and one newline token per remaining row.
    """
    tile_size = as_positive_int(tile_size, "tile_size")
    patch_size = as_positive_int(patch_size, "patch_size")
    max_crops = as_positive_int(max_crops, "max_crops")
    side = tile_size // patch_size  # features per tile side: 384 // 14 = 27
    best_h, best_w = tiling.select_best_resolution(image_size, onevision_pinpoints(tile_size))
    rows, cols = best_h // tile_size, best_w // tile_size
    top, bottom, left, right = tiling.llava_next_unpadded_grid(image_size, (rows * side, cols * side))
    height, width = bottom - top, right - left
    ratio = math.sqrt(height * width / (max_crops * side * side))
    if ratio > 1.1:  # too many features: shrink the grid to about max_crops tiles' worth
        height, width = int(height // ratio), int(width // ratio)
    return side * side + height * width + height


# ---------------------------------------------------------------------------
# Idefics3 / SmolVLM: longest edge, square tiles, a global image
# ---------------------------------------------------------------------------


def idefics3_resized_size(image_size, longest_edge: int) -> tuple[int, int]:
    """The size Idefics3/SmolVLM resize to first: longest side = ``longest_edge`` (up or down), other side even.

    Then, if a side is still above ``IDEFICS3_MAX_IMAGE_SIZE``, scale down to it.
    As ``_resize_output_size_rescale_to_max_len`` and
    ``_resize_output_size_scale_below_upper_bound`` in transformers' Idefics3 and
    SmolVLM image processors (sides truncated with ``int``, at least 1 pixel).
    """
    height, width = as_size(image_size, "image_size")
    longest_edge = as_positive_int(longest_edge, "longest_edge")
    aspect_ratio = width / height
    if width >= height:
        width = longest_edge
        height = int(width / aspect_ratio)
        height += height % 2  # round an odd side up to even
    else:
        height = longest_edge
        width = int(height * aspect_ratio)
        width += width % 2
    height, width = max(height, 1), max(width, 1)
    if width >= height and width > IDEFICS3_MAX_IMAGE_SIZE:
        width, height = IDEFICS3_MAX_IMAGE_SIZE, int(IDEFICS3_MAX_IMAGE_SIZE / aspect_ratio)
    elif height > width and height > IDEFICS3_MAX_IMAGE_SIZE:
        height, width = IDEFICS3_MAX_IMAGE_SIZE, int(IDEFICS3_MAX_IMAGE_SIZE * aspect_ratio)
    return max(height, 1), max(width, 1)


def idefics3_grid(image_size, longest_edge: int, tile_size: int) -> tuple[int, int]:
    """``(rows, cols)`` of ``tile_size`` tiles Idefics3/SmolVLM cut; ``(0, 0)`` when the image fits one tile.

    Each side of the resized image (``idefics3_resized_size``) is rounded up to
    whole tiles; if that exceeds one tile, the image is split and a global tile
    (the whole image) is added. As ``get_number_of_image_patches`` of
    ``Idefics3ImageProcessor`` / ``SmolVLMImageProcessor``.
    """
    tile_size = as_positive_int(tile_size, "tile_size")
    height, width = idefics3_resized_size(image_size, longest_edge)
    rows, cols = math.ceil(height / tile_size), math.ceil(width / tile_size)
    if rows * tile_size > tile_size or cols * tile_size > tile_size:
        return rows, cols
    return 0, 0


# ---------------------------------------------------------------------------
# Pixtral: whole patches, no tiles
# ---------------------------------------------------------------------------


def pixtral_resized_size(image_size, longest_edge: int = 1024, patch_size: int = 16) -> tuple[int, int]:
    """Pixtral's input size: shrink (never enlarge) to fit ``longest_edge``, then round each side up to whole patches.

    As ``transformers.models.pixtral.image_processing_pixtral.get_resize_output_image_size``
    (the shrunk sides are floored, so the image never exceeds ``longest_edge``).

        >>> pixtral_resized_size((100, 30))
        (112, 32)
    """
    height, width = as_size(image_size, "image_size")
    longest_edge = as_positive_int(longest_edge, "longest_edge")
    patch_size = as_positive_int(patch_size, "patch_size")
    ratio = max(height / longest_edge, width / longest_edge)
    if ratio > 1:
        height, width = math.floor(height / ratio), math.floor(width / ratio)
    return -(-height // patch_size) * patch_size, -(-width // patch_size) * patch_size


# ---------------------------------------------------------------------------
# Gemma 3: pan and scan
# ---------------------------------------------------------------------------


def gemma3_pan_and_scan_grid(image_size, min_crop_size: int = 256, max_crops: int = 4,
                             min_ratio: float = 1.2) -> tuple[int, int]:
    """``(rows, cols)`` of Gemma 3's pan-and-scan crops, ``(0, 0)`` when it does not crop.

    Only an elongated image (aspect ratio >= ``min_ratio``) is cropped, along
    its long side, into about ``aspect ratio`` pieces (2..``max_crops``), each
    at least ``min_crop_size`` pixels; every crop is then resized to 896 px like
    the whole image. As ``Gemma3ImageProcessor.pan_and_scan_batched``.
    """
    height, width = as_size(image_size, "image_size")
    min_crop_size = as_positive_int(min_crop_size, "min_crop_size")
    max_crops = as_positive_int(max_crops, "max_crops")
    long, short = max(height, width), min(height, width)
    if long / short < min_ratio:
        return 0, 0
    n = min(int(math.floor(long / short + 0.5)), long // min_crop_size)  # half rounds up
    n = min(max_crops, max(2, n))
    crop_long = math.ceil(long / n)
    if min(crop_long, short) < min_crop_size:  # crops too small to be worth it
        return 0, 0
    return (1, n) if width >= height else (n, 1)


# ---------------------------------------------------------------------------
# Llama 3.2 Vision (MLlama): the canvas that needs the least scaling
# ---------------------------------------------------------------------------


def mllama_grid(image_size, tile_size: int = 560, max_tiles: int = 4) -> tuple[int, int]:
    """``(rows, cols)`` of ``tile_size`` tiles for Llama 3.2 Vision.

    Among all grids with at most ``max_tiles`` tiles, take the scale at which
    the image fits each canvas; prefer the smallest scale >= 1 (the least
    upscaling), else the largest scale < 1 (the least downscaling); ties go to
    the smaller canvas. As ``transformers.models.mllama.image_processing_mllama.
    get_optimal_tiled_canvas``.
    """
    height, width = as_size(image_size, "image_size")
    tile_size = as_positive_int(tile_size, "tile_size")
    max_tiles = as_positive_int(max_tiles, "max_tiles")
    # rows outer, as transformers lists them: the order decides ties between equal canvases
    grids = [(r, c) for r in range(1, max_tiles + 1) for c in range(1, max_tiles + 1) if r * c <= max_tiles]
    scales = {g: min(g[0] * tile_size / height, g[1] * tile_size / width) for g in grids}
    up = [s for s in scales.values() if s >= 1]
    chosen = min(up) if up else max(scales.values())
    return min((g for g in grids if scales[g] == chosen), key=lambda g: g[0] * g[1])


def mllama_resized_size(image_size, grid, tile_size: int = 560) -> tuple[int, int]:
    """The ``(height, width)`` Llama 3.2 Vision resizes to inside the ``grid`` canvas (then pads).

    Each side is first clamped to ``[tile_size, canvas side]``; the image is
    scaled by the smaller of the two ratios, so it is enlarged to at least one
    tile and shrunk to fit the canvas (``get_image_size_fit_to_canvas``).
    """
    height, width = as_size(image_size, "image_size")
    rows, cols = as_size(grid, "grid")
    target_w = min(max(width, tile_size), cols * tile_size)
    target_h = min(max(height, tile_size), rows * tile_size)
    scale_h, scale_w = target_h / height, target_w / width
    if scale_w < scale_h:
        return min(math.floor(height * scale_w) or 1, target_h), target_w
    return target_h, min(math.floor(width * scale_h) or 1, target_w)
