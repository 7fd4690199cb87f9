"""Where does a ViT look? Attention rollout and per-head CLS attention maps.

*Attention rollout* (Abnar & Zuidema 2020, "Quantifying Attention Flow in
Transformers", https://arxiv.org/abs/2005.00928, section 3): a token's
output is a mix of the attention output and its own input (the residual
connection), so each layer's mixing matrix is modelled as
``A = 0.5 * W_att + 0.5 * I``; the rows are renormalised; and the flow from
the input tokens to the last layer is the product ``A_L ... A_2 A_1``. The
CLS row of that product over the patch tokens says how much each patch
contributed to CLS. Heads are fused first (mean, as in the paper; max and
min as in Jacob Gildenblat's ``vit_rollout.py`` in github.com/jacobgil/vit-explain,
which also introduced discarding the lowest attention weights, keeping the
CLS→CLS entry; this module follows that implementation and is tested
against a hand-computed example in ``tests/test_attention.py``).

*Per-head CLS maps* (Caron et al. 2021, DINO, https://arxiv.org/abs/2104.14294,
fig. 1 and ``visualize_attention.py``): the last layer's attention from CLS
to each patch, one map per head.

Attentions are what HF vision models return with ``output_attentions=True``
(load with ``attn_implementation="eager"``; SDPA kernels return none), and
what ``vlmlab.vit.ViT.forward_features(..., output_attentions=True)``
returns: a sequence with one ``(B, heads, N, N)`` tensor per layer, token 0
= CLS, rows = queries, each row summing to 1.
"""

from __future__ import annotations

import math

import torch

from ._validate import check_choice

HEAD_FUSIONS = ("mean", "max", "min")


def _stack(attentions) -> torch.Tensor:
    """A sequence of ``(B, H, N, N)`` tensors (or a ``(L, B, H, N, N)`` tensor) → ``(L, B, H, N, N)``."""
    if isinstance(attentions, torch.Tensor):
        if attentions.ndim == 4:
            attentions = attentions.unsqueeze(0)
        stacked = attentions
    else:
        try:
            items = list(attentions)
        except TypeError:
            raise TypeError(
                f"attentions must be a sequence of (B, heads, N, N) tensors (e.g. outputs.attentions), "
                f"got {type(attentions).__name__}"
            ) from None
        if not items:
            raise ValueError("attentions is empty; call the model with output_attentions=True")
        if any(a is None for a in items):
            raise ValueError(
                "attentions contains None: this model's attention kernel (SDPA/flash) returns no weights; "
                "load it with attn_implementation='eager'"
            )
        if any(not isinstance(a, torch.Tensor) or a.ndim != 4 for a in items):
            shapes = [tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__ for a in items]
            raise ValueError(f"attentions must be (B, heads, N, N) tensors, one per layer; got {shapes}")
        stacked = torch.stack(items)
    if stacked.ndim != 5 or stacked.shape[-1] != stacked.shape[-2]:
        raise ValueError(f"attentions must stack to (layers, B, heads, N, N), got shape {tuple(stacked.shape)}")
    return stacked.float()


def fuse_heads(attention: torch.Tensor, head_fusion: str = "mean") -> torch.Tensor:
    """``(..., heads, N, N)`` → ``(..., N, N)`` by the mean, max or min over heads."""
    check_choice(head_fusion, HEAD_FUSIONS, "head_fusion")
    if head_fusion == "mean":
        return attention.mean(dim=-3)
    if head_fusion == "max":
        return attention.amax(dim=-3)
    return attention.amin(dim=-3)


def rollout_matrix(attentions, head_fusion: str = "mean", discard_ratio: float = 0.0) -> torch.Tensor:
    """The full rollout ``A_L ... A_1`` as a ``(B, N, N)`` matrix (each row sums to 1).

    Per layer: fuse heads; optionally zero the ``discard_ratio`` fraction of
    smallest weights of each sample (never the CLS→CLS entry); add the
    identity; renormalise rows; multiply onto the product so far.
    """
    att = _stack(attentions)  # (L, B, H, N, N)
    if not 0.0 <= float(discard_ratio) < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), got {discard_ratio!r}")
    _, batch, _, n, _ = att.shape
    eye = torch.eye(n, dtype=att.dtype, device=att.device)
    result = eye.expand(batch, n, n).clone()  # (B, N, N)
    for layer in att:
        fused = fuse_heads(layer, head_fusion)  # (B, N, N)
        if discard_ratio > 0:
            flat = fused.reshape(batch, -1).clone()  # (B, N*N)
            k = int(flat.shape[-1] * discard_ratio)
            if k > 0:
                _, idx = flat.topk(k, dim=-1, largest=False)
                keep_cls = torch.zeros_like(flat, dtype=torch.bool)
                keep_cls[:, 0] = True  # CLS -> CLS is never discarded
                drop = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, idx, True) & ~keep_cls
                flat = flat.masked_fill(drop, 0.0)
            fused = flat.reshape(batch, n, n)
        a = fused + eye  # residual: 0.5 * W + 0.5 * I up to the renormalisation below
        a = a / a.sum(dim=-1, keepdim=True)
        result = a @ result  # (B, N, N)
    return result


def attention_rollout(attentions, head_fusion: str = "mean", discard_ratio: float = 0.0, *, num_prefix_tokens: int = 1):
    """Attention rollout: how much each patch flows into CLS through all layers.

    Args:
        attentions: one ``(B, heads, N, N)`` tensor per layer (HF's
            ``outputs.attentions``; N = 1 + patches), or a
            ``(layers, B, heads, N, N)`` tensor.
        head_fusion: ``"mean"`` (the paper), ``"max"`` or ``"min"`` over heads.
        discard_ratio: fraction of the smallest fused weights per layer set
            to zero before adding the identity (0 = none).
        num_prefix_tokens: tokens before the patches (1 = CLS; more with register tokens).

    Returns:
        ``(B, N - num_prefix_tokens)``: the CLS row of the rollout over the
        patch tokens, in row-major patch order (reshape to the grid to plot).
    """
    result = rollout_matrix(attentions, head_fusion, discard_ratio)  # (B, N, N)
    return result[:, 0, num_prefix_tokens:]


def cls_attention(attentions, layer: int = -1, *, num_prefix_tokens: int = 1) -> torch.Tensor:
    """Per-head attention from CLS to each patch at one layer (DINO's maps): ``(B, heads, N_patches)``."""
    att = _stack(attentions)  # (L, B, H, N, N)
    n_layers = att.shape[0]
    if isinstance(layer, bool) or not isinstance(layer, int) or not -n_layers <= layer < n_layers:
        raise ValueError(f"layer must be an int in [{-n_layers}, {n_layers - 1}], got {layer!r}")
    return att[layer][:, :, 0, num_prefix_tokens:]


def to_grid(scores: torch.Tensor, grid=None) -> torch.Tensor:
    """``(..., N)`` patch scores → ``(..., rows, cols)`` (square grid when ``grid`` is None)."""
    n = scores.shape[-1]
    if grid is None:
        side = math.isqrt(n)
        if side * side != n:
            raise ValueError(f"{n} patch scores are not a square grid; pass grid=(rows, cols)")
        grid = (side, side)
    rows, cols = int(grid[0]), int(grid[1])
    if rows * cols != n:
        raise ValueError(f"grid {grid!r} has {rows * cols} cells but there are {n} patch scores")
    return scores.reshape(*scores.shape[:-1], rows, cols)


def attention_map(attentions, layer="rollout", head="mean", grid=None, *, discard_ratio: float = 0.0, num_prefix_tokens: int = 1):
    """One ``(B, rows, cols)`` map for the explorer widget.

    ``layer="rollout"`` gives the rollout through all layers (``head`` is then
    the head fusion: "mean"/"max"/"min"); an int ``layer`` gives CLS attention
    at that layer, for one ``head`` (int) or fused over heads ("mean"/"max"/"min").
    """
    if layer == "rollout":
        fusion = head if isinstance(head, str) else "mean"
        scores = attention_rollout(attentions, fusion, discard_ratio, num_prefix_tokens=num_prefix_tokens)
    else:
        per_head = cls_attention(attentions, layer, num_prefix_tokens=num_prefix_tokens)  # (B, H, P)
        if isinstance(head, str):
            scores = _fuse_1d(per_head, head)  # (B, P)
        else:
            n_heads = per_head.shape[1]
            if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < n_heads:
                raise ValueError(f"head must be an int in [0, {n_heads - 1}] or one of {list(HEAD_FUSIONS)}, got {head!r}")
            scores = per_head[:, head]
    return to_grid(scores, grid)


def _fuse_1d(per_head: torch.Tensor, head_fusion: str) -> torch.Tensor:
    check_choice(head_fusion, HEAD_FUSIONS, "head")
    if head_fusion == "mean":
        return per_head.mean(1)
    return per_head.amax(1) if head_fusion == "max" else per_head.amin(1)
