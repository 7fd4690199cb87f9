"""Projectors: from the vision encoder's feature space to the language model's.

A vision encoder hands over ``N`` patch features of width ``vision_dim``; the
language model reads tokens of width ``llm_dim``. The projector bridges the
two, and it also decides how many tokens an image costs:

=====================  ==========================  ===============================
projector              tokens out for N in         used by
=====================  ==========================  ===============================
``LinearProjector``    N                           LLaVA (v1)
``MLPProjector``       N                           LLaVA-1.5 / NeXT (``mlp2x_gelu``)
``Resampler``          ``num_queries`` (fixed)     Qwen-VL, Flamingo, BLIP-2 (Q-Former)
``PixelShuffleMLP``    N / scale²                  InternVL 1.5 / 2, Idefics3
``PatchMerger``        N / merge²                  Qwen2-VL
=====================  ==========================  ===============================

Every projector takes features ``(B, N, vision_dim)`` and returns
``(B, N_out, llm_dim)``; those that need the 2-D layout of the patches take
``grid=(rows, cols)`` (a square grid is inferred when it is left out). Patch
tokens are in row-major order everywhere in vlmlab.

Checked against (see ``tests/test_projectors.py``):

* LLaVA (Liu et al., 2023, https://arxiv.org/abs/2304.08485; LLaVA-1.5,
  https://arxiv.org/abs/2310.03744), ``llava/model/multimodal_projector/builder.py`` ``build_vision_projector``:
  ``mlp{d}x_gelu`` = ``Linear(vision, llm)`` then ``(GELU, Linear(llm, llm))`` × (d − 1);
  ``transformers.models.llava.modeling_llava.LlavaMultiModalProjector`` for d = 2.
* Qwen-VL (Bai et al., 2023, https://arxiv.org/abs/2308.12966), ``visual.py`` ``Resampler``: learned queries,
  ``kv_proj`` (no bias), ``ln_q``, ``ln_kv``, 2-D sin-cos positions added to the
  queries and to the keys (not to the values), ``nn.MultiheadAttention``, then
  the vision tower's ``ln_post`` and ``proj``.
* InternVL 1.5 (Chen et al., 2024, https://arxiv.org/abs/2404.16821), ``modeling_internvl_chat.py``
  ``pixel_shuffle`` (``ps_version="v2"``; "v1" = the same blocks transposed) and ``mlp1``;
  ``transformers.models.internvl.modeling_internvl`` ``InternVLModel.pixel_shuffle`` and
  ``InternVLMultiModalProjector``; ``transformers.models.idefics3.modeling_idefics3.Idefics3Connector.pixel_shuffle``.
* Qwen2-VL (Wang et al., 2024, https://arxiv.org/abs/2409.12191), ``transformers.models.qwen2_vl.modeling_qwen2_vl.PatchMerger``
  and the patch order of ``Qwen2VLImageProcessor.patchify``.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

from ._validate import as_positive_int, as_size, check_block_grid, check_token_batch
from .patches import merge_order, token_grid
from .posembed import interpolate_pos_embed, sincos_2d

__all__ = [
    "ALIASES",
    "PROJECTOR_NAMES",
    "LinearProjector",
    "MLPProjector",
    "Resampler",
    "PixelShuffle",
    "PixelShuffleMLP",
    "PatchMerger",
    "build_projector",
    "merge_order",
    "num_parameters",
    "space_to_depth",
]

PROJECTOR_NAMES = ("linear", "mlp{d}x_gelu", "resampler", "pixel_shuffle_mlp", "patch_merger")
# A common short name for LLaVA-1.5's projector.
ALIASES = {"mlp": "mlp2x_gelu"}


# ----------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------

def num_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _near_square_grid(n: int) -> tuple[int, int]:
    """The most square ``(rows, cols)`` with ``rows * cols == n`` (rows <= cols)."""
    rows = math.isqrt(n)
    while n % rows:
        rows -= 1
    return rows, n // rows


def space_to_depth(x: torch.Tensor, grid, scale: int) -> torch.Tensor:
    """Group each ``scale × scale`` block of neighbouring tokens into one token.

    ``x (B, N, C)`` row-major on ``grid = (rows, cols)`` → ``(B, N / scale², C · scale²)``;
    output tokens row-major over the ``(rows / scale, cols / scale)`` grid, the
    channels of one output token = the block's tokens in row-major order
    ``[(0, 0), (0, 1), …, (1, 0), …]``, each ``C`` wide. ``grid=None`` means a
    square grid.

        >>> space_to_depth(torch.arange(8.0).view(1, 8, 1), (2, 4), 2)[0].tolist()  # a 2 x 4 grid, one channel
        [[0.0, 1.0, 4.0, 5.0], [2.0, 3.0, 6.0, 7.0]]
    """
    B, N, C = check_token_batch(x, "x")
    rows, cols = token_grid(N, grid)
    R, Cc = check_block_grid((rows, cols), scale, "space_to_depth")  # R = rows/s, Cc = cols/s
    s = scale
    x = x.reshape(B, R, s, Cc, s, C)               # (B, R, s, Cc, s, C)
    x = x.permute(0, 1, 3, 2, 4, 5)                # (B, R, Cc, s, s, C)
    return x.reshape(B, R * Cc, s * s * C)         # (B, N/s², s²·C)


# ----------------------------------------------------------------------------
# LLaVA: linear and MLP
# ----------------------------------------------------------------------------

class _TokenwiseProjector(nn.Module):
    """A projector that maps each patch token on its own: ``(B, N, vision_dim) -> (B, N, llm_dim)``.

    Subclasses set ``self.proj``; the token count never changes.
    """

    def __init__(self, vision_dim: int, llm_dim: int):
        super().__init__()
        self.vision_dim = as_positive_int(vision_dim, "vision_dim")
        self.llm_dim = as_positive_int(llm_dim, "llm_dim")

    def num_output_tokens(self, grid) -> int:
        """Tokens out for a ``(rows, cols)`` patch grid: one per patch."""
        rows, cols = as_size(grid, "grid")
        return rows * cols

    def forward(self, x: torch.Tensor, grid=None) -> torch.Tensor:
        check_token_batch(x, "features", dim=self.vision_dim)
        return self.proj(x)


class LinearProjector(_TokenwiseProjector):
    """One linear layer, shared by every patch token (LLaVA v1): ``(B, N, vision_dim) -> (B, N, llm_dim)``."""

    def __init__(self, vision_dim: int, llm_dim: int):
        super().__init__(vision_dim, llm_dim)
        self.proj = nn.Linear(self.vision_dim, self.llm_dim)


class MLPProjector(_TokenwiseProjector):
    """LLaVA's ``mlp{depth}x_gelu``: ``Linear(vision, llm)``, then ``(GELU, Linear(llm, llm))`` × (depth − 1).

    ``depth=2`` is LLaVA-1.5's projector (and transformers' ``LlavaMultiModalProjector``);
    ``depth=1`` is the linear one. Tokens in = tokens out.
    """

    def __init__(self, vision_dim: int, llm_dim: int, depth: int = 2):
        super().__init__(vision_dim, llm_dim)
        self.depth = as_positive_int(depth, "depth")
        layers: list[nn.Module] = [nn.Linear(self.vision_dim, self.llm_dim)]
        for _ in range(1, self.depth):
            layers += [nn.GELU(), nn.Linear(self.llm_dim, self.llm_dim)]
        # Same indices as LLaVA's nn.Sequential, so its "mm_projector.0.weight",
        # "mm_projector.2.weight", ... load with the prefix "proj." swapped in.
        self.proj = nn.Sequential(*layers)


# ----------------------------------------------------------------------------
# Qwen-VL: a cross-attention resampler
# ----------------------------------------------------------------------------

class Resampler(nn.Module):
    """Learned queries that cross-attend to the patch tokens: any N in, ``num_queries`` out.

    Qwen-VL's position-aware adapter. For features ``x (B, N, vision_dim)`` on a
    ``(rows, cols)`` grid::

        kv = ln_kv(kv_proj(x))                      # (B, N, E)
        q  = ln_q(query) + pos(query grid)          # (Q, E), the same for every image
        k  = kv + pos(key grid)                     # positions on the keys ...
        v  = kv                                     # ... not on the values
        out = proj(ln_post(MultiheadAttention(q, k, v)))   # (B, Q, llm_dim)

    ``pos`` is the 2-D sin-cos table (``vlmlab.posembed.sincos_2d``) of the
    query grid (``num_queries`` laid out as square as it divides); the keys get
    that table resized to their own grid (as Qwen-VL's ``get_abs_pos``), so a
    query and the patches in the same relative place of the image share
    positions, whatever the resolution. ``E = embed_dim`` (default ``llm_dim``,
    as Qwen-VL, which attends in the LLM's width).

    A common first implementation adds no positions to the keys (and no
    normalisation). That is Flamingo's and BLIP-2's design too, and it works
    when the encoder's features already carry their position (a ViT adds its
    own position table): cross-attention itself treats the keys as a set, so
    permuting the patches leaves such a resampler's output unchanged
    (tested). Adding the 2-D table to the keys is Qwen-VL's choice: it makes the
    resampler see where each patch is even when the features don't say it.

    ``depth > 1`` stacks blocks (each with its own ``ln_q`` and attention);
    after the first, a residual connection carries the queries forward, as in
    Flamingo's Perceiver resampler. Qwen-VL uses ``depth=1``.
    """

    def __init__(self, vision_dim: int, llm_dim: int, num_queries: int = 64, num_heads: int = 8,
                 depth: int = 1, embed_dim: int | None = None):
        super().__init__()
        self.vision_dim = as_positive_int(vision_dim, "vision_dim")
        self.llm_dim = as_positive_int(llm_dim, "llm_dim")
        self.num_queries = as_positive_int(num_queries, "num_queries")
        self.num_heads = as_positive_int(num_heads, "num_heads")
        self.depth = as_positive_int(depth, "depth")
        self.embed_dim = as_positive_int(embed_dim if embed_dim is not None else llm_dim, "embed_dim")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim={self.embed_dim} must be divisible by num_heads={self.num_heads}")
        if self.embed_dim % 4:
            raise ValueError(f"embed_dim={self.embed_dim} must be a multiple of 4 for 2-D sin-cos positions")
        E = self.embed_dim
        self.query_grid = _near_square_grid(self.num_queries)

        self.query = nn.Parameter(torch.empty(self.num_queries, E))
        self.kv_proj = nn.Linear(self.vision_dim, E, bias=False) if self.vision_dim != E else nn.Identity()
        self.ln_kv = nn.LayerNorm(E, eps=1e-6)
        self.ln_q = nn.ModuleList([nn.LayerNorm(E, eps=1e-6) for _ in range(self.depth)])
        self.attn = nn.ModuleList([nn.MultiheadAttention(E, self.num_heads, batch_first=True) for _ in range(self.depth)])
        self.ln_post = nn.LayerNorm(E, eps=1e-6)
        self.proj = nn.Linear(E, self.llm_dim, bias=False)  # Qwen-VL: x @ proj, a bias-free matrix

        # Fixed (not learned) positions of the queries: a buffer, not a parameter.
        self.register_buffer("query_pos", sincos_2d(self.query_grid, E).float(), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Qwen-VL's initialisation: queries and linear weights ~ N(0, 0.02²) truncated, biases 0."""
        if self.query.is_meta:
            return
        nn.init.trunc_normal_(self.query, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def num_output_tokens(self, grid=None) -> int:
        """Always ``num_queries``, whatever the grid."""
        return self.num_queries

    def key_positions(self, grid) -> torch.Tensor:
        """Positions added to the keys of a ``(rows, cols)`` patch grid: ``(rows·cols, embed_dim)``.

        The query grid's sin-cos table, resized to ``grid`` (bicubic, as
        Qwen-VL's ``get_abs_pos``); equal to the query table when the grids match.
        """
        return interpolate_pos_embed(self.query_pos, as_size(grid, "grid"), num_prefix_tokens=0,
                                     old_grid=self.query_grid)  # (rows·cols, E)

    def forward(self, x: torch.Tensor, grid=None, return_attention: bool = False):
        """``x (B, N, vision_dim)`` → ``(B, num_queries, llm_dim)``.

        With ``return_attention=True`` also returns the cross-attention maps of
        the last block, ``(B, heads, num_queries, N)`` (each row sums to 1).
        """
        B, N, _ = check_token_batch(x, "features", dim=self.vision_dim)
        grid = token_grid(N, grid)
        kv = self.ln_kv(self.kv_proj(x))                                     # (B, N, E)
        keys = kv + self.key_positions(grid).to(kv.dtype)                    # (B, N, E)
        q = self.query.unsqueeze(0).expand(B, -1, -1)                        # (B, Q, E)
        attention = None
        for i, (ln_q, attn) in enumerate(zip(self.ln_q, self.attn)):
            q_in = ln_q(q) + self.query_pos.to(q.dtype)                      # (B, Q, E)
            out, attention = attn(q_in, keys, kv, need_weights=return_attention,
                                  average_attn_weights=False)                # (B, Q, E), (B, heads, Q, N)
            q = out if i == 0 else q + out
        tokens = self.proj(self.ln_post(q))                                  # (B, Q, llm_dim)
        return (tokens, attention) if return_attention else tokens


# ----------------------------------------------------------------------------
# InternVL / Idefics3: pixel shuffle (space-to-depth) + MLP
# ----------------------------------------------------------------------------

class _BlockMerger(nn.Module):
    """What the projectors that fuse each ``block × block`` group of patches share: their output grid."""

    block: int  # the side of a fused block, set by the subclass

    def output_grid(self, grid) -> tuple[int, int]:
        """The ``(rows, cols)`` grid of output tokens for an input grid (the block must divide it)."""
        return check_block_grid(grid, self.block, type(self).__name__)

    def num_output_tokens(self, grid) -> int:
        rows, cols = self.output_grid(grid)
        return rows * cols


class PixelShuffle(_BlockMerger):
    """Merge each ``scale × scale`` block of neighbouring patches into one token.

    ``(B, N, C)`` row-major on a square grid (or on ``grid=(rows, cols)``) →
    ``(B, N / scale², C · scale²)``. Nothing is learned and nothing is lost: the
    values are only rearranged (a "space-to-depth"), so a 32 × 32 grid of 1024
    tokens becomes 16 × 16 = 256 tokens, four times as wide.

    Order: output tokens row-major over the smaller grid; the channels of one
    token are its block's patches in row-major order (top-left, top-right,
    bottom-left, bottom-right for scale 2), each ``C`` wide. This is exactly
    InternVL's ``pixel_shuffle`` with ``ps_version="v2"`` after InternVL's
    ``reshape(B, h, w, C)`` and ``reshape(B, -1, C')`` around it (its
    ``scale_factor=0.5`` is our ``scale=2``), and transformers'
    ``InternVLModel.pixel_shuffle``. Idefics3's ``Idefics3Connector.pixel_shuffle``
    (``scale_factor=2``, square grids only, takes ``(B, N, C)`` directly) gives
    the same result: it too permutes back after the second reshape.
    InternVL's old ``ps_version="v1"`` left out that final permute and so
    returned the grid of blocks transposed (column-major).
    """

    def __init__(self, scale: int = 2):
        super().__init__()
        self.scale = self.block = as_positive_int(scale, "scale")

    def forward(self, x: torch.Tensor, grid=None) -> torch.Tensor:
        B, N, C = check_token_batch(x, "features")
        grid = token_grid(N, grid)
        self.output_grid(grid)  # the scale must divide the grid: say so in this module's words
        return space_to_depth(x, grid, self.scale)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class PixelShuffleMLP(nn.Module):
    """InternVL's projector: pixel shuffle, then ``mlp1`` = LayerNorm(C·s²), Linear, GELU, Linear.

    ``(B, N, vision_dim)`` → ``(B, N / scale², llm_dim)``; same weights layout as
    transformers' ``InternVLMultiModalProjector`` (``layer_norm``, ``linear_1``,
    ``linear_2``).
    """

    def __init__(self, vision_dim: int, llm_dim: int, scale: int = 2):
        super().__init__()
        self.vision_dim = as_positive_int(vision_dim, "vision_dim")
        self.llm_dim = as_positive_int(llm_dim, "llm_dim")
        self.shuffle = PixelShuffle(scale)
        wide = self.vision_dim * self.shuffle.scale ** 2
        self.layer_norm = nn.LayerNorm(wide)
        self.linear_1 = nn.Linear(wide, self.llm_dim)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(self.llm_dim, self.llm_dim)

    @property
    def scale(self) -> int:
        return self.shuffle.scale

    def num_output_tokens(self, grid) -> int:
        return self.shuffle.num_output_tokens(grid)

    def forward(self, x: torch.Tensor, grid=None) -> torch.Tensor:
        check_token_batch(x, "features", dim=self.vision_dim)
        x = self.shuffle(x, grid)                                  # (B, N/s², C·s²)
        return self.linear_2(self.act(self.linear_1(self.layer_norm(x))))  # (B, N/s², llm_dim)


# ----------------------------------------------------------------------------
# Qwen2-VL: the 2 × 2 patch merger
# ----------------------------------------------------------------------------

class PatchMerger(_BlockMerger):
    """Qwen2-VL's merger: LayerNorm each patch, concatenate 2 × 2 neighbours, MLP.

    ``(B, N, vision_dim)`` row-major on ``grid`` → ``(B, N / merge², llm_dim)``::

        x = ln_q(x)                                   # (B, N, C), LayerNorm over C
        x = group merge × merge neighbours            # (B, N/4, 4C)
        x = mlp(x)   # Linear(4C, 4C), GELU, Linear(4C, llm_dim)

    Token order: in Qwen2-VL the image processor already emits the patches
    window by window (``Qwen2VLImageProcessor.patchify``: every 4 consecutive
    patches are one 2 × 2 window), so transformers' ``PatchMerger`` only does
    ``ln_q(x).view(-1, 4C)``. vlmlab keeps patches row-major, like every other
    encoder here, so this merger first groups each 2 × 2 window itself (the same
    grouping as ``PixelShuffle``; ``merge_order`` gives the processor's order).
    The parameter names (``ln_q``, ``mlp.0``, ``mlp.2``) equal transformers', so
    a Qwen2-VL ``visual.merger`` state dict loads as is.
    """

    def __init__(self, vision_dim: int, llm_dim: int, merge_size: int = 2):
        super().__init__()
        self.vision_dim = as_positive_int(vision_dim, "vision_dim")
        self.llm_dim = as_positive_int(llm_dim, "llm_dim")
        self.merge_size = self.block = as_positive_int(merge_size, "merge_size")
        self.hidden_size = self.vision_dim * self.merge_size ** 2
        self.ln_q = nn.LayerNorm(self.vision_dim, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(self.hidden_size, self.hidden_size),
            nn.GELU(),
            nn.Linear(self.hidden_size, self.llm_dim),
        )

    def forward(self, x: torch.Tensor, grid=None) -> torch.Tensor:
        B, N, C = check_token_batch(x, "features", dim=self.vision_dim)
        grid = token_grid(N, grid)
        self.output_grid(grid)  # the merge size must divide the grid: say so in the merger's words
        x = space_to_depth(self.ln_q(x), grid, self.merge_size)  # (B, N/m², m²·C)
        return self.mlp(x)                                        # (B, N/m², llm_dim)


# ----------------------------------------------------------------------------
# By name, as a config names it
# ----------------------------------------------------------------------------

def build_projector(name: str, vision_dim: int, llm_dim: int, **options) -> nn.Module:
    """A projector by name: ``"linear"``, ``"mlp{d}x_gelu"`` (e.g. ``"mlp2x_gelu"``),
    ``"resampler"``, ``"pixel_shuffle_mlp"`` or ``"patch_merger"``.

    ``options`` go to the constructor (``num_queries=``, ``num_heads=``,
    ``depth=``, ``scale=``, ``merge_size=`` ...). The names follow LLaVA's
    ``mm_projector_type``; the short name ``"mlp"`` means ``"mlp2x_gelu"``.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of {list(PROJECTOR_NAMES)}, got {type(name).__name__}")
    name = ALIASES.get(name, name)
    mlp = re.fullmatch(r"mlp(\d+)x_gelu", name)
    if name == "linear":
        return LinearProjector(vision_dim, llm_dim, **options)
    if mlp:
        return MLPProjector(vision_dim, llm_dim, depth=int(mlp.group(1)), **options)
    if name == "resampler":
        return Resampler(vision_dim, llm_dim, **options)
    if name == "pixel_shuffle_mlp":
        return PixelShuffleMLP(vision_dim, llm_dim, **options)
    if name == "patch_merger":
        return PatchMerger(vision_dim, llm_dim, **options)
    raise ValueError(
        f"unknown projector {name!r}; valid names: {', '.join(PROJECTOR_NAMES)} "
        "(mlp{d}x_gelu for any depth d >= 1, e.g. 'mlp2x_gelu')"
    )
