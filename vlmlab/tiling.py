"""High-resolution images as several encoder-sized pictures: tiles, anyres, smart resize.

A CLIP encoder sees one ``tile_size x tile_size`` picture. Four ways to feed it
a larger or non-square image, each choosing a grid and paying for it in tokens:

* **naive grid** (the seed tutorial's ``split_image_to_tiles``): pick the
  ``(rows, cols)`` whose aspect ratio is closest to the image's; a square image
  always gets one tile, whatever its resolution.
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
  patches, merge each 2x2 group into one LLM token.

Checked against (tests/test_tiling.py, hundreds of random sizes):
``transformers.image_processing_utils.select_best_resolution`` and
``get_patch_output_size``; ``transformers.models.llava_next.processing_llava_next.
LlavaNextProcessor._get_number_of_features`` and ``modeling_llava_next.
LlavaNextModel.pack_image_features``; ``LlavaNextImageProcessor``;
``transformers.models.qwen2_vl.image_processing_qwen2_vl.smart_resize`` and
``Qwen2VLImageProcessor``; InternVL's ``dynamic_preprocess`` /
``find_closest_aspect_ratio`` (OpenGVLab/InternVL, ``internvl_chat``) and
``transformers.models.got_ocr2.image_processing_got_ocr2.get_optimal_tiled_canvas``.

Sizes are ``(height, width)``; grids are ``(rows, cols)``.

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
from dataclasses import dataclass, field

from ._validate import as_positive_int, as_size, check_choice

__all__ = [
    "LLAVA_NEXT_GRID_PINPOINTS",
    "METHODS",
    "TilePlan",
    "internvl_grid",
    "internvl_num_tokens",
    "internvl_target_ratios",
    "llava_next_grid",
    "llava_next_num_tokens",
    "llava_next_pack",
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
QWEN2_VL_MIN_PIXELS = 56 * 56
QWEN2_VL_MAX_PIXELS = 28 * 28 * 1280
QWEN2_VL_MAX_ASPECT_RATIO = 200


# ---------------------------------------------------------------------------
# The seed's naive grid
# ---------------------------------------------------------------------------


def naive_grid(image_size, max_tiles: int = 6) -> tuple[int, int]:
    """The seed's grid choice: the ``(rows, cols)`` whose ``cols / rows`` is closest to ``width / height``.

    Written as the seed wrote it: for each tile count ``n <= max_tiles`` and each
    ``rows <= n`` it tries ``cols = n // rows`` and keeps the first grid with the
    smallest aspect-ratio error. It never looks at the resolution, so a square
    image gets one tile whether it is 300 or 3000 pixels wide.
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
    """The seed's tiling: stretch to ``naive_grid``'s canvas, cut ``tile_size`` tiles, append a thumbnail.

    Returns ``(tiles, (rows, cols))`` where ``tiles`` holds the ``rows * cols``
    tiles in reading order and then, last, the whole image squashed to one tile
    (LANCZOS, as in the seed). Kept for teaching; ``plan_tiles`` is the
    structured version.
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


def llava_next_grid(image_size, tile_size: int = 336, pinpoints=None) -> tuple[int, int]:
    """``(rows, cols)`` of ``tile_size`` crops for LLaVA-NeXT (the base image is extra)."""
    tile_size = as_positive_int(tile_size, "tile_size")
    best_h, best_w = select_best_resolution(image_size, pinpoints or scaled_pinpoints(tile_size))
    return best_h // tile_size, best_w // tile_size


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
    ``pinpoints`` defaults to ``scaled_pinpoints(tile_size)``.
    """
    tile_size = as_positive_int(tile_size, "tile_size")
    patch_size = as_positive_int(patch_size, "patch_size")
    side = tile_size // patch_size  # features per tile side
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

    if not isinstance(tile_features, torch.Tensor) or tile_features.ndim != 3:
        raise ValueError(
            "tile_features must be a (1 + tiles, tokens, dim) tensor, "
            f"got {getattr(tile_features, 'shape', type(tile_features).__name__)}"
        )
    rows, cols = plan.grid
    T, N, D = tile_features.shape
    if T != 1 + rows * cols:
        raise ValueError(f"tile_features has {T} pictures; plan {plan.grid} needs 1 base + {rows * cols} crops")
    side = math.isqrt(N)
    if side * side != N:
        raise ValueError(f"tile_features has {N} tokens per picture, not a square grid; drop the CLS token first")
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
    if min_num > max_num:
        raise ValueError(f"min_num must be <= max_num, got min_num={min_num}, max_num={max_num}")
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


def internvl_num_tokens(image_size, tile_size: int = 448, patch_size: int = 14, min_num: int = 1, max_num: int = 12,
                        use_thumbnail: bool = True, downsample: int = 2) -> int:
    """InternVL2's visual tokens: ``(tile/patch)² / downsample²`` per tile (256 for 448/14), thumbnail included."""
    rows, cols = internvl_grid(image_size, tile_size, min_num, max_num)
    tiles = rows * cols + (1 if use_thumbnail and rows * cols > 1 else 0)
    per_tile = (tile_size // patch_size) ** 2 // downsample**2
    return tiles * per_tile


# ---------------------------------------------------------------------------
# Qwen2-VL smart resize
# ---------------------------------------------------------------------------


def smart_resize(height: int, width: int, factor: int = 28, min_pixels: int = QWEN2_VL_MIN_PIXELS,
                 max_pixels: int = QWEN2_VL_MAX_PIXELS) -> tuple[int, int]:
    """Qwen2-VL's resize target: both sides multiples of ``factor``, area within ``[min_pixels, max_pixels]``.

    Round each side to the nearest multiple of ``factor``; if that is too many
    pixels, scale both sides down by ``sqrt(area / max_pixels)`` and floor; if
    too few, scale up and ceil. Aspect ratios beyond 200 are refused, as in
    ``transformers.models.qwen2_vl.image_processing_qwen2_vl.smart_resize``.

        >>> smart_resize(336, 336)
        (336, 336)
    """
    height, width = as_size((height, width), "(height, width)")
    factor = as_positive_int(factor, "factor")
    min_pixels = as_positive_int(min_pixels, "min_pixels")
    max_pixels = as_positive_int(max_pixels, "max_pixels")
    if min_pixels > max_pixels:
        raise ValueError(f"min_pixels must be <= max_pixels, got {min_pixels} > {max_pixels}")
    if max(height, width) / min(height, width) > QWEN2_VL_MAX_ASPECT_RATIO:
        raise ValueError(
            f"absolute aspect ratio must be smaller than {QWEN2_VL_MAX_ASPECT_RATIO}, got "
            f"{max(height, width) / min(height, width)} for (height, width) = {(height, width)}"
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


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
    InternVL's thumbnail, the seed's thumbnail) or ``None``; ``grid``:
    ``(rows, cols)``; ``resized``: the ``(height, width)`` the image content was
    resized to; ``canvas``: the ``(height, width)`` cut into tiles
    (``resized`` plus padding for LLaVA-NeXT, equal to ``resized`` otherwise);
    ``image_size``: the original ``(height, width)``.
    """

    method: str
    tiles: list
    thumbnail: object
    grid: tuple[int, int]
    resized: tuple[int, int]
    tile_size: int
    image_size: tuple[int, int] = (0, 0)
    canvas: tuple[int, int] = (0, 0)
    offset: tuple[int, int] = field(default=(0, 0))  # (top, left) of the resized image on the canvas

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


def plan_tiles(image, method: str, tile_size: int = 336, max_tiles: int | None = None) -> TilePlan:
    """Cut ``image`` (PIL) into encoder-sized tiles the way ``method`` does.

    * ``"naive"``: the seed (``naive_grid``; ``max_tiles`` defaults to 6); the
      image is stretched to the grid (LANCZOS); a LANCZOS thumbnail always.
    * ``"llava-next"``: ``select_best_resolution`` among
      ``scaled_pinpoints(tile_size)`` (only those with at most ``max_tiles``
      crops, when given); bicubic resize keeping the aspect ratio, centred on a
      black canvas; the thumbnail is the base image (the whole image squashed
      to ``tile_size``).
    * ``"internvl"``: ``internvl_grid`` with ``max_num = max_tiles`` (default
      12); stretched (bicubic); a thumbnail only when there is more than one tile.

    The image goes through ``vlmlab.preprocess.to_rgb`` first (size limits,
    EXIF orientation, mode conversion).
    """
    from PIL import Image

    from .preprocess import to_rgb

    check_choice(method, METHODS, "method")
    tile_size = as_positive_int(tile_size, "tile_size")
    if max_tiles is not None:
        max_tiles = as_positive_int(max_tiles, "max_tiles")
    image = to_rgb(image)
    height, width = image.height, image.width

    if method == "naive":
        grid = naive_grid((height, width), 6 if max_tiles is None else max_tiles)
        resized = (grid[0] * tile_size, grid[1] * tile_size)
        canvas = image.resize((resized[1], resized[0]), Image.LANCZOS)
        thumbnail = image.resize((tile_size, tile_size), Image.LANCZOS)
        offset = (0, 0)
    elif method == "llava-next":
        candidates = scaled_pinpoints(tile_size)
        if max_tiles is not None:
            candidates = [(h, w) for h, w in candidates if (h // tile_size) * (w // tile_size) <= max_tiles]
            if not candidates:
                raise ValueError(f"max_tiles={max_tiles} leaves no LLaVA-NeXT pinpoint (the smallest has 2 tiles)")
        best_h, best_w = select_best_resolution((height, width), candidates)
        grid = (best_h // tile_size, best_w // tile_size)
        resized = llava_next_resized_size((height, width), (best_h, best_w))
        # padding as transformers' LlavaNextImageProcessor._get_padding_size: the odd pixel goes right/bottom
        offset = ((best_h - resized[0]) // 2, (best_w - resized[1]) // 2)
        canvas = Image.new("RGB", (best_w, best_h), (0, 0, 0))
        canvas.paste(image.resize((resized[1], resized[0]), Image.BICUBIC), (offset[1], offset[0]))
        thumbnail = image.resize((tile_size, tile_size), Image.BICUBIC)
    else:  # internvl
        grid = internvl_grid((height, width), tile_size, 1, 12 if max_tiles is None else max_tiles)
        resized = (grid[0] * tile_size, grid[1] * tile_size)
        canvas = image.resize((resized[1], resized[0]), Image.BICUBIC)
        thumbnail = image.resize((tile_size, tile_size), Image.BICUBIC) if grid[0] * grid[1] > 1 else None
        offset = (0, 0)

    return TilePlan(
        method=method,
        tiles=_cut(canvas, grid, tile_size),
        thumbnail=thumbnail,
        grid=grid,
        resized=tuple(resized),
        tile_size=tile_size,
        image_size=(height, width),
        canvas=(canvas.height, canvas.width),
        offset=offset,
    )


# ---------------------------------------------------------------------------
# Pixel values, fast: what the HF image processors return
# ---------------------------------------------------------------------------


def _uint8_chw(image):
    """RGB PIL image -> ``(3, H, W)`` uint8 tensor."""
    import numpy as np
    import torch

    from .preprocess import to_rgb

    return torch.from_numpy(np.array(to_rgb(image))).permute(2, 0, 1)  # (H, W, 3) -> (3, H, W)


def _normalize(x, mean, std):
    import torch

    # uint8 -> float, rescale by 1/255 and normalise in one multiply-add, as transformers fuses them
    mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1) * 255.0
    inv_std = 1.0 / (torch.tensor(std, dtype=torch.float32).view(-1, 1, 1) * 255.0)
    return (x.to(torch.float32) - mean) * inv_std


def llava_next_pixel_values(image, tile_size: int = 336, pinpoints=None):
    """LLaVA-NeXT's input pictures ``(1 + T, 3, tile, tile)``, normalised: base image first, then the crops.

    The same operations as ``LlavaNextImageProcessor`` (size and crop
    ``tile_size``): torchvision bicubic resize with antialias on the uint8
    image, black padding, crops, CLIP normalisation. Returns
    ``(pixel_values, (height, width))``.
    """
    import torch
    from torchvision.transforms.v2 import functional as tvF

    from .preprocess import CLIP_MEAN, CLIP_STD

    tile_size = as_positive_int(tile_size, "tile_size")
    x = _uint8_chw(image)  # (3, H, W)
    height, width = x.shape[-2:]
    best_h, best_w = select_best_resolution((height, width), pinpoints or scaled_pinpoints(tile_size))
    new_h, new_w = llava_next_resized_size((height, width), (best_h, best_w))
    resized = tvF.resize(x, [new_h, new_w], interpolation=tvF.InterpolationMode.BICUBIC, antialias=True)
    top, left = (best_h - new_h) // 2, (best_w - new_w) // 2
    canvas = torch.zeros(3, best_h, best_w, dtype=torch.uint8)
    canvas[:, top:top + new_h, left:left + new_w] = resized
    rows, cols = best_h // tile_size, best_w // tile_size
    crops = canvas.view(3, rows, tile_size, cols, tile_size).permute(1, 3, 0, 2, 4).reshape(-1, 3, tile_size, tile_size)
    base = tvF.resize(x, [tile_size, tile_size], interpolation=tvF.InterpolationMode.BICUBIC, antialias=True)
    pictures = torch.cat([base[None], crops], dim=0)  # (1 + T, 3, tile, tile)
    return _normalize(pictures, CLIP_MEAN, CLIP_STD), (int(height), int(width))


def qwen2_vl_pixel_values(image, patch_size: int = 14, merge_size: int = 2, temporal_patch_size: int = 2,
                          min_pixels: int = QWEN2_VL_MIN_PIXELS, max_pixels: int = QWEN2_VL_MAX_PIXELS):
    """Qwen2-VL's flattened patches ``(rows*cols, 3*temporal*p*p)`` and ``grid_thw = (1, rows, cols)``.

    Smart resize (bicubic, antialias), normalise, then cut ``p x p`` patches in
    the order Qwen2-VL's vision tower expects: each 2x2 merge group's four
    patches are consecutive, so the patch merger can concatenate neighbours by
    a plain reshape. A still image is repeated ``temporal_patch_size`` times
    (the tower's first layer is a 3-D convolution over frames). Same layout as
    ``Qwen2VLImageProcessor.patchify``.
    """
    from torchvision.transforms.v2 import functional as tvF

    from .preprocess import CLIP_MEAN, CLIP_STD

    p = as_positive_int(patch_size, "patch_size")
    m = as_positive_int(merge_size, "merge_size")
    t = as_positive_int(temporal_patch_size, "temporal_patch_size")
    x = _uint8_chw(image)
    new_h, new_w = smart_resize(int(x.shape[1]), int(x.shape[2]), p * m, min_pixels, max_pixels)
    x = tvF.resize(x, [new_h, new_w], interpolation=tvF.InterpolationMode.BICUBIC, antialias=True)
    x = _normalize(x, CLIP_MEAN, CLIP_STD)  # (3, H, W) float
    rows, cols = new_h // p, new_w // p
    x = x.view(3, rows // m, m, p, cols // m, m, p)  # (C, rows/m, m, p, cols/m, m, p)
    x = x.permute(1, 4, 2, 5, 0, 3, 6)  # (rows/m, cols/m, m, m, C, p, p): merge groups together
    x = x.unsqueeze(5).expand(-1, -1, -1, -1, -1, t, -1, -1)  # repeat the still frame t times
    patches = x.reshape(rows * cols, 3 * t * p * p)
    import torch

    return patches, torch.tensor([[1, rows, cols]])
