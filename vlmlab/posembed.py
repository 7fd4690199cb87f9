"""Position embeddings for patch tokens: sin-cos tables, resizing a learned table, 2-D rotary.

Self-attention treats its input as a set: without position information a
ViT cannot tell a shuffled image from the original. Four ways to add it:

* a **learned** table, one row per position (ViT, CLIP): ``nn.Parameter``, in ``vlmlab.vit``;
* **1-D sin-cos** (Vaswani et al. 2017), the Transformer's table over the flattened sequence: :func:`sincos_1d`;
* **2-D sin-cos** (MAE, He et al. 2022): half the channels encode the column,
  half the row: :func:`sincos_2d`;
* **2-D rotary** (RoFormer, Su et al. 2021; as Qwen2-VL's vision tower uses it):
  q and k are rotated by angles proportional to the row and the column, so
  ``q . k`` depends only on the offset between two patches: :func:`rope_2d`,
  :func:`apply_rope_2d`.

All of them store one (sin, cos) pair, or one rotated pair, per frequency, and
two channel layouts are in use: **interleaved** (pair ``k`` in channels ``2k,
2k+1``: the Transformer's table, RoFormer's rotary pairs) and **halves** (pair
``k`` in channels ``k, k + D/2``: MAE's ``[sin | cos]`` blocks, GPT-NeoX's and
Hugging Face's ``rotate_half``). A table does not say which it uses; code that
pairs its channels must know (:func:`channel_pairs`, :func:`relayout`,
:func:`shift_sincos`).

When the image size changes, a learned table no longer fits the grid;
:func:`interpolate_pos_embed` resizes it in 2-D (bicubic), as CLIP does.

Checked against (tests/test_posembed.py):
``transformers.models.vit_mae.modeling_vit_mae.build_2d_sinusoidal_position_embedding``
(with ``ViTMAEEmbeddings.initialize_weights``' half swap, MAE's layout),
``transformers.models.clip.modeling_clip.CLIPVisionEmbeddings.interpolate_pos_encoding``,
``transformers.vision_utils.get_vision_position_ids`` and
``transformers.models.qwen2_vl.modeling_qwen2_vl`` (``Qwen2VLVisionRotaryEmbedding``,
``apply_rotary_pos_emb_vision``).

Papers: ViT https://arxiv.org/abs/2010.11929 ; MAE https://arxiv.org/abs/2111.06377
(code: facebookresearch/mae ``util/pos_embed.py``); RoFormer https://arxiv.org/abs/2104.09864 ;
Qwen2-VL https://arxiv.org/abs/2409.12191 .
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._validate import as_int_in_range, as_non_negative_int, as_positive_float, as_positive_int, as_size, check_choice
from .patches import merge_order, token_grid

__all__ = [
    "sincos_1d", "sincos_2d", "SINCOS_LAYOUTS", "channel_pairs", "relayout", "shift_sincos", "interpolate_pos_embed",
    "rope_2d_position_ids", "rope_2d", "rotate_half", "apply_rope_2d", "cosine_similarity_map",
]


def sincos_1d(num_positions: int, dim: int) -> torch.Tensor:
    """The Transformer's fixed table ``(num_positions, dim)``: sin on even channels, cos on odd.

    ``pe[pos, 2i] = sin(pos / 10000**(2i/dim))`` and ``pe[pos, 2i+1] = cos(...)``
    (Vaswani et al. 2017, section 3.5). Applied to patches, ``pos`` is the index
    in the flattened row-major sequence, so the patch below a given one is
    ``cols`` positions away while its right-hand neighbour is 1 away.
    """
    n = as_positive_int(num_positions, "num_positions")
    dim = as_positive_int(dim, "dim")
    if dim % 2:
        raise ValueError(f"dim must be even (a sin and a cos channel per frequency), got {dim}")
    position = torch.arange(n, dtype=torch.float64).unsqueeze(1)  # (N, 1)
    div_term = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))  # (dim/2,)
    pe = torch.zeros(n, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe.float()


def _sincos_halves(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """MAE's 1-D block for one axis: ``(N,) -> (N, dim)`` laid out ``[sin(p*w) | cos(p*w)]``."""
    omega = torch.arange(dim // 2, dtype=torch.float64) / (dim / 2)
    omega = 1.0 / 10000**omega  # (dim/2,), w_k = 1 / 10000**(k / (dim/2))
    angles = positions.double().reshape(-1, 1) * omega  # (N, dim/2)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def sincos_2d(grid, dim: int, cls_token: bool = False) -> torch.Tensor:
    """2-D sin-cos table ``(rows*cols [+1], dim)`` for a ``(rows, cols)`` grid, in MAE's layout.

    Row-major over patches (as :func:`vlmlab.patches.patchify`). The first
    ``dim/2`` channels encode the **column**, the last ``dim/2`` the **row**;
    each half is ``[sin(p*w) | cos(p*w)]`` with ``w_k = 1/10000**(k/(dim/4))``,
    ``k = 0 .. dim/4-1``. ``cls_token=True`` prepends a row of zeros, as MAE
    does. ``grid`` may be an int (square).
    """
    rows, cols = as_size(grid, "grid")
    dim = as_positive_int(dim, "dim")
    if dim % 4:
        raise ValueError(f"dim must be divisible by 4 (sin and cos for rows and for columns), got {dim}")
    row_ids, col_ids = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")  # (rows, cols) each
    emb_col = _sincos_halves(col_ids.flatten(), dim // 2)  # (rows*cols, dim/2)
    emb_row = _sincos_halves(row_ids.flatten(), dim // 2)  # (rows*cols, dim/2)
    table = torch.cat([emb_col, emb_row], dim=1)  # (rows*cols, dim)
    if cls_token:
        table = torch.cat([torch.zeros(1, dim, dtype=table.dtype), table], dim=0)
    return table.float()


# --------------------------------------------------------------------------
# Channel layouts: which two channels hold one frequency's pair
# --------------------------------------------------------------------------

SINCOS_LAYOUTS = ("interleaved", "halves")


def channel_pairs(dim: int, layout: str = "interleaved") -> torch.Tensor:
    """``(dim/2, 2)`` long tensor: the two channels that hold frequency ``k``'s pair, in ``layout``.

    * ``"interleaved"``: pair ``k`` is channels ``(2k, 2k+1)``: the Transformer's
      1-D table (:func:`sincos_1d`, sin on even and cos on odd channels) and
      RoFormer's rotary pairs ``(x_2k, x_2k+1)``.
    * ``"halves"``: pair ``k`` is channels ``(k, k + dim/2)``: MAE's 1-D block
      ``[sin | cos]`` (each half of :func:`sincos_2d`) and the rotary pairs
      ``(x_k, x_{k+dim/2})`` of GPT-NeoX, Hugging Face's ``rotate_half`` and
      Qwen2-VL (:func:`rope_2d`).

    Column 0 is the sine (or a rotated pair's first coordinate), column 1 the cosine (its second).

        >>> channel_pairs(8, "interleaved").tolist()
        [[0, 1], [2, 3], [4, 5], [6, 7]]
        >>> channel_pairs(8, "halves").tolist()
        [[0, 4], [1, 5], [2, 6], [3, 7]]
    """
    dim = as_positive_int(dim, "dim")
    check_choice(layout, SINCOS_LAYOUTS, "layout")
    if dim % 2:
        raise ValueError(f"dim must be even (two channels per pair), got {dim}")
    k = torch.arange(dim // 2)
    if layout == "interleaved":
        return torch.stack([2 * k, 2 * k + 1], dim=1)
    return torch.stack([k, k + dim // 2], dim=1)


def relayout(table: torch.Tensor, source: str, target: str) -> torch.Tensor:
    """The same numbers with the channels moved from layout ``source`` to ``target``: ``(..., dim) -> (..., dim)``.

    Frequency ``k``'s pair moves from ``channel_pairs(dim, source)[k]`` to
    ``channel_pairs(dim, target)[k]``. A permutation of the channels, applied
    to every row alike: dot products between rows (and so every
    similarity map) are unchanged; only code that pairs channels can tell.
    ``relayout(sincos_1d(N, D), "interleaved", "halves")`` is MAE's 1-D block
    ``[sin | cos]`` of width ``D``.

        >>> relayout(torch.arange(6.0), "interleaved", "halves").tolist()
        [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]
    """
    if not isinstance(table, torch.Tensor):
        raise TypeError(f"table must be a torch.Tensor (..., dim), got {type(table).__name__}")
    if table.ndim < 1:
        raise ValueError(f"table must have a channel dimension (..., dim), got shape {tuple(table.shape)}")
    dim = table.shape[-1]
    source_pairs, target_pairs = channel_pairs(dim, source), channel_pairs(dim, target)
    index = torch.empty(dim, dtype=torch.long)
    index[target_pairs.flatten()] = source_pairs.flatten()  # target channel <- source channel of the same role
    return table[..., index]


def shift_sincos(rows: torch.Tensor, delta: float, layout: str = "interleaved", base: float = 10000.0) -> torch.Tensor:
    """Move sin-cos position codes ``rows (..., dim)`` by ``delta`` positions with one rotation per pair.

    The Transformer paper's reason for sinusoids: ``PE(p + delta)`` is a fixed
    linear function of ``PE(p)``. Each pair ``(sin(p w_k), cos(p w_k))``,
    ``w_k = 1/base**(2k/dim)``, turns by ``delta * w_k``:
    ``sin(a + d) = sin a cos d + cos a sin d`` and ``cos(a + d) = cos a cos d - sin a sin d``.
    ``layout`` says where each pair's channels are (:func:`channel_pairs`);
    with the table's own layout, ``shift_sincos(sincos_1d(N, D)[p], d)`` is
    ``sincos_1d(N, D)[p + d]``. With the wrong one it turns channels that do
    not belong together. Computed in float64, returned in ``rows``' dtype.
    """
    if not isinstance(rows, torch.Tensor):
        raise TypeError(f"rows must be a torch.Tensor (..., dim), got {type(rows).__name__}")
    dim = rows.shape[-1] if rows.ndim else 0
    pairs = channel_pairs(dim, layout)  # (dim/2, 2): sine channel, cosine channel
    base = as_positive_float(base, "base", " (the Transformer: 10000.0)")
    w = 1.0 / base ** (torch.arange(dim // 2, dtype=torch.float64) * 2 / dim)  # (dim/2,)
    c, s = torch.cos(float(delta) * w), torch.sin(float(delta) * w)
    x = rows.double()
    sin_part, cos_part = x[..., pairs[:, 0]], x[..., pairs[:, 1]]
    out = torch.empty_like(x)
    out[..., pairs[:, 0]] = sin_part * c + cos_part * s
    out[..., pairs[:, 1]] = cos_part * c - sin_part * s
    return out.to(rows.dtype)


def interpolate_pos_embed(pos_embed: torch.Tensor, new_grid, num_prefix_tokens: int = 1, old_grid=None) -> torch.Tensor:
    """Resize a learned position table to a new ``(rows, cols)`` grid, in 2-D.

    ``pos_embed`` is ``(N, D)`` or ``(1, N, D)`` with ``N = num_prefix_tokens + rows*cols``;
    the prefix rows (the CLS token's) are kept as they are, the patch rows
    are reshaped to their grid, resized with bicubic interpolation
    (``align_corners=False``, computed in float32) and flattened back
    row-major. The result has the same layout and dtype, with
    ``num_prefix_tokens + new_rows*new_cols`` rows. ``old_grid`` defaults to
    the square grid the table holds.

    Equal to CLIP's ``interpolate_pos_encoding``
    (``transformers.models.clip.modeling_clip.CLIPVisionEmbeddings``), which
    every LLaVA-style model uses to run CLIP at a new resolution.
    """
    if not isinstance(pos_embed, torch.Tensor):
        raise TypeError(f"pos_embed must be a torch.Tensor (N, D) or (1, N, D), got {type(pos_embed).__name__}")
    squeeze = pos_embed.ndim == 2
    if squeeze:
        pos_embed = pos_embed.unsqueeze(0)
    if pos_embed.ndim != 3 or pos_embed.shape[0] != 1:
        raise ValueError(f"pos_embed must be (N, D) or (1, N, D), got shape {tuple(pos_embed.shape)}")
    num_prefix_tokens = as_non_negative_int(num_prefix_tokens, "num_prefix_tokens", " (1 = the CLS token)")
    new_rows, new_cols = as_size(new_grid, "new_grid")
    _, N, D = pos_embed.shape
    old_rows, old_cols = token_grid(N - num_prefix_tokens, old_grid, grid_name="old_grid",
                                    what=f"patch rows in pos_embed ({N} rows minus {num_prefix_tokens} prefix)")

    prefix, patches = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    if (new_rows, new_cols) != (old_rows, old_cols):
        dtype = patches.dtype
        patches = patches.reshape(1, old_rows, old_cols, D).permute(0, 3, 1, 2)  # (1, D, rows, cols)
        patches = F.interpolate(patches.float(), size=(new_rows, new_cols), mode="bicubic", align_corners=False)
        patches = patches.permute(0, 2, 3, 1).reshape(1, new_rows * new_cols, D).to(dtype)  # (1, rows*cols, D)
    out = torch.cat([prefix, patches], dim=1)
    return out[0] if squeeze else out


# --------------------------------------------------------------------------
# 2-D rotary position embedding (Qwen2-VL's vision tower)
# --------------------------------------------------------------------------

def rope_2d_position_ids(grid, merge_size: int = 1) -> torch.Tensor:
    """``(N, 2)`` integer ``(row, col)`` of each patch, the ids Qwen2-VL's rotary embedding reads.

    With ``merge_size=1`` the patches are row-major. Qwen2-VL orders its
    patches in ``merge_size x merge_size`` blocks (the 2x2 neighbours that its
    patch merger later fuses into one token sit next to each other); pass
    ``merge_size=2`` for that order, as
    ``transformers.vision_utils.get_vision_position_ids`` builds it.
    """
    rows, cols = as_size(grid, "grid")
    row_ids, col_ids = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    ids = torch.stack([row_ids.flatten(), col_ids.flatten()], dim=-1)  # (N, 2), row-major
    return ids[merge_order((rows, cols), merge_size)]  # window-major; identity when merge_size == 1


def rope_2d(position_ids: torch.Tensor, head_dim: int, theta: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cos, sin)``, each ``(N, head_dim)``, for 2-D rotary embedding of ``(row, col)`` ids ``(N, 2)``.

    ``head_dim/4`` frequencies ``w_k = 1/theta**(2k/(head_dim/2))`` are shared
    by both axes. The angles are laid out ``[row*w | col*w]`` (``head_dim/2``
    channels), then repeated once, because :func:`rotate_half` pairs channel
    ``i`` with channel ``i + head_dim/2``. Of the ``head_dim/2`` rotation pairs
    ``(x_i, x_{i+D/2})``, the first half (``i < D/4``) turns with the row and
    the second half with the column. (Qwen2-VL's layout.)
    ``position_ids`` may also be a ``(rows, cols)`` grid, meaning row-major ids.
    ``theta`` (the base of the frequencies) must be a finite number > 0.
    """
    if not isinstance(position_ids, torch.Tensor):
        position_ids = rope_2d_position_ids(position_ids)
    if position_ids.ndim != 2 or position_ids.shape[-1] != 2:
        raise ValueError(f"position_ids must be (N, 2) (row, col) ids, got shape {tuple(position_ids.shape)}")
    head_dim = as_positive_int(head_dim, "head_dim")
    theta = as_positive_float(theta, "theta", " (Qwen2-VL: 10000.0)")
    if head_dim % 4:
        raise ValueError(f"head_dim must be divisible by 4 (two axes, each with rotation pairs), got {head_dim}")
    spatial_dim = head_dim // 2
    inv_freq = 1.0 / (theta ** (torch.arange(0, spatial_dim, 2, dtype=torch.float) / spatial_dim))  # (head_dim/4,)
    freqs = position_ids[..., None].float() * inv_freq  # (N, 2, head_dim/4)
    angles = torch.cat([freqs[:, 0], freqs[:, 1]], dim=-1)  # (N, head_dim/2): rows, then columns
    angles = torch.cat([angles, angles], dim=-1)  # (N, head_dim)
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x1, x2] -> [-x2, x1]`` on the last dimension: a 90-degree turn of each pair ``(x_i, x_{i+D/2})``."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope_2d(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys ``x (..., N, head_dim)`` by the angles of :func:`rope_2d`.

    ``x * cos + rotate_half(x) * sin``, computed in (at least) float32 and
    cast back, as ``apply_rotary_pos_emb_vision`` does. ``cos``/``sin`` are
    ``(N, head_dim)`` and broadcast over the leading dimensions (batch, heads).
    """
    for name, value in (("x", x), ("cos", cos), ("sin", sin)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if cos.shape != sin.shape or cos.ndim != 2:
        raise ValueError(f"cos and sin must both be (N, head_dim), got {tuple(cos.shape)} and {tuple(sin.shape)}")
    if x.shape[-2:] != cos.shape:
        raise ValueError(f"x's last two dims {tuple(x.shape[-2:])} must be (N, head_dim) = {tuple(cos.shape)}")
    dtype = x.dtype
    compute = torch.promote_types(dtype, torch.float32)  # half precision is rotated in float32
    x, cos, sin = x.to(compute), cos.to(compute), sin.to(compute)
    return (x * cos + rotate_half(x) * sin).to(dtype)


def cosine_similarity_map(table: torch.Tensor, grid, index: int | None = None) -> torch.Tensor:
    """Cosine similarity of patch position vectors: the ViT paper's figure 7 (centre).

    ``table`` is ``(rows*cols, D)`` (patches only, no CLS row). With
    ``index``: a ``(rows, cols)`` map of that patch's similarity to every
    patch. Without: ``(rows, cols, rows, cols)``, every patch against every patch.
    """
    rows, cols = as_size(grid, "grid")
    if not isinstance(table, torch.Tensor):
        raise TypeError(f"table must be a torch.Tensor (rows*cols, D), got {type(table).__name__}")
    if table.ndim != 2 or table.shape[0] != rows * cols:
        raise ValueError(f"table must be (rows*cols, D) = ({rows * cols}, D) for grid {(rows, cols)}, got {tuple(table.shape)}")
    unit = F.normalize(table.detach().float(), dim=-1)
    if index is None:
        return (unit @ unit.T).reshape(rows, cols, rows, cols)
    index = as_int_in_range(index, "index", 0, rows * cols - 1, f" (a patch of the {rows}x{cols} grid) or None")
    return (unit @ unit[index]).reshape(rows, cols)
