"""Dynamic resolution: Qwen2-VL's size rule, and encoding tiles one by one or one picture at its own size.

``smart_resize`` is Qwen2-VL's rule for the size a picture is encoded at:
both sides multiples of ``patch * merge`` (28), the area within a pixel
budget, the aspect ratio kept as well as that allows (``vlmlab.tiling``
re-exports it and counts the tokens it gives).

    >>> smart_resize(1080, 1920)
    (728, 1316)

Two ways to run a CLIP-style encoder on more pixels than it was trained on:

* ``encode_tiles`` — one tile at a time: every tile (``vlmlab.tiling.plan_tiles``)
  is encoded on its own at the encoder's native size and the patch features
  are concatenated, ``(1, sum N, D)``. Positions are the encoder's own; each
  tile has no idea where it sits in the image (LLaVA-NeXT adds newline tokens
  for that, see ``tiling.llava_next_pack``).
* ``DynamicResolutionEncoder`` — Qwen2-VL's idea on a CLIP encoder: resize the
  image with :func:`smart_resize` to multiples of ``patch * merge`` and run
  the encoder once on that ``(H, W)``, with CLIP's position table resized to
  the new ``(H/p, W/p)`` grid **in 2-D** (bicubic, as
  ``transformers.models.clip.modeling_clip.CLIPVisionEmbeddings.interpolate_pos_encoding``
  and ``vlmlab.posembed.interpolate_pos_embed`` do). Each image gives its own
  number of tokens; ``pad_batch`` stacks variable-length sequences with a padding mask.

A common first implementation of a dynamic-resolution CLIP goes wrong in
three ways. It *adds* a second, randomly initialised position table on top of
CLIP's own (CLIP's features already carry positions; random ones are noise the
LLM must learn to ignore). It resizes that table with
``F.interpolate(mode="linear")`` over the *flattened* sequence: flattening
forgets where one row ends, so stretching a row-major 1-D list of
``rows*cols`` positions to a new length mixes the end of one row with the
start of the next (``interpolate_1d_flattened`` shows it). And its size rule,
a minimum scale applied after a maximum one, breaks its own maximum for long
images (``naive_resize_size``). Here CLIP's own table is resized in 2-D, and
``smart_resize`` keeps the pixel budget.

Qwen2-VL itself does not interpolate a table at all: its ViT uses 2-D rotary
position embeddings (Wang et al. 2024, https://arxiv.org/abs/2409.12191,
section 2.1, "Naive Dynamic Resolution"), which are defined for any grid.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import as_positive_int, as_size, check_at_most

__all__ = [
    "DynamicResolutionEncoder",
    "QWEN2_VL_MAX_PIXELS",
    "QWEN2_VL_MIN_PIXELS",
    "coordinate_table",
    "encode_tiles",
    "interpolate_1d_flattened",
    "naive_resize_size",
    "pad_batch",
    "smart_resize",
]


# ---------------------------------------------------------------------------
# Qwen2-VL's smart resize: the size a picture is encoded at
# ---------------------------------------------------------------------------


# Qwen2VLImageProcessor's class defaults (the released checkpoints ship max_pixels = 28*28*16384: vlmlab.budget).
QWEN2_VL_MIN_PIXELS = 56 * 56
QWEN2_VL_MAX_PIXELS = 28 * 28 * 1280
QWEN2_VL_MAX_ASPECT_RATIO = 200


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
    check_at_most(min_pixels, max_pixels, "min_pixels", "max_pixels")
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


# ---------------------------------------------------------------------------
# Encoding at high resolution
# ---------------------------------------------------------------------------


def _pixel_values(x, size, mean, std) -> torch.Tensor:
    """``(3, H, W)`` uint8 -> ``(1, 3, h, w)`` normalised, resized to ``size = (h, w)`` (antialiased bicubic)."""
    from .preprocess import normalise, resize_bicubic

    return normalise(resize_bicubic(x, size), mean, std).unsqueeze(0)  # (1, 3, h, w)


def encode_tiles(encoder, tiles) -> torch.Tensor:
    """Encode each tile on its own at the encoder's size, then concatenate the patch features.

    ``tiles``: PIL images (e.g. ``plan.tiles + [plan.thumbnail]``), each resized
    to ``encoder.image_size`` if it isn't already. Returns ``(1, sum N, D)``
    (``N = (image_size / patch_size)²`` per tile).
    """
    from .preprocess import image_mean_std, to_uint8_tensor

    if not isinstance(tiles, (list, tuple)):
        raise TypeError(f"tiles must be a list of PIL images, got {type(tiles).__name__}")
    if not tiles:
        raise ValueError("tiles must hold at least one PIL image, got an empty list")
    size = (encoder.image_size, encoder.image_size)
    mean, std = image_mean_std(getattr(encoder, "processor", None))
    features = []
    with torch.no_grad():
        for n, tile in enumerate(tiles):
            pixel_values = _pixel_values(to_uint8_tensor(tile, f"tiles[{n}]"), size, mean, std)  # (1, 3, S, S)
            features.append(encoder(pixel_values))  # (1, N, D)
    return torch.cat(features, dim=1)  # (1, sum N, D)


class DynamicResolutionEncoder(nn.Module):
    """Run a CLIP-style encoder at each image's own resolution (Qwen2-VL style), positions resized in 2-D.

    Args:
        encoder: a ``vlmlab.clip.VLMVisionEncoder`` (anything with
            ``image_size``, ``patch_size`` and
            ``forward(pixel_values, interpolate_pos_encoding=True) -> (B, N, D)``).
        merge_size: the later ``merge x merge`` token merge (Qwen2-VL: 2); sides
            become multiples of ``patch_size * merge_size``, so the patch grid
            divides evenly.
        min_pixels, max_pixels: the pixel budget; default ``4`` and ``1280``
            merged tokens, Qwen2-VL's ``56*56`` and ``28*28*1280`` rescaled to
            this encoder's ``patch * merge`` factor.

    ``forward(images)`` takes a list of PIL images and returns a list of
    ``(N_i, D)`` patch features, ``N_i = (h_i / p) * (w_i / p)`` in row-major
    order, one per image, with ``(h_i, w_i) = smart_resize(...)``. No
    parameters of its own: the only position information is CLIP's table,
    bicubically resized to each grid.
    """

    def __init__(self, encoder, merge_size: int = 2, min_pixels: int | None = None, max_pixels: int | None = None):
        super().__init__()
        from .preprocess import image_mean_std

        if not hasattr(encoder, "patch_size"):
            raise TypeError(f"encoder must have a patch_size (a vlmlab.clip.VLMVisionEncoder), got {type(encoder).__name__}")
        self.encoder = encoder
        self.patch_size = as_positive_int(encoder.patch_size, "encoder.patch_size")
        self.merge_size = as_positive_int(merge_size, "merge_size")
        self.factor = self.patch_size * self.merge_size
        self.min_pixels = as_positive_int(min_pixels, "min_pixels") if min_pixels is not None else 4 * self.factor**2
        self.max_pixels = as_positive_int(max_pixels, "max_pixels") if max_pixels is not None else 1280 * self.factor**2
        check_at_most(self.min_pixels, self.max_pixels, "min_pixels", "max_pixels")
        self.mean, self.std = image_mean_std(getattr(encoder, "processor", None))

    def target_size(self, image_size) -> tuple[int, int]:
        """``(h, w)`` an image of ``image_size = (height, width)`` is resized to (``smart_resize``)."""
        height, width = as_size(image_size, "image_size")
        return smart_resize(height, width, self.factor, self.min_pixels, self.max_pixels)

    def grid(self, image_size) -> tuple[int, int]:
        """``(rows, cols)`` of patches for an image of ``image_size``; ``rows * cols`` features come out."""
        h, w = self.target_size(image_size)
        return h // self.patch_size, w // self.patch_size

    def pixel_values(self, image, name: str = "image") -> torch.Tensor:
        """One PIL image -> ``(1, 3, h, w)`` at its smart-resized size, normalised like the encoder's processor."""
        from .preprocess import to_uint8_tensor

        x = to_uint8_tensor(image, name)  # (3, H, W), upright
        return _pixel_values(x, self.target_size(tuple(x.shape[-2:])), self.mean, self.std)

    def forward(self, images) -> list[torch.Tensor]:
        from PIL import Image

        if isinstance(images, Image.Image):
            images = [images]
        if not isinstance(images, (list, tuple)):
            raise TypeError(f"images must be a PIL image or a list of PIL images, got {type(images).__name__}")
        if not images:
            raise ValueError("images must hold at least one PIL image, got an empty list")
        outputs = []
        for n, image in enumerate(images):
            pixel_values = self.pixel_values(image, f"images[{n}]")  # (1, 3, h, w)
            rows, cols = pixel_values.shape[-2] // self.patch_size, pixel_values.shape[-1] // self.patch_size
            features = self.encoder(pixel_values, interpolate_pos_encoding=True)  # (1, [1+] rows*cols, D)
            if features.shape[1] == rows * cols + 1:  # an encoder that keeps CLS: drop it
                features = features[:, 1:]
            outputs.append(features[0])  # (rows*cols, D)
        return outputs


def pad_batch(features, pad_value: float = 0.0):
    """Stack variable-length ``(N_i, D)`` sequences: ``(padded (B, N_max, D), mask (B, N_max) bool)``.

    ``mask[b, n]`` is True where ``padded[b, n]`` is a real token, False on
    padding (at the end of each row), the convention of an attention mask.
    In a VLM the sequences padded this way are the language model's inputs,
    text and image tokens spliced together; Qwen2-VL's vision tower instead
    packs all images' patches into one sequence and keeps attention inside
    each image with cumulative lengths (``cu_seqlens``), without padding.
    """
    if not isinstance(features, (list, tuple)):
        raise TypeError(f"features must be a list of (N_i, D) tensors, got {type(features).__name__}")
    if not features:
        raise ValueError("features must be a non-empty list of (N_i, D) tensors, got an empty list")
    dims = {f.shape[-1] for f in features if isinstance(f, torch.Tensor) and f.ndim == 2}
    if len(dims) != 1 or any(not isinstance(f, torch.Tensor) or f.ndim != 2 for f in features):
        shapes = [tuple(getattr(f, "shape", ())) for f in features]
        raise ValueError(f"features must all be (N_i, D) tensors with the same D, got shapes {shapes}")
    lengths = torch.tensor([f.shape[0] for f in features])
    B, N_max, D = len(features), int(lengths.max()), dims.pop()
    padded = features[0].new_full((B, N_max, D), pad_value)
    for b, f in enumerate(features):
        padded[b, : f.shape[0]] = f
    mask = torch.arange(N_max)[None, :] < lengths[:, None]  # (B, N_max)
    return padded, mask


# ---------------------------------------------------------------------------
# Common first implementations, and why they are wrong
# ---------------------------------------------------------------------------


def interpolate_1d_flattened(pos_embed: torch.Tensor, num_positions: int) -> torch.Tensor:
    """A common first resize of a position table: ``(N, D)`` -> ``(num_positions, D)`` by 1-D linear interpolation.

    The table is treated as one long row-major list. Stretched to another
    length, position ``n`` of the new list samples the old list at
    ``n * N / num_positions`` — a point that drifts across row boundaries, so a
    new row mixes the end of one old row with the start of the next. Use
    ``vlmlab.posembed.interpolate_pos_embed`` (2-D) instead.
    """
    if not isinstance(pos_embed, torch.Tensor):
        raise TypeError(f"pos_embed must be a (N, D) torch.Tensor, got {type(pos_embed).__name__}")
    if pos_embed.ndim != 2:
        raise ValueError(f"pos_embed must be a (N, D) tensor, got shape {tuple(pos_embed.shape)}")
    num_positions = as_positive_int(num_positions, "num_positions")
    x = pos_embed.T.unsqueeze(0)  # (1, D, N): positions as the "length" axis
    x = F.interpolate(x, size=num_positions, mode="linear")  # (1, D, num_positions)
    return x[0].T  # (num_positions, D)


def naive_resize_size(image_size, patch_size: int = 14, min_size: int = 224, max_size: int = 1344) -> tuple[int, int]:
    """A common first size rule for dynamic resolution (``resize_with_aspect_ratio``): ``(height, width)``.

    ``scale = min(max_size / long, 1)``, then ``max(scale, min_size / short)``:
    the second rule wins for long thin images, so the long side can end far
    beyond ``max_size`` (a 100x2000 strip becomes 224x4480); a side under
    ``patch_size`` becomes 0 after flooring to a patch multiple.
    """
    patch_size = as_positive_int(patch_size, "patch_size")
    min_size = as_positive_int(min_size, "min_size")
    max_size = as_positive_int(max_size, "max_size")
    height, width = as_size(image_size, "image_size")
    scale = min(max_size / max(width, height), 1.0)
    scale = max(scale, min_size / min(width, height))
    new_w, new_h = int(width * scale), int(height * scale)
    return new_h // patch_size * patch_size, new_w // patch_size * patch_size


def coordinate_table(grid) -> torch.Tensor:
    """A ``(rows*cols, 2)`` table whose channels are each position's (row, col): makes interpolation visible.

    Resizing it and reading the channels back shows which old row and column
    each new position draws from.
    """
    rows, cols = as_size(grid, "grid")
    r, c = torch.meshgrid(torch.arange(rows, dtype=torch.float32), torch.arange(cols, dtype=torch.float32),
                          indexing="ij")
    return torch.stack([r.flatten(), c.flatten()], dim=-1)  # (rows*cols, 2)
