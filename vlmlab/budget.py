"""How many visual tokens will this image cost in model X?

Each VLM family turns an image of ``(height, width)`` pixels into a different
number of LLM tokens. ``token_budget`` answers with the same arithmetic the
model's own processor uses (the functions in ``vlmlab.tiling``, each tested
against ``transformers``):

=============  ==========================================================  =====================
family         rule (defaults)                                             checked against
=============  ==========================================================  =====================
``clip-224``   shortest-edge resize + centre crop to 224, ViT-L/14:        ``CLIPImageProcessor``
               (224/14)² = 256 tokens, whatever the image
``llava-1.5``  the same at 336: (336/14)² = 576 tokens                     ``LlavaProcessor``
``llava-next`` anyres: base image + unpadded crops + a newline per row    ``LlavaNextProcessor``
               (336 tiles, patch 14, LLaVA-v1.6's five pinpoints)
``internvl2``  dynamic tiles of 448 (1..12, + thumbnail), 256 tokens each  InternVL ``dynamic_preprocess``
               after the 2x2 pixel shuffle
``qwen2-vl``   smart resize to multiples of 28 in [56², 28²·1280] pixels,  ``Qwen2VLImageProcessor``
               14-pixel patches, 2x2 merge: patches / 4 tokens
=============  ==========================================================  =====================

The keyword options (``tile_size``, ``patch_size``, ``max_tiles``,
``min_pixels``, ``max_pixels``) replace the defaults, so a toy encoder (tile
64, patch 8) gets its own exact count: LLaVA-NeXT's pinpoints are rescaled to
the tile (``tiling.scaled_pinpoints``), Qwen2-VL's factor becomes
``patch_size * 2``.

    >>> token_budget((1080, 1920), "qwen2-vl").tokens
    1222
    >>> token_budget((336, 336), "llava-1.5").tokens
    576
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from . import tiling
from ._validate import as_positive_int, as_size, check_choice

__all__ = ["FAMILIES", "TokenBudget", "budget_table", "format_table", "token_budget"]

# The real defaults of each family (the published checkpoints' processor configs).
FAMILIES = {
    "clip-224": dict(tile_size=224, patch_size=14, model="CLIP ViT-L/14 at 224 (LLaVA-1)"),
    "llava-1.5": dict(tile_size=336, patch_size=14, model="llava-hf/llava-1.5-7b-hf"),
    "llava-next": dict(tile_size=336, patch_size=14, max_tiles=None, model="llava-hf/llava-v1.6-mistral-7b-hf"),
    "internvl2": dict(tile_size=448, patch_size=14, max_tiles=12, model="OpenGVLab/InternVL2-8B"),
    "qwen2-vl": dict(patch_size=14, min_pixels=tiling.QWEN2_VL_MIN_PIXELS, max_pixels=tiling.QWEN2_VL_MAX_PIXELS,
                     model="Qwen/Qwen2-VL-7B-Instruct"),
}


@dataclass(frozen=True)
class TokenBudget:
    """One image in one family.

    ``tokens``: visual tokens the LLM reads; ``tiles``: pictures the vision
    encoder runs on (crops + base/thumbnail); ``grid``: ``(rows, cols)`` of
    crops (``(1, 1)`` for single-picture families; for ``qwen2-vl`` the grid of
    merged LLM tokens); ``resized``: the ``(height, width)`` the image content
    is resized to; ``patch_grid``: ``(rows, cols)`` of encoder patches per
    picture (for ``qwen2-vl``, of the whole resized image); ``kept``: the
    fraction of the original image that survives (the centre crop of the
    single-picture families drops the rest).
    """

    family: str
    image_size: tuple[int, int]
    tokens: int
    tiles: int
    grid: tuple[int, int]
    resized: tuple[int, int]
    patch_grid: tuple[int, int]
    tile_size: int | None
    patch_size: int
    kept: float = 1.0

    def as_dict(self) -> dict:
        return asdict(self)


def token_budget(image_size, family: str, *, tile_size: int | None = None, patch_size: int | None = None,
                 max_tiles: int | None = None, min_pixels: int | None = None,
                 max_pixels: int | None = None) -> TokenBudget:
    """The visual-token bill for an image of ``image_size = (height, width)`` in ``family``.

    Pure arithmetic: no pixels are touched, so a 20000x20000 image costs
    nothing to ask about. Limits of a method (Qwen2-VL's aspect ratio 200,
    LLaVA-NeXT's pinpoints that scale a 1-pixel-thin strip to nothing) raise
    ``ValueError`` naming the limit.
    """
    height, width = as_size(image_size, "image_size")
    check_choice(family, FAMILIES, "family")
    defaults = FAMILIES[family]
    p = as_positive_int(patch_size if patch_size is not None else defaults["patch_size"], "patch_size")
    tile = defaults.get("tile_size") if tile_size is None else as_positive_int(tile_size, "tile_size")
    size = (height, width)

    if family in ("clip-224", "llava-1.5"):
        side = tile // p
        return TokenBudget(family, size, side * side, 1, (1, 1), (tile, tile), (side, side), tile, p,
                           kept=min(height, width) / max(height, width))

    if family == "llava-next":
        candidates = tiling.scaled_pinpoints(tile)
        if max_tiles is not None:
            max_tiles = as_positive_int(max_tiles, "max_tiles")
            candidates = [(h, w) for h, w in candidates if (h // tile) * (w // tile) <= max_tiles]
            if not candidates:
                raise ValueError(f"max_tiles={max_tiles} leaves no LLaVA-NeXT pinpoint (the smallest has 2 tiles)")
        best = tiling.select_best_resolution(size, candidates)
        grid = (best[0] // tile, best[1] // tile)
        tokens = tiling.llava_next_num_tokens(size, tile, p, candidates)
        return TokenBudget(family, size, tokens, grid[0] * grid[1] + 1, grid,
                           tiling.llava_next_resized_size(size, best), (tile // p, tile // p), tile, p)

    if family == "internvl2":
        max_num = defaults["max_tiles"] if max_tiles is None else as_positive_int(max_tiles, "max_tiles")
        grid = tiling.internvl_grid(size, tile, 1, max_num)
        tiles = grid[0] * grid[1] + (1 if grid[0] * grid[1] > 1 else 0)  # + thumbnail
        tokens = tiling.internvl_num_tokens(size, tile, p, 1, max_num)
        return TokenBudget(family, size, tokens, tiles, grid, (grid[0] * tile, grid[1] * tile),
                           (tile // p, tile // p), tile, p)

    # qwen2-vl
    lo = defaults["min_pixels"] if min_pixels is None else as_positive_int(min_pixels, "min_pixels")
    hi = defaults["max_pixels"] if max_pixels is None else as_positive_int(max_pixels, "max_pixels")
    merge = 2
    resized = tiling.smart_resize(height, width, p * merge, lo, hi)
    patches = (resized[0] // p, resized[1] // p)
    grid = (patches[0] // merge, patches[1] // merge)
    return TokenBudget(family, size, grid[0] * grid[1], 1, grid, resized, patches, None, p)


def budget_table(images, families=None, **options) -> list[dict]:
    """Rows ``dict(image=, size=, family=, tokens=, tiles=, grid=, resized=)`` for each image and family.

    ``images``: a dict ``name -> (height, width)`` or a list of sizes. A family
    that refuses an image (a limit hit) gets ``tokens=None`` and the reason.
    """
    families = list(FAMILIES) if families is None else list(families)
    items = images.items() if isinstance(images, dict) else ((str(s), s) for s in images)
    rows = []
    for name, size in items:
        for family in families:
            try:
                b = token_budget(size, family, **options)
                rows.append(dict(image=name, size=tuple(size), family=family, tokens=b.tokens, tiles=b.tiles,
                                 grid=b.grid, resized=b.resized, note=""))
            except ValueError as err:
                rows.append(dict(image=name, size=tuple(size), family=family, tokens=None, tiles=None, grid=None,
                                 resized=None, note=str(err).split(";")[0]))
    return rows


def format_table(rows) -> str:
    """A plain-text table of ``budget_table`` rows (sizes as height x width)."""
    def hw(v):
        return "-" if v is None else f"{v[0]}x{v[1]}"

    header = ["image", "size (HxW)", "family", "tiles", "grid", "resized (HxW)", "tokens"]
    lines = [
        [r["image"], hw(r["size"]), r["family"], "-" if r["tiles"] is None else str(r["tiles"]), hw(r["grid"]),
         hw(r["resized"]), "-" if r["tokens"] is None else str(r["tokens"])]
        for r in rows
    ]
    if any(r["tokens"] is None for r in rows):  # say why a family refused an image
        header.append("note")
        for line, r in zip(lines, rows):
            line.append("refused: " + r["note"] if r["tokens"] is None else "")
    widths = [max([len(h)] + [len(line[i]) for line in lines]) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 3 or i == 7 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line).rstrip() for line in lines]
    return "\n".join(out)
