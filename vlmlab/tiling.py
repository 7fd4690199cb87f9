"""High-resolution images as several encoder-sized pictures: tiles, anyres, smart resize.

A CLIP encoder sees one ``tile_size x tile_size`` picture. Four ways to feed it
a larger or non-square image, each choosing a grid and paying for it in tokens:

* **naive grid** (``split_image_to_tiles``, a common first implementation):
  pick the ``(rows, cols)`` whose aspect ratio is closest to the image's. Its
  flaw: it never looks at the resolution, so a square image always gets one
  tile, whether it is 300 or 3000 pixels wide.
* **LLaVA-NeXT "anyres"** (Liu et al. 2024, "LLaVA-NeXT: Improved reasoning, OCR,
  and world knowledge", https://llava-vl.github.io/blog/2024-01-30-llava-next/):
  choose among fixed resolutions (``LLAVA_NEXT_GRID_PINPOINTS``) by effective
  resolution, then least waste; resize keeping the aspect ratio, pad, cut into
  tiles, add the whole image squashed to one tile (the *base image*); after
  encoding, drop the features of the padding (*unpad*) and add one
  ``image_newline`` token per feature row.
* **InternVL dynamic tiling** (Chen et al. 2024, "How Far Are We to GPT-4V?",
  InternVL 1.5, https://arxiv.org/abs/2404.16821): among all grids with
  ``min_num..max_num`` tiles, the closest aspect ratio; stretch to it (no
  padding), cut, add a thumbnail when there is more than one tile; 256 tokens
  per 448 tile after a 2x2 pixel shuffle.
* **Qwen2-VL smart resize** (Wang et al. 2024, https://arxiv.org/abs/2409.12191):
  no tiles; resize to multiples of 28 within a pixel budget, cut 14-pixel
  patches, merge each 2x2 group into one LLM token. ``smart_resize`` itself
  lives with dynamic resolution in ``vlmlab.dynamic``; this module re-exports
  it (``vlmlab.tiling.smart_resize`` is the same function) and counts its
  tokens (``qwen2_vl_grid``, ``qwen2_vl_num_tokens``, ``qwen2_vl_pixel_values``).

Checked against (tests/test_tiling.py, hundreds of random sizes):
``transformers.image_processing_utils.select_best_resolution`` and
``get_patch_output_size``; ``transformers.models.llava_next.processing_llava_next.
LlavaNextProcessor._get_number_of_features`` and ``modeling_llava_next.
LlavaNextModel.pack_image_features``; ``LlavaNextImageProcessor``;
``transformers.models.qwen2_vl.image_processing_qwen2_vl.smart_resize`` and
``Qwen2VLImageProcessor``; InternVL's ``dynamic_preprocess`` /
``find_closest_aspect_ratio`` (OpenGVLab/InternVL, ``internvl_chat``) and
``transformers.models.got_ocr2.image_processing_got_ocr2.get_optimal_tiled_canvas``.

Sizes are ``(height, width)``; grids are ``(rows, cols)``. Every function that
takes a picture passes it through ``vlmlab.preprocess.to_rgb`` first (EXIF
orientation applied, size limits, any mode to RGB), and turns it into tensors
with ``preprocess.to_uint8_tensor`` / ``preprocess.normalise``.

    >>> select_best_resolution((336, 336), LLAVA_NEXT_GRID_PINPOINTS)
    (336, 672)
    >>> llava_next_num_tokens((336, 336))
    1176
    >>> internvl_grid((1080, 1920))
    (2, 4)
    >>> smart_resize(1080, 1920)
    (728, 1316)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from ._validate import as_positive_int, as_size, check_at_most, check_choice
from .dynamic import QWEN2_VL_MAX_PIXELS, QWEN2_VL_MIN_PIXELS, smart_resize  # re-exported: tiling.smart_resize

__all__ = [
    "LLAVA_NEXT_GRID_PINPOINTS",
    "LlavaNextLayout",
    "METHODS",
    "TilePlan",
    "internvl_grid",
    "internvl_num_tokens",
    "internvl_target_ratios",
    "internvl_tokens_per_tile",
    "llava_next_candidates",
    "llava_next_grid",
    "llava_next_layout",
    "llava_next_num_tokens",
    "llava_next_pack",
    "llava_next_pictures",
    "llava_next_pixel_values",
    "llava_next_resized_size",
    "llava_next_unpadded_grid",
    "naive_grid",
    "plan_tiles",
    "qwen2_vl_grid",
    "qwen2_vl_num_tokens",
    "qwen2_vl_pixel_values",
    "scaled_pinpoints",
    "select_best_resolution",
    "smart_resize",
    "split_image_to_tiles",
]

# LLaVA-v1.6's five candidate resolutions, (height, width), for 336-pixel tiles:
# 1x2, 2x1, 2x2, 1x3 and 3x1 tiles (llava-hf/llava-v1.6-* ``image_grid_pinpoints``).
LLAVA_NEXT_GRID_PINPOINTS = [(336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008)]
METHODS = ("naive", "llava-next", "internvl")


def _patch_side(tile_size, patch_size) -> int:
    """Patches along one side of a ``tile_size`` tile: ``tile_size / patch_size``, which must be whole."""
    tile_size = as_positive_int(tile_size, "tile_size")
    patch_size = as_positive_int(patch_size, "patch_size")
    if patch_size > tile_size:
        raise ValueError(f"patch_size={patch_size} is larger than tile_size={tile_size}: a tile must hold at least "
                         "one patch")
    if tile_size % patch_size:
        raise ValueError(
            f"tile_size={tile_size} is not a multiple of patch_size={patch_size}; a ViT has no rule for a partial "
            f"patch (e.g. tile_size={tile_size // patch_size * patch_size} or {-(-tile_size // patch_size) * patch_size})"
        )
    return tile_size // patch_size


# ---------------------------------------------------------------------------
# The naive grid: a common first implementation
# ---------------------------------------------------------------------------


def naive_grid(image_size, max_tiles: int = 6) -> tuple[int, int]:
    """A common first grid choice: the ``(rows, cols)`` whose ``cols / rows`` is closest to ``width / height``.

    For each tile count ``n <= max_tiles`` and each ``rows <= n`` it tries
    ``cols = n // rows`` and keeps the first grid with the smallest
    aspect-ratio error. Its flaw: it never looks at the resolution, so a square
    image gets one tile whether it is 300 or 3000 pixels wide (LLaVA-NeXT and
    InternVL below both weigh the pixels).
    """
    height, width = as_size(image_size, "image_size")
    max_tiles = as_positive_int(max_tiles, "max_tiles")
    aspect_ratio = width / height
    best_grid, best_error = (1, 1), float("inf")
    for num_tiles in range(1, max_tiles + 1):
        for rows in range(1, num_tiles + 1):
            cols = num_tiles // rows
            error = abs(cols / rows - aspect_ratio)
            if error < best_error:
                best_grid, best_error = (rows, cols), error
    return best_grid


def split_image_to_tiles(image, tile_size: int = 336, max_tiles: int = 6):
    """A common first tiling: stretch to ``naive_grid``'s canvas, cut ``tile_size`` tiles, append a thumbnail.

    ``image``: a PIL image (``vlmlab.preprocess.to_rgb`` rules). Returns
    ``(tiles, (rows, cols))`` where ``tiles`` holds the ``rows * cols`` PIL
    tiles in reading order and then, last, the whole image squashed to one
    tile (LANCZOS). Its flaw is ``naive_grid``'s: a square image always gets
    one tile, whatever its resolution. ``plan_tiles(image, "naive")`` is the
    same plan with its geometry.
    """
    plan = plan_tiles(image, "naive", tile_size=tile_size, max_tiles=max_tiles)
    return [*plan.tiles, plan.thumbnail], plan.grid


# ---------------------------------------------------------------------------
# LLaVA-NeXT anyres
# ---------------------------------------------------------------------------


def scaled_pinpoints(tile_size: int = 336) -> list[tuple[int, int]]:
    """LLaVA-NeXT's pinpoints for another tile size: the same 1x2, 2x1, 2x2, 1x3, 3x1 grids of ``tile_size`` tiles.

        >>> scaled_pinpoints(64)
        [(64, 128), (128, 64), (128, 128), (192, 64), (64, 192)]
    """
    tile_size = as_positive_int(tile_size, "tile_size")
    return [(h // 336 * tile_size, w // 336 * tile_size) for h, w in LLAVA_NEXT_GRID_PINPOINTS]


def _check_candidates(candidates) -> list[tuple[int, int]]:
    try:
        pairs = [as_size(tuple(c), "candidate resolution") for c in candidates]
    except TypeError as err:
        raise TypeError(f"candidates must be a list of (height, width) pairs, got {candidates!r}") from err
    if not pairs:
        raise ValueError("candidates must hold at least one (height, width) resolution, got an empty list")
    return pairs


def select_best_resolution(image_size, candidates) -> tuple[int, int]:
    """The candidate ``(height, width)`` that keeps the most of the image's pixels, then wastes the fewest.

    For each candidate the image is scaled to fit inside it (aspect ratio kept);
    the *effective resolution* is the number of pixels it then has, capped at
    the original count (upscaling adds no information); the *waste* is the
    candidate's area minus that. Ties on effective resolution go to less waste;
    remaining ties to the earlier candidate. Same arithmetic as
    ``transformers.image_processing_utils.select_best_resolution``, including its
    ``int()`` truncation of the scaled sides.

        >>> select_best_resolution((336, 336), LLAVA_NEXT_GRID_PINPOINTS)  # a 672x672 canvas would waste more
        (336, 672)
    """
    height, width = as_size(image_size, "image_size")
    best_fit, best_effective, best_waste = None, 0, float("inf")
    for cand_h, cand_w in _check_candidates(candidates):
        scale = min(cand_w / width, cand_h / height)
        scaled_w, scaled_h = int(width * scale), int(height * scale)
        effective = min(scaled_w * scaled_h, width * height)
        waste = cand_w * cand_h - effective
        if effective > best_effective or (effective == best_effective and waste < best_waste):
            best_fit, best_effective, best_waste = (cand_h, cand_w), effective, waste
    if best_fit is None:  # every candidate scaled the image to zero pixels
        raise ValueError(f"image_size {(height, width)} is too elongated for every candidate in {candidates!r}")
    return best_fit


def llava_next_resized_size(image_size, target) -> tuple[int, int]:
    """The ``(height, width)`` the image is resized to inside the ``target`` canvas before padding.

    One side fills the canvas; the other is ``ceil``-scaled and capped, as
    ``transformers.image_processing_utils.get_patch_output_size``.
    """
    height, width = as_size(image_size, "image_size")
    target_h, target_w = as_size(target, "target")
    scale_w, scale_h = target_w / width, target_h / height
    if scale_w < scale_h:
        return min(math.ceil(height * scale_w), target_h), target_w
    return target_h, min(math.ceil(width * scale_h), target_w)


def llava_next_candidates(tile_size: int = 336, max_tiles: int | None = None, pinpoints=None) -> list[tuple[int, int]]:
    """The canvases LLaVA-NeXT may choose: ``pinpoints`` (default ``scaled_pinpoints(tile_size)``), keeping
    only those cut into at most ``max_tiles`` crops when ``max_tiles`` is given.

        >>> llava_next_candidates(336, max_tiles=2)
        [(336, 672), (672, 336)]
    """
    tile_size = as_positive_int(tile_size, "tile_size")
    candidates = scaled_pinpoints(tile_size) if pinpoints is None else _check_candidates(pinpoints)
    if max_tiles is None:
        return candidates
    max_tiles = as_positive_int(max_tiles, "max_tiles")
    kept = [(h, w) for h, w in candidates if (h // tile_size) * (w // tile_size) <= max_tiles]
    if not kept:
        fewest = min((h // tile_size) * (w // tile_size) for h, w in candidates)
        raise ValueError(f"max_tiles={max_tiles} leaves no LLaVA-NeXT pinpoint (the smallest has {fewest} tiles)")
    return kept


class LlavaNextLayout(NamedTuple):
    """Where an image goes on LLaVA-NeXT's canvas; all ``(height, width)`` except ``grid`` ``(rows, cols)``."""

    canvas: tuple[int, int]   # the chosen pinpoint, cut into tiles
    grid: tuple[int, int]     # crops of tile_size
    resized: tuple[int, int]  # the image's size on the canvas, aspect ratio kept
    offset: tuple[int, int]   # (top, left) of the resized image; the rest is black padding


def llava_next_layout(image_size, tile_size: int = 336, pinpoints=None) -> LlavaNextLayout:
    """The geometry of LLaVA-NeXT's anyres for an image of ``image_size``: canvas, grid, resized size, offset.

    ``pinpoints`` defaults to ``scaled_pinpoints(tile_size)`` (use
    ``llava_next_candidates`` to apply a tile limit). The padding is split as
    ``LlavaNextImageProcessor._get_padding_size`` splits it: the odd pixel goes
    to the right / bottom.
    """
    tile_size = as_positive_int(tile_size, "tile_size")
    candidates = scaled_pinpoints(tile_size) if pinpoints is None else pinpoints
    canvas = select_best_resolution(image_size, candidates)
    resized = llava_next_resized_size(image_size, canvas)
    offset = ((canvas[0] - resized[0]) // 2, (canvas[1] - resized[1]) // 2)
    return LlavaNextLayout(canvas, (canvas[0] // tile_size, canvas[1] // tile_size), resized, offset)


def llava_next_grid(image_size, tile_size: int = 336, pinpoints=None) -> tuple[int, int]:
    """``(rows, cols)`` of ``tile_size`` crops for LLaVA-NeXT (the base image is extra)."""
    return llava_next_layout(image_size, tile_size, pinpoints).grid


def llava_next_unpadded_grid(image_size, feature_grid) -> tuple[int, int, int, int]:
    """Which rows/columns of the crops' joint feature grid show the image, not the padding.

    ``feature_grid = (rows, cols)`` of the crops' features laid side by side
    (e.g. ``(24, 48)`` for a 1x2 grid of crops with 24x24 features each). Returns
    ``(top, bottom, left, right)`` so that ``features[top:bottom, left:right]``
    is kept, the rule of ``modeling_llava_next.unpad_image`` (the same number of
    rows or columns is dropped on both sides).
    """
    height, width = as_size(image_size, "image_size")
    cur_h, cur_w = as_size(feature_grid, "feature_grid")
    if width / height > cur_w / cur_h:  # wider than the canvas: padding above and below
        new_h = int(round(height * (cur_w / width), 7))
        pad = (cur_h - new_h) // 2
        return pad, cur_h - pad, 0, cur_w
    new_w = int(round(width * (cur_h / height), 7))
    pad = (cur_w - new_w) // 2
    return 0, cur_h, pad, cur_w - pad


def llava_next_num_tokens(image_size, tile_size: int = 336, patch_size: int = 14, pinpoints=None) -> int:
    """Visual tokens LLaVA-NeXT spends on an image: base image + unpadded crop features + one newline per row.

    Equals ``LlavaNextProcessor``'s count (``_get_number_of_features`` with the
    CLS token removed, i.e. ``vision_feature_select_strategy="default"``).
    ``pinpoints`` defaults to ``scaled_pinpoints(tile_size)``; pass the same
    candidates the plan used (``llava_next_candidates(tile_size, max_tiles)``).
    """
    side = _patch_side(tile_size, patch_size)  # features per tile side
    rows, cols = llava_next_grid(image_size, tile_size, pinpoints)
    top, bottom, left, right = llava_next_unpadded_grid(image_size, (rows * side, cols * side))
    unpadded_rows, unpadded_cols = bottom - top, right - left
    base = side * side
    return base + unpadded_rows * unpadded_cols + unpadded_rows  # + one newline per feature row


def llava_next_pack(tile_features, plan: "TilePlan", image_newline):
    """Lay LLaVA-NeXT's features out as the LLM reads them: ``(T_tokens, D)``.

    ``tile_features (1 + T, N, D)``: the base image's ``N = s*s`` features first,
    then the ``T = rows*cols`` crops in reading order (already projected, CLS
    dropped). The crops are joined into one ``(rows*s, cols*s)`` feature grid,
    the rows/columns that only saw padding are cut (``llava_next_unpadded_grid``)
    and ``image_newline (D,)`` is appended after every feature row; the base
    image's features come first. Same layout as
    ``transformers``' ``LlavaNextModel.pack_image_features``; the length equals
    ``llava_next_num_tokens``.
    """
    import torch

    from ._validate import check_token_batch
    from .patches import token_grid

    T, N, D = check_token_batch(tile_features, "tile_features")  # (1 + tiles, tokens, dim)
    if not isinstance(image_newline, torch.Tensor):
        raise TypeError(f"image_newline must be a torch.Tensor of shape ({D},), got {type(image_newline).__name__}")
    rows, cols = plan.grid
    if T != 1 + rows * cols:
        raise ValueError(f"tile_features has {T} pictures; plan {plan.grid} needs 1 base + {rows * cols} crops")
    side, _ = token_grid(N, what="tokens per picture in tile_features")
    if image_newline.shape != (D,):
        raise ValueError(f"image_newline must have shape ({D},), got {tuple(image_newline.shape)}")
    base, crops = tile_features[0], tile_features[1:]
    grid = crops.view(rows, cols, side, side, D)  # (rows, cols, s, s, D)
    grid = grid.permute(0, 2, 1, 3, 4).reshape(rows * side, cols * side, D)  # (rows*s, cols*s, D)
    top, bottom, left, right = llava_next_unpadded_grid(plan.image_size, (rows * side, cols * side))
    grid = grid[top:bottom, left:right]  # (h', w', D): padding dropped
    newline = image_newline.to(grid.dtype).expand(grid.shape[0], 1, D)
    grid = torch.cat([grid, newline], dim=1)  # (h', w' + 1, D)
    return torch.cat([base, grid.reshape(-1, D)], dim=0)  # (N + h' * (w' + 1), D)


# ---------------------------------------------------------------------------
# InternVL dynamic tiling
# ---------------------------------------------------------------------------


def internvl_target_ratios(min_num: int = 1, max_num: int = 12) -> list[tuple[int, int]]:
    """InternVL's candidate grids as ``(cols, rows)`` ratios, in the order its loop visits them.

    Built exactly as ``dynamic_preprocess`` builds them: a ``set`` of ``(i, j)``
    with ``min_num <= i*j <= max_num``, sorted by ``i*j``. Grids with the same
    tile count keep the set's iteration order (deterministic for small-int
    tuples), which the tie rule can see.
    """
    min_num = as_positive_int(min_num, "min_num")
    max_num = as_positive_int(max_num, "max_num")
    check_at_most(min_num, max_num, "min_num", "max_num")
    ratios = set(
        (i, j)
        for n in range(min_num, max_num + 1)
        for i in range(1, n + 1)
        for j in range(1, n + 1)
        if min_num <= i * j <= max_num
    )
    return sorted(ratios, key=lambda r: r[0] * r[1])


def internvl_grid(image_size, tile_size: int = 448, min_num: int = 1, max_num: int = 12) -> tuple[int, int]:
    """``(rows, cols)`` as InternVL's ``dynamic_preprocess`` chooses it.

    The grid whose ``cols / rows`` is closest to ``width / height``; on an exact
    tie a later (larger) grid replaces the current one when the image's area is
    more than half the larger grid's canvas (``area > 0.5 * tile² * cols * rows``),
    i.e. a big image gets more tiles, a small one doesn't.
    """
    height, width = as_size(image_size, "image_size")
    tile_size = as_positive_int(tile_size, "tile_size")
    aspect_ratio, area = width / height, width * height
    best_diff, best = float("inf"), (1, 1)
    for ratio in internvl_target_ratios(min_num, max_num):  # ratio = (cols, rows)
        diff = abs(aspect_ratio - ratio[0] / ratio[1])
        if diff < best_diff:
            best_diff, best = diff, ratio
        elif diff == best_diff and area > 0.5 * tile_size * tile_size * ratio[0] * ratio[1]:
            best = ratio
    return best[1], best[0]


def internvl_tokens_per_tile(tile_size: int = 448, patch_size: int = 14, downsample: int = 2) -> int:
    """LLM tokens InternVL spends on one tile: ``(tile/patch)² / downsample²`` (256 for 448/14).

    The ViT sees a ``(tile/patch)²`` patch grid; the pixel shuffle then folds
    each ``downsample x downsample`` block of neighbours into one token, so
    ``downsample`` must divide the grid's side.

        >>> internvl_tokens_per_tile(448, 14)
        256
    """
    side = _patch_side(tile_size, patch_size)
    downsample = as_positive_int(downsample, "downsample")
    if side % downsample:
        raise ValueError(
            f"downsample={downsample} must divide the {side}x{side} patch grid of a tile (tile_size={tile_size} / "
            f"patch_size={patch_size}): the pixel shuffle folds each {downsample}x{downsample} block into one token"
        )
    return (side // downsample) ** 2


def internvl_num_tokens(image_size, tile_size: int = 448, patch_size: int = 14, min_num: int = 1, max_num: int = 12,
                        use_thumbnail: bool = True, downsample: int = 2) -> int:
    """InternVL2's visual tokens: ``internvl_tokens_per_tile`` for every tile, the thumbnail included."""
    per_tile = internvl_tokens_per_tile(tile_size, patch_size, downsample)
    rows, cols = internvl_grid(image_size, tile_size, min_num, max_num)
    tiles = rows * cols + (1 if use_thumbnail and rows * cols > 1 else 0)
    return tiles * per_tile


# ---------------------------------------------------------------------------
# Qwen2-VL: no tiles, one picture at its own resolution (smart_resize lives in vlmlab.dynamic)
# ---------------------------------------------------------------------------


def qwen2_vl_grid(image_size, patch_size: int = 14, merge_size: int = 2, min_pixels: int = QWEN2_VL_MIN_PIXELS,
                  max_pixels: int = QWEN2_VL_MAX_PIXELS) -> tuple[int, int]:
    """``(rows, cols)`` of ``patch_size`` patches after ``smart_resize(factor=patch_size*merge_size)``."""
    patch_size = as_positive_int(patch_size, "patch_size")
    merge_size = as_positive_int(merge_size, "merge_size")
    height, width = as_size(image_size, "image_size")
    h, w = smart_resize(height, width, patch_size * merge_size, min_pixels, max_pixels)
    return h // patch_size, w // patch_size


def qwen2_vl_num_tokens(image_size, patch_size: int = 14, merge_size: int = 2, min_pixels: int = QWEN2_VL_MIN_PIXELS,
                        max_pixels: int = QWEN2_VL_MAX_PIXELS) -> int:
    """LLM tokens for one image in Qwen2-VL: patches / merge_size² (each 2x2 patch group becomes one token)."""
    rows, cols = qwen2_vl_grid(image_size, patch_size, merge_size, min_pixels, max_pixels)
    return rows * cols // merge_size**2


# ---------------------------------------------------------------------------
# Plans on real images
# ---------------------------------------------------------------------------


@dataclass
class TilePlan:
    """What a tiling method does to one image.

    ``tiles``: ``tile_size x tile_size`` PIL images in reading order;
    ``thumbnail``: the extra whole-image tile (LLaVA-NeXT's base image,
    InternVL's thumbnail, the naive grid's thumbnail) or ``None``; ``grid``:
    ``(rows, cols)``; ``image_size``: the original ``(height, width)``;
    ``resized``: the ``(height, width)`` the image content was resized to;
    ``canvas``: the ``(height, width)`` cut into tiles (``resized`` plus
    padding for LLaVA-NeXT, equal to ``resized`` otherwise); ``offset``: the
    ``(top, left)`` of the resized image on the canvas; ``max_tiles``: the tile
    limit the plan was made under (``None``: the method's default).
    """

    method: str
    tiles: list
    thumbnail: object
    grid: tuple[int, int]
    image_size: tuple[int, int]
    resized: tuple[int, int]
    canvas: tuple[int, int]
    offset: tuple[int, int]
    tile_size: int
    max_tiles: int | None = None

    def __post_init__(self):
        check_choice(self.method, METHODS, "method")
        self.grid = as_size(self.grid, "grid")
        self.image_size = as_size(self.image_size, "image_size")
        self.resized = as_size(self.resized, "resized")
        self.canvas = as_size(self.canvas, "canvas")
        self.tile_size = as_positive_int(self.tile_size, "tile_size")
        top, left = self.offset
        if top < 0 or left < 0 or top + self.resized[0] > self.canvas[0] or left + self.resized[1] > self.canvas[1]:
            raise ValueError(f"offset {self.offset} puts the resized {self.resized} image outside the canvas {self.canvas}")
        self.offset = (int(top), int(left))

    @property
    def num_tiles(self) -> int:
        """Pictures the encoder sees: the crops plus the thumbnail, if any."""
        return len(self.tiles) + (self.thumbnail is not None)

    @property
    def padding_pixels(self) -> int:
        """Canvas pixels that show padding, not the image."""
        return self.canvas[0] * self.canvas[1] - self.resized[0] * self.resized[1]

    @property
    def distortion(self) -> float:
        """How much the aspect ratio was stretched: ``max(r, 1/r)`` for ``r`` = new over old ratio (1 = none)."""
        (h0, w0), (h1, w1) = self.image_size, self.resized
        r = (w1 / h1) / (w0 / h0)
        return max(r, 1 / r)


def _cut(canvas, grid, tile_size):
    rows, cols = grid
    return [
        canvas.crop((c * tile_size, r * tile_size, (c + 1) * tile_size, (r + 1) * tile_size))
        for r in range(rows)
        for c in range(cols)
    ]


def _to_pil(x):
    """``(3, H, W)`` uint8 tensor -> RGB PIL image (lossless)."""
    from PIL import Image

    return Image.fromarray(x.permute(1, 2, 0).contiguous().numpy())


def plan_tiles(image, method: str, tile_size: int = 336, max_tiles: int | None = None) -> TilePlan:
    """Cut ``image`` (PIL) into encoder-sized tiles the way ``method`` does.

    * ``"naive"``: a common first implementation (``naive_grid``; ``max_tiles``
      defaults to 6); the image is stretched to the grid (LANCZOS); a LANCZOS
      thumbnail always.
    * ``"llava-next"``: the canvas among ``llava_next_candidates(tile_size,
      max_tiles)`` (``llava_next_layout``); the tiles are the uint8 pictures of
      ``llava_next_pictures``, so they are exactly what the encoder sees; the
      thumbnail is the base image (the whole image squashed to ``tile_size``).
    * ``"internvl"``: ``internvl_grid`` with ``max_num = max_tiles`` (default
      12); stretched (bicubic); a thumbnail only when there is more than one tile.

    The image goes through ``vlmlab.preprocess.to_rgb`` first (EXIF
    orientation, size limits, mode conversion).
    """
    from PIL import Image

    from .preprocess import to_rgb

    check_choice(method, METHODS, "method")
    tile_size = as_positive_int(tile_size, "tile_size")
    if max_tiles is not None:
        max_tiles = as_positive_int(max_tiles, "max_tiles")
    image = to_rgb(image)
    size = (image.height, image.width)

    if method == "llava-next":
        candidates = llava_next_candidates(tile_size, max_tiles)
        layout = llava_next_layout(size, tile_size, candidates)
        pictures = [_to_pil(x) for x in llava_next_pictures(image, tile_size, candidates)]  # base image first
        return TilePlan(method, tiles=pictures[1:], thumbnail=pictures[0], grid=layout.grid, image_size=size,
                        resized=layout.resized, canvas=layout.canvas, offset=layout.offset, tile_size=tile_size,
                        max_tiles=max_tiles)

    if method == "naive":
        grid = naive_grid(size, 6 if max_tiles is None else max_tiles)
        resample = Image.LANCZOS
    else:  # internvl: stretched to the grid, no padding
        grid = internvl_grid(size, tile_size, 1, 12 if max_tiles is None else max_tiles)
        resample = Image.BICUBIC
    resized = (grid[0] * tile_size, grid[1] * tile_size)
    canvas = image.resize((resized[1], resized[0]), resample)  # PIL takes (width, height)
    several = grid[0] * grid[1] > 1
    thumbnail = image.resize((tile_size, tile_size), resample) if method == "naive" or several else None
    return TilePlan(method, tiles=_cut(canvas, grid, tile_size), thumbnail=thumbnail, grid=grid, image_size=size,
                    resized=resized, canvas=resized, offset=(0, 0), tile_size=tile_size, max_tiles=max_tiles)


# ---------------------------------------------------------------------------
# Pixel values, fast: what the HF image processors return
# ---------------------------------------------------------------------------


def llava_next_pictures(image, tile_size: int = 336, pinpoints=None):
    """LLaVA-NeXT's input pictures as uint8, ``(1 + T, 3, tile, tile)``: the base image first, then the crops.

    ``image``: a PIL image or a ``(3, H, W)`` uint8 tensor. The geometry is
    ``llava_next_layout``'s: resize keeping the aspect ratio (bicubic with
    antialias, on the uint8 image), paste on a black canvas at ``offset``, cut
    ``tile_size`` crops in reading order. The base image is the whole picture
    squashed to ``tile_size x tile_size``.
    """
    import torch

    from .preprocess import resize_bicubic, to_uint8_tensor

    tile_size = as_positive_int(tile_size, "tile_size")
    x = image if isinstance(image, torch.Tensor) and image.dtype == torch.uint8 else to_uint8_tensor(image)
    layout = llava_next_layout(tuple(x.shape[-2:]), tile_size, pinpoints)
    (canvas_h, canvas_w), (rows, cols), (new_h, new_w), (top, left) = layout
    canvas = torch.zeros(3, canvas_h, canvas_w, dtype=torch.uint8)
    canvas[:, top:top + new_h, left:left + new_w] = resize_bicubic(x, (new_h, new_w))
    crops = canvas.view(3, rows, tile_size, cols, tile_size).permute(1, 3, 0, 2, 4)  # (rows, cols, 3, t, t)
    base = resize_bicubic(x, (tile_size, tile_size))  # (3, t, t)
    return torch.cat([base[None], crops.reshape(-1, 3, tile_size, tile_size)], dim=0)  # (1 + T, 3, t, t)


def llava_next_pixel_values(image, tile_size: int = 336, pinpoints=None, mean=None, std=None):
    """LLaVA-NeXT's input pictures ``(1 + T, 3, tile, tile)``, normalised: base image first, then the crops.

    ``llava_next_pictures`` then ``preprocess.normalise`` (``mean`` / ``std``
    default to CLIP's): the same operations, and the same numbers, as
    ``LlavaNextImageProcessor`` with size and crop ``tile_size``. Returns
    ``(pixel_values, (height, width))``, the size of the upright image.
    """
    from .preprocess import CLIP_MEAN, CLIP_STD, normalise, to_uint8_tensor

    x = to_uint8_tensor(image)  # (3, H, W), upright
    pictures = llava_next_pictures(x, tile_size, pinpoints)
    return normalise(pictures, mean or CLIP_MEAN, std or CLIP_STD), (int(x.shape[1]), int(x.shape[2]))


def qwen2_vl_pixel_values(image, patch_size: int = 14, merge_size: int = 2, temporal_patch_size: int = 2,
                          min_pixels: int = QWEN2_VL_MIN_PIXELS, max_pixels: int = QWEN2_VL_MAX_PIXELS,
                          mean=None, std=None):
    """Qwen2-VL's flattened patches ``(rows*cols, 3*temporal*p*p)`` and ``grid_thw = (1, rows, cols)``.

    Smart resize (bicubic, antialias), normalise, cut ``p x p`` patches
    (``vlmlab.patches.patchify``, row-major), then put them in the order
    Qwen2-VL's vision tower expects (``vlmlab.patches.merge_order``): each
    ``merge x merge`` window's patches are consecutive, so the patch merger can
    concatenate neighbours by a plain reshape. A still image is repeated
    ``temporal_patch_size`` times (the tower's first layer is a 3-D convolution
    over frames): each vector is laid out ``(C, temporal, p, p)``. Same numbers
    as ``Qwen2VLImageProcessor``.
    """
    import torch

    from .patches import merge_order, patchify
    from .preprocess import CLIP_MEAN, CLIP_STD, normalise, resize_bicubic, to_uint8_tensor

    p = as_positive_int(patch_size, "patch_size")
    m = as_positive_int(merge_size, "merge_size")
    t = as_positive_int(temporal_patch_size, "temporal_patch_size")
    x = to_uint8_tensor(image)  # (3, H, W)
    new_h, new_w = smart_resize(int(x.shape[1]), int(x.shape[2]), p * m, min_pixels, max_pixels)
    x = normalise(resize_bicubic(x, (new_h, new_w)), mean or CLIP_MEAN, std or CLIP_STD)  # (3, h, w) float
    rows, cols = new_h // p, new_w // p
    patches = patchify(x[None], p)[0]  # (rows*cols, 3*p*p), row-major
    patches = patches[merge_order((rows, cols), m)]  # merge windows together
    patches = patches.view(-1, 3, 1, p * p).expand(-1, 3, t, p * p)  # repeat the still frame t times
    return patches.reshape(rows * cols, 3 * t * p * p), torch.tensor([[1, rows, cols]])
