"""Pixels to patches: the first step of every Vision Transformer.

An image ``(B, C, H, W)`` is cut into non-overlapping ``p x p`` squares, read
row by row (left to right, top to bottom). Each square, flattened in
``(C, p, p)`` order, becomes one vector; a linear map turns each vector into a
token. A ``Conv2d`` with ``kernel_size = stride = p`` does both steps at once,
which is how ViT, CLIP and timm implement it.

Paper: Dosovitskiy et al., "An Image is Worth 16x16 Words" (ViT), ICLR 2021,
https://arxiv.org/abs/2010.11929, section 3.1.
Checked against: ``transformers.models.clip.modeling_clip.CLIPVisionEmbeddings``
(``patch_embedding``, a bias-free Conv2d) and ``timm.layers.PatchEmbed``.

    >>> import torch
    >>> x = torch.zeros(1, 3, 224, 224)
    >>> patchify(x, 16).shape            # 14 x 14 = 196 patches of 3*16*16 numbers
    torch.Size([1, 196, 768])
    >>> patch_grid((336, 336), 14)
    (24, 24)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._validate import as_positive_int, as_size, check_block_grid, check_divisible, check_image_batch, check_token_batch

__all__ = ["patch_grid", "token_grid", "patchify", "unpatchify", "merge_order", "PatchEmbedding", "vit_flops", "cost_table"]


def patch_grid(image_size, patch_size) -> tuple[int, int]:
    """The ``(rows, cols)`` grid of patches for an image of ``image_size = (height, width)`` pixels.

    ``image_size`` may be an int (a square). Both sides must be multiples of
    ``patch_size``; a ViT has no rule for a partial patch.

        >>> patch_grid((224, 320), 16)
        (14, 20)
    """
    size = as_size(image_size, "image_size")
    p = as_positive_int(patch_size, "patch_size")
    check_divisible(size, p, "image_size")
    return size[0] // p, size[1] // p


def token_grid(num_tokens: int, grid=None, *, what: str = "tokens", grid_name: str = "grid") -> tuple[int, int]:
    """The ``(rows, cols)`` grid that ``num_tokens`` row-major patch tokens lie on.

    With ``grid`` given, check that it holds exactly ``num_tokens`` cells; left
    out, the tokens must fill a square grid (drop a CLS token or any other
    prefix first). ``what`` and ``grid_name`` name the tokens and the argument
    in the error.

        >>> token_grid(196)
        (14, 14)
        >>> token_grid(12, (3, 4))
        (3, 4)
    """
    if grid is not None:
        rows, cols = as_size(grid, grid_name)
        if rows * cols != num_tokens:
            raise ValueError(f"{grid_name}={grid!r} holds {rows * cols} cells but there are {num_tokens} {what}")
        return rows, cols
    side = math.isqrt(max(num_tokens, 0))
    if num_tokens <= 0 or side * side != num_tokens:
        raise ValueError(
            f"{num_tokens} {what} do not fill a square grid (the nearest squares are {side * side} and "
            f"{(side + 1) ** 2}); pass {grid_name}=(rows, cols) with rows * cols == {num_tokens} (or is a CLS "
            "token still in?)"
        )
    return side, side


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut ``images (B, C, H, W)`` into patches ``(B, N, C*p*p)`` with ``N = (H/p) * (W/p)``.

    Patches are numbered row-major (patch ``n`` sits at row ``n // cols``,
    column ``n % cols``); each vector is laid out ``(C, p, p)``, the order of
    ``nn.Conv2d``'s weight ``(D, C, p, p)``, so ``patchify(x) @ conv.weight.flatten(1).T``
    equals the convolution.
    """
    B, C, H, W = check_image_batch(images, "images")
    p = as_positive_int(patch_size, "patch_size")
    check_divisible((H, W), p, "images' (height, width)")
    rows, cols = H // p, W // p
    x = images.reshape(B, C, rows, p, cols, p)  # split each side into (grid, pixel-in-patch)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, p, p)
    return x.reshape(B, rows * cols, C * p * p)  # (B, N, C*p*p)


def merge_order(grid, merge_size: int = 2) -> torch.Tensor:
    """Indices that reorder row-major patch tokens into ``merge_size x merge_size`` windows.

    ``tokens[:, merge_order(grid)]`` puts the patches of each window next to
    each other: windows in row-major order, and inside a window its patches
    row-major (top-left, top-right, bottom-left, bottom-right for 2). That is
    the order in which Qwen2-VL's processor emits patches, so that its patch
    merger can fuse every ``merge_size**2`` consecutive tokens into one.

        >>> merge_order((2, 4)).tolist()
        [0, 1, 4, 5, 2, 3, 6, 7]
    """
    rows, cols = as_size(grid, "grid")
    m = as_positive_int(merge_size, "merge_size")
    check_block_grid((rows, cols), m, "merge_order")
    index = torch.arange(rows * cols).view(rows // m, m, cols // m, m)
    return index.permute(0, 2, 1, 3).reshape(-1)  # (rows/m, cols/m, m, m) -> flat


def unpatchify(patches: torch.Tensor, patch_size: int, image_size) -> torch.Tensor:
    """The exact inverse of :func:`patchify`: ``(B, N, C*p*p)`` back to ``(B, C, H, W)``.

    ``image_size = (height, width)`` (or an int) tells how the ``N`` patches
    were arranged; the channel count ``C`` follows from the vector length.
    """
    B, N, P = check_token_batch(patches, "patches")
    p = as_positive_int(patch_size, "patch_size")
    rows, cols = patch_grid(image_size, p)
    if N != rows * cols:
        raise ValueError(
            f"patches has {N} patches (shape {(B, N, P)}), but image_size {as_size(image_size)} "
            f"with patch_size={p} needs a {rows}x{cols} grid = {rows * cols} patches"
        )
    if P % (p * p):
        raise ValueError(f"patches' last dimension {P} is not C*p*p for patch_size={p} (a multiple of {p * p})")
    C = P // (p * p)
    x = patches.reshape(B, rows, cols, C, p, p)
    x = x.permute(0, 3, 1, 4, 2, 5)  # (B, C, rows, p, cols, p)
    return x.reshape(B, C, rows * p, cols * p)


class PatchEmbedding(nn.Module):
    """Patches to tokens with one ``Conv2d(kernel_size=p, stride=p)``: ``(B, C, H, W) -> (B, N, D)``.

    Equal to ``patchify`` followed by ``nn.Linear(C*p*p, D)`` whose weight is
    ``conv.weight.flatten(1)``. ``img_size`` is the training size: it sets
    ``grid`` and ``num_patches`` (the length of a learned position table);
    ``forward`` accepts any size whose sides are multiples of ``patch_size``.
    CLIP's patch convolution has no bias (``bias=False``).
    """

    def __init__(self, img_size=224, patch_size: int = 16, in_channels: int = 3, embed_dim: int = 768, bias: bool = True):
        super().__init__()
        self.img_size = as_size(img_size, "img_size")
        self.patch_size = as_positive_int(patch_size, "patch_size")
        self.in_channels = as_positive_int(in_channels, "in_channels")
        self.embed_dim = as_positive_int(embed_dim, "embed_dim")
        self.grid = patch_grid(self.img_size, self.patch_size)  # (rows, cols)
        self.num_patches = self.grid[0] * self.grid[1]
        self.projection = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, "x", channels=self.in_channels)
        check_divisible(tuple(x.shape[-2:]), self.patch_size, "x's (height, width)")
        x = self.projection(x)  # (B, D, rows, cols)
        return x.flatten(2).transpose(1, 2)  # (B, rows*cols, D), row-major like patchify


# --------------------------------------------------------------------------
# What a patch size costs: tokens and FLOPs of one forward pass
# --------------------------------------------------------------------------

def vit_flops(image_size, patch_size: int, embed_dim: int = 768, num_layers: int = 12, mlp_ratio: float = 4.0,
              in_channels: int = 3, cls_token: bool = True) -> dict:
    """FLOPs of one ViT encoder forward pass on one image, counted by hand (multiply-add = 2 FLOPs).

    Only matrix products are counted (they are > 99 % of the work); layer
    norms, softmax, GELU and additions are left out, as in the usual
    "GFLOPs" tables and in ``torch.utils.flop_counter.FlopCounterMode``.
    With ``N`` tokens (patches, +1 for CLS) and width ``D`` per layer:

    * ``linear``: q, k, v and output projections ``4 * 2*N*D*D`` and the MLP
      ``2 * 2*N*D*(mlp_ratio*D)`` — grows like ``N``;
    * ``attention``: scores ``q @ k.T`` and ``weights @ v``, ``2 * 2*N*N*D`` —
      grows like ``N**2``, which is why resolution is expensive.

    Returns a dict with ``tokens`` (``N``), ``patch_embed``, ``linear``,
    ``attention`` and ``total`` (all in FLOPs, ints).
    """
    rows, cols = patch_grid(image_size, patch_size)
    in_channels = as_positive_int(in_channels, "in_channels")
    D = as_positive_int(embed_dim, "embed_dim")
    L = as_positive_int(num_layers, "num_layers")
    hidden = int(D * mlp_ratio)
    n_patches = rows * cols
    N = n_patches + (1 if cls_token else 0)
    patch_embed = 2 * n_patches * (in_channels * patch_size * patch_size) * D
    linear = L * (4 * 2 * N * D * D + 2 * 2 * N * D * hidden)
    attention = L * (2 * 2 * N * N * D)
    return dict(tokens=N, patch_embed=patch_embed, linear=linear, attention=attention,
                total=patch_embed + linear + attention)


def cost_table(settings=((224, 16), (224, 14), (336, 14), (448, 14)), embed_dim: int = 768, num_layers: int = 12,
               mlp_ratio: float = 4.0) -> list[dict]:
    """The "image size / patch size / tokens / cost" table, computed.

    ``settings`` is a sequence of ``(image_size, patch_size)``; each row holds
    ``image_size``, ``patch_size``, ``grid``, ``patches`` (tokens an LLM would
    receive, no CLS), ``gflops`` (total, one image), ``attention_share`` (the
    fraction of FLOPs in the ``N**2`` attention products) and ``relative``
    (cost over the first row's).
    """
    rows = []
    for image_size, patch_size in settings:
        grid = patch_grid(image_size, patch_size)
        f = vit_flops(image_size, patch_size, embed_dim, num_layers, mlp_ratio)
        rows.append(dict(image_size=as_size(image_size), patch_size=patch_size, grid=grid,
                         patches=grid[0] * grid[1], gflops=f["total"] / 1e9,
                         attention_share=f["attention"] / f["total"]))
    for row in rows:
        row["relative"] = row["gflops"] / rows[0]["gflops"]
    return rows
