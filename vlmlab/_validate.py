"""Checks on user input, shared by every module.

Bad input gets a ``ValueError`` (or ``TypeError``) that names the argument,
the value it got and what would be accepted, before it can fail deep inside
torch. Sizes are ``(height, width)`` everywhere in vlmlab.
"""

from __future__ import annotations

import math
import numbers


def as_size(value, name: str = "image_size") -> tuple[int, int]:
    """An int ``s`` or a pair ``(h, w)`` as a ``(height, width)`` tuple of positive ints."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int or a (height, width) pair, got {value!r}")
    if isinstance(value, numbers.Integral):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a (height, width) pair of ints, got {value!r}")
    if pair[0] <= 0 or pair[1] <= 0:
        raise ValueError(f"{name} must be positive, got {value!r} (as (height, width): {pair})")
    return pair


def as_positive_int(value, name: str) -> int:
    """A positive int, or a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def as_non_negative_int(value, name: str, why: str = "") -> int:
    """An int ``>= 0`` (a count that may be zero, a seed), or a clear error; ``why`` says what 0 means."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 0{why}, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be an int >= 0{why}, got {value}")
    return int(value)


def as_positive_float(value, name: str, why: str = "") -> float:
    """A finite real number ``> 0``, or a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite number > 0{why}, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0{why}, got {value!r}")
    return float(value)


def check_divisible(size: tuple[int, int], patch_size: int, name: str = "image_size") -> None:
    """Raise unless both sides of ``size`` are multiples of ``patch_size``; suggest the nearest sizes."""
    h, w = size
    if h % patch_size or w % patch_size:
        down = (max(patch_size, h // patch_size * patch_size), max(patch_size, w // patch_size * patch_size))
        up = (-(-h // patch_size) * patch_size, -(-w // patch_size) * patch_size)
        raise ValueError(
            f"{name} {size} (height, width) is not divisible by patch_size={patch_size}; "
            f"resize or crop to a multiple of {patch_size}, e.g. {down} or {up}"
        )


def check_image_batch(x, name: str = "images", channels: int | None = None):
    """Require a float tensor shaped ``(B, C, H, W)``; return ``(B, C, H, W)``."""
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor shaped (batch, channels, height, width), got {type(x).__name__}")
    if x.ndim != 4:
        hint = " (add a batch dimension with x.unsqueeze(0))" if x.ndim == 3 else ""
        raise ValueError(f"{name} must be 4-D (batch, channels, height, width), got shape {tuple(x.shape)}{hint}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{name} has {x.shape[1]} channels (shape {tuple(x.shape)}), expected {channels}; "
            "images are (batch, channels, height, width)"
        )
    return tuple(x.shape)


def check_token_batch(x, name: str = "tokens", dim: int | None = None):
    """Require a tensor shaped ``(B, N, D)``; return ``(B, N, D)``."""
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor shaped (batch, tokens, dim), got {type(x).__name__}")
    if x.ndim != 3:
        raise ValueError(f"{name} must be 3-D (batch, tokens, dim), got shape {tuple(x.shape)}")
    if dim is not None and x.shape[-1] != dim:
        raise ValueError(f"{name} has feature width {x.shape[-1]} (shape {tuple(x.shape)}), expected {dim}")
    return tuple(x.shape)


def pil_size_hw(image) -> tuple[int, int]:
    """``(height, width)`` of a PIL image (PIL itself says ``(width, height)``)."""
    width, height = image.size
    return (height, width)


def check_choice(value, choices, name: str):
    """Require ``value`` to be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)!r}, got {value!r}")
    return value


def check_at_most(low, high, low_name: str, high_name: str) -> None:
    """Require ``low <= high`` for a pair of limits such as ``min_pixels`` / ``max_pixels``."""
    if low > high:
        raise ValueError(f"{low_name} must be <= {high_name}, got {low_name}={low}, {high_name}={high}")


def as_seed(seed) -> int:
    """A seed for ``numpy.random.default_rng``: an int ``>= 0``, or a clear error."""
    return as_non_negative_int(seed, "seed")


def as_int_in_range(value, name: str, low: int, high: int, why: str = "") -> int:
    """An int in ``[low, high]``; the error names the range (and ``why``, when given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int in [{low}, {high}]{why}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}]{why}, got {value}")
    return int(value)


def as_float_in_range(value, name: str, low: float, high: float, why: str = "", *, high_open: bool = False) -> float:
    """A real number in ``[low, high]`` (``[low, high)`` with ``high_open``), or a clear error."""
    accepted = f"[{low}, {high}{')' if high_open else ']'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in {accepted}{why}, got {value!r}")
    if not (low <= value < high if high_open else low <= value <= high):
        raise ValueError(f"{name} must be in {accepted}{why}, got {value}")
    return float(value)


def check_block_grid(grid, scale, what: str = "merging") -> tuple[int, int]:
    """The ``(rows/scale, cols/scale)`` grid left after fusing each ``scale x scale`` block of a ``(rows, cols)``
    grid into one token; a clear error, with the nearest valid grids, when ``scale`` doesn't divide both
    sides. ``what`` names the caller in the message."""
    rows, cols = as_size(grid, "grid")
    scale = as_positive_int(scale, "scale")
    if rows % scale or cols % scale:
        down = (max(scale, rows // scale * scale), max(scale, cols // scale * scale))
        raise ValueError(
            f"{what} with scale {scale} needs a grid whose sides are multiples of {scale}, "
            f"got grid (rows, cols) = {(rows, cols)}; resize the image so that both sides hold a multiple "
            f"of {scale} patches, e.g. {down}"
        )
    return rows // scale, cols // scale
