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

*Attention inside boxes*: to check a map against ground truth, each
patch's share of the image's object boxes (:func:`box_coverage`) is weighed
by the map (:func:`share_in_boxes`). A map that spreads evenly over the
patches puts exactly the boxes' area fraction inside them: that is the
baseline any "it looks at the objects" claim must beat.

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

import numbers

import torch

from ._validate import as_float_in_range, as_int_in_range, as_non_negative_int, as_size, check_choice
from .patches import token_grid

HEAD_FUSIONS = ("mean", "max", "min")

# What to do when a model hands back no attention weights (transformers' SDPA and flash kernels compute
# attention without materialising the weights, so they have none to return).
_HOW_TO_GET_ATTENTIONS = (
    "call the model with output_attentions=True, and load a transformers model with "
    "attn_implementation=\"eager\" (e.g. load_clip(attn_implementation=\"eager\")): its default SDPA "
    "attention returns no weights"
)


def _check_prefix(num_prefix_tokens) -> int:
    return as_non_negative_int(num_prefix_tokens, "num_prefix_tokens", " (1 = the CLS token)")


def _stack(attentions) -> torch.Tensor:
    """A sequence of ``(B, H, N, N)`` tensors (or a ``(L, B, H, N, N)`` tensor) → ``(L, B, H, N, N)``."""
    if attentions is None:
        raise ValueError(f"attentions is None: the model returned no attention maps; {_HOW_TO_GET_ATTENTIONS}")
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
            raise ValueError(f"attentions is empty: the model returned no attention maps; {_HOW_TO_GET_ATTENTIONS}")
        if any(a is None for a in items):
            raise ValueError(f"attentions contains None: the model returned no attention maps; {_HOW_TO_GET_ATTENTIONS}")
        if any(not isinstance(a, torch.Tensor) for a in items):
            raise TypeError(f"attentions must be torch.Tensors (B, heads, N, N), one per layer; got "
                            f"{[type(a).__name__ for a in items]}")
        if any(a.ndim != 4 for a in items):
            raise ValueError(f"attentions must be (B, heads, N, N) tensors, one per layer; got "
                             f"{[tuple(a.shape) for a in items]}")
        stacked = torch.stack(items)
    if stacked.ndim != 5 or stacked.shape[-1] != stacked.shape[-2]:
        raise ValueError(f"attentions must stack to (layers, B, heads, N, N), got shape {tuple(stacked.shape)}")
    return stacked.float()


def _check_fusion(head_fusion, name: str = "head_fusion") -> str:
    if not isinstance(head_fusion, str):
        raise TypeError(f"{name} must be one of {list(HEAD_FUSIONS)} (a str), got {head_fusion!r}")
    return check_choice(head_fusion, HEAD_FUSIONS, name)


def fuse_heads(attention: torch.Tensor, head_fusion: str = "mean", dim: int = -3) -> torch.Tensor:
    """Fuse the heads axis ``dim`` by the mean, max or min: ``(..., heads, N, N)`` → ``(..., N, N)`` by default."""
    _check_fusion(head_fusion)
    if head_fusion == "mean":
        return attention.mean(dim=dim)
    if head_fusion == "max":
        return attention.amax(dim=dim)
    return attention.amin(dim=dim)


def rollout_matrix(attentions, head_fusion: str = "mean", discard_ratio: float = 0.0) -> torch.Tensor:
    """The full rollout ``A_L ... A_1`` as a ``(B, N, N)`` matrix (each row sums to 1).

    Per layer: fuse heads; optionally zero the ``discard_ratio`` fraction of
    smallest weights of each sample (never the CLS→CLS entry); add the
    identity; renormalise rows; multiply onto the product so far.
    """
    att = _stack(attentions)  # (L, B, H, N, N)
    _check_fusion(head_fusion)
    discard_ratio = as_float_in_range(discard_ratio, "discard_ratio", 0, 1, high_open=True)
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
    _check_prefix(num_prefix_tokens)
    result = rollout_matrix(attentions, head_fusion, discard_ratio)  # (B, N, N)
    return result[:, 0, num_prefix_tokens:]


def cls_attention(attentions, layer: int = -1, *, num_prefix_tokens: int = 1) -> torch.Tensor:
    """Per-head attention from CLS to each patch at one layer (DINO's maps): ``(B, heads, N_patches)``."""
    _check_prefix(num_prefix_tokens)
    att = _stack(attentions)  # (L, B, H, N, N)
    n_layers = att.shape[0]
    layer = as_int_in_range(layer, "layer", -n_layers, n_layers - 1, f" (one of the {n_layers} layers)")
    return att[layer][:, :, 0, num_prefix_tokens:]


def to_grid(scores: torch.Tensor, grid=None) -> torch.Tensor:
    """``(..., N)`` patch scores → ``(..., rows, cols)`` (square grid when ``grid`` is None)."""
    rows, cols = token_grid(scores.shape[-1], grid, what="patch scores")
    return scores.reshape(*scores.shape[:-1], rows, cols)


def attention_map(attentions, layer="rollout", head="mean", grid=None, *, discard_ratio: float = 0.0,
                  num_prefix_tokens: int = 1):
    """One ``(B, rows, cols)`` map for the explorer widget.

    ``layer="rollout"`` gives the rollout through all layers; ``head`` is then
    the head fusion ("mean"/"max"/"min") applied at every layer. A single head
    index is refused there: head 3 of one layer has no relation to head 3 of
    the next, so there is no "rollout of head 3". An int ``layer`` gives CLS
    attention at that layer, for one ``head`` (an int) or fused over heads
    ("mean"/"max"/"min").
    """
    if layer == "rollout":
        if not isinstance(head, str):
            raise ValueError(
                f"head must be one of {list(HEAD_FUSIONS)} with layer='rollout' (the rollout fuses the heads of "
                f"every layer, and head {head!r} of one layer is unrelated to head {head!r} of the next), got "
                f"{head!r}; pass an int layer to see one head"
            )
        scores = attention_rollout(attentions, _check_fusion(head, "head"), discard_ratio,
                                   num_prefix_tokens=num_prefix_tokens)
    elif isinstance(layer, str):
        raise ValueError(f"layer must be 'rollout' or an int layer index, got {layer!r}")
    else:
        per_head = cls_attention(attentions, layer, num_prefix_tokens=num_prefix_tokens)  # (B, H, P)
        n_heads = per_head.shape[1]
        if isinstance(head, str):
            scores = fuse_heads(per_head, _check_fusion(head, "head"), dim=1)  # (B, P)
        else:
            head = as_int_in_range(head, "head", 0, n_heads - 1, f" or one of {list(HEAD_FUSIONS)}")
            scores = per_head[:, head]
    return to_grid(scores, grid)


def box_coverage(boxes, image_size, grid) -> torch.Tensor:
    """How much of each patch lies inside the union of ``boxes``: ``(rows * cols,)`` in [0, 1], row-major.

    Args:
        boxes: ``(top, left, bottom, right)`` pixel boxes, bottom and right
            exclusive (``vlmlab.scenes.SceneObject.box``); may be empty.
        image_size: ``(height, width)`` of the image the boxes are in.
        grid: ``(rows, cols)`` of patches; ``height`` and ``width`` must be
            multiples of them (every patch the same size).

    The mean of the result is the fraction of the image the boxes cover (a
    pixel in two boxes counts once).
    """
    height, width = as_size(image_size, "image_size")
    rows, cols = as_size(grid, "grid")
    if height % rows or width % cols:
        raise ValueError(f"image_size {(height, width)} must be a multiple of grid {(rows, cols)} "
                         f"(every patch the same number of pixels)")
    inside = torch.zeros(height, width)
    for k, box in enumerate(boxes):
        if len(box) != 4 or not all(isinstance(v, numbers.Integral) for v in box):
            raise ValueError(f"boxes[{k}] must be (top, left, bottom, right) in whole pixels, got {box!r}")
        top, left, bottom, right = (int(v) for v in box)
        if not (0 <= top < bottom <= height and 0 <= left < right <= width):
            raise ValueError(f"boxes[{k}] = {box!r} must satisfy 0 <= top < bottom <= {height} and "
                             f"0 <= left < right <= {width} (inside the {height}x{width} image)")
        inside[top:bottom, left:right] = 1.0
    ph, pw = height // rows, width // cols
    return inside.reshape(rows, ph, cols, pw).mean(dim=(1, 3)).reshape(-1)


def share_in_boxes(scores: torch.Tensor, coverage: torch.Tensor) -> torch.Tensor:
    """The share of a patch map that falls inside boxes: ``sum(scores * coverage) / sum(scores)`` per map.

    Args:
        scores: ``(..., N)`` non-negative patch weights (CLS attention over the
            patches, a rollout row); normalised here, so the weight CLS keeps
            on itself does not count.
        coverage: ``(..., N)`` or ``(N,)``, each patch's share of the boxes
            (:func:`box_coverage`).

    Returns ``(...)``. A uniform map gives ``coverage.mean(-1)``, the boxes'
    area fraction; 1 means every bit of weight lies inside the boxes.
    """
    if not isinstance(scores, torch.Tensor) or not isinstance(coverage, torch.Tensor):
        raise TypeError(f"scores and coverage must be torch.Tensors, got {type(scores).__name__} and "
                        f"{type(coverage).__name__}")
    if scores.shape[-1] != coverage.shape[-1]:
        raise ValueError(f"scores and coverage must have one entry per patch, got {scores.shape[-1]} and "
                         f"{coverage.shape[-1]} (did scores keep the CLS column?)")
    if (scores < 0).any():
        raise ValueError("scores must be non-negative weights (attention or rollout), got negative entries")
    scores = scores.float()
    return (scores * coverage.float()).sum(-1) / scores.sum(-1)
