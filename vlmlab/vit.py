"""A readable Vision Transformer that can carry CLIP's weights and show its attention.

A common first implementation builds the encoder from ``nn.TransformerEncoder``.
Its layers call attention with ``need_weights=False``, so it cannot return
attention maps, and it hands back only the last layer. This one writes each
block out (pre-LN attention + pre-LN MLP) and names the stages of
``forward_features``, so a notebook can stop at any of them:

    embed_patches   (B, C, H, W)  -> (B, N, D)     Conv2d with kernel = stride = patch
    add_positions   (B, N, D)     -> (B, 1+N, D)   CLS token first, then the position table
                                                   (interpolated in 2-D when the grid differs)
    encode          (B, 1+N, D)   -> (B, 1+N, D)   pre-norm (CLIP's ``pre_layrnorm``), then the blocks

Outputs mean exactly what ``transformers``' CLIP vision outputs mean
(``transformers.models.clip.modeling_clip.CLIPVisionModel.forward``):

* ``last_hidden_state`` — the output of the last block, **without** a final LayerNorm;
* ``pooler_output`` — ``norm(last_hidden_state[:, 0])``: the CLS token after the final
  LayerNorm (CLIP's ``post_layernorm``);
* ``hidden_states`` — ``num_layers + 1`` tensors: the block input (after the pre-norm), then each block's output;
* ``attentions`` — one ``(B, heads, 1+N, 1+N)`` softmax map per block.

Attention uses ``torch.nn.functional.scaled_dot_product_attention`` (fused,
fast) unless the maps are asked for; then the explicit softmax path runs.
Both give the same numbers (tests/test_vit.py).

:func:`attention_distance` measures how far each patch query reads from (in
patches), against :func:`patch_distances`' uniform baseline.

Papers: Dosovitskiy et al. 2021, https://arxiv.org/abs/2010.11929 (ViT);
Radford et al. 2021, https://arxiv.org/abs/2103.00020 (CLIP; its ViT adds a
LayerNorm before the blocks and uses QuickGELU).
Checked against: ``transformers.models.clip.modeling_clip`` (``CLIPVisionModel``,
``CLIPVisionEmbeddings``, ``CLIPEncoderLayer``, ``CLIPAttention``), to 1e-4 in
float32, via :meth:`ViT.from_hf_clip`. Layout of the fused q/k/v follows
``timm.models.vision_transformer.Attention`` and nanoGPT.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import (as_non_negative_int, as_positive_int, as_size, check_choice, check_divisible,
                        check_image_batch)
from .patches import PatchEmbedding
from .posembed import interpolate_pos_embed, sincos_2d

__all__ = ["ViTOutput", "QuickGELU", "Attention", "MLP", "Block", "ViT", "clip_key_map", "patch_distances",
           "attention_distance"]

ACTIVATIONS = ("gelu", "quick_gelu")
POS_EMBEDS = ("learned", "sincos2d", "none")


@dataclass
class ViTOutput:
    """What :meth:`ViT.forward_features` returns (the fields of HF's ``BaseModelOutputWithPooling``).

    last_hidden_state: ``(B, 1+N, D)`` output of the last block, no final LayerNorm.
    pooler_output: ``(B, D)`` the CLS token after the final LayerNorm.
    hidden_states: ``num_layers + 1`` tensors ``(B, 1+N, D)`` (block input first), or None.
    attentions: ``num_layers`` tensors ``(B, heads, 1+N, 1+N)``, or None.
    """

    last_hidden_state: torch.Tensor
    pooler_output: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class QuickGELU(nn.Module):
    """OpenAI CLIP's GELU approximation: ``x * sigmoid(1.702 * x)`` (its ``QuickGELU``; transformers' ``quick_gelu``).

    Exact GELU is ``x * Phi(x)``, ``Phi`` the standard normal CDF; the sigmoid
    stands in for ``Phi`` (Hendrycks and Gimpel, *Gaussian Error Linear Units*,
    2016). The two differ by at most about 0.02, near ``x = -2.3``; a model
    trained with one must be run with it.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """Multi-head self-attention: ``(B, N, D) -> (B, N, D)``, plus the ``(B, heads, N, N)`` maps on request.

    q, k and v come from one ``Linear(D, 3D)`` (one matrix product instead of
    three); ``fused_attn`` picks ``scaled_dot_product_attention`` when no maps
    are needed.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim={dim} must be divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)  # rows: all of q, then k, then v
        self.proj = nn.Linear(dim, dim)
        self.fused_attn = True

    def forward(self, x: torch.Tensor, need_weights: bool = False):
        B, N, D = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (3, B, heads, N, head_dim)
        q, k, v = qkv.unbind(0)  # each (B, heads, N, head_dim)
        if self.fused_attn and not need_weights:
            out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, head_dim)
            weights = None
        else:
            scores = (q @ k.transpose(-2, -1)) * self.scale  # (B, heads, N, N)
            weights = scores.softmax(dim=-1, dtype=torch.float32).to(q.dtype)  # each row sums to 1
            out = weights @ v  # (B, heads, N, head_dim)
        out = out.transpose(1, 2).reshape(B, N, D)  # heads side by side again
        return self.proj(out), weights


class MLP(nn.Module):
    """``Linear(D, hidden) -> activation -> Linear(hidden, D)``, applied to each token."""

    def __init__(self, dim: int, hidden_dim: int, activation: str = "gelu"):
        super().__init__()
        check_choice(activation, ACTIVATIONS, "activation")
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU() if activation == "gelu" else QuickGELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """One pre-LN transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, activation: str = "gelu", eps: float = 1e-5,
                 qkv_bias: bool = True):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, mlp_dim, activation)

    def forward(self, x: torch.Tensor, need_weights: bool = False):
        attended, weights = self.attn(self.norm1(x), need_weights)
        x = x + attended  # tokens exchange information
        x = x + self.mlp(self.norm2(x))  # each token is transformed on its own
        return x, weights


class ViT(nn.Module):
    """Vision Transformer with the usual constructor arguments and CLIP's options.

    Args: ``img_size`` (int or (height, width), the training size: it fixes the
    learned table's grid), ``patch_size``, ``in_channels``, ``embed_dim``, ``num_heads``,
    ``num_layers``, ``mlp_ratio``, ``num_classes`` (0: no head, ``forward`` returns the pooled features).
    Keyword options: ``mlp_dim`` (overrides ``mlp_ratio``), ``activation`` ("gelu" or
    "quick_gelu"), ``pre_norm`` (CLIP's LayerNorm before the blocks), ``patch_bias``
    (CLIP: False), ``pos_embed`` ("learned", "sincos2d" or "none"), ``layer_norm_eps``, ``qkv_bias``.

    Any input whose sides are multiples of ``patch_size`` works: a learned
    table is interpolated to the new grid (bicubic, as CLIP's
    ``interpolate_pos_encoding``), a sin-cos table is computed for it.
    """

    num_prefix_tokens = 1  # the CLS token

    def __init__(self, img_size=224, patch_size: int = 16, in_channels: int = 3, embed_dim: int = 768,
                 num_heads: int = 12, num_layers: int = 12, mlp_ratio: float = 4.0, num_classes: int = 1000, *,
                 mlp_dim: int | None = None, activation: str = "gelu", pre_norm: bool = False, patch_bias: bool = True,
                 pos_embed: str = "learned", layer_norm_eps: float = 1e-5, qkv_bias: bool = True):
        super().__init__()
        check_choice(activation, ACTIVATIONS, "activation")
        check_choice(pos_embed, POS_EMBEDS, "pos_embed")
        embed_dim = as_positive_int(embed_dim, "embed_dim")
        num_heads = as_positive_int(num_heads, "num_heads")
        num_layers = as_positive_int(num_layers, "num_layers")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
        num_classes = as_non_negative_int(num_classes, "num_classes", " (0 = no head)")
        mlp_dim = as_positive_int(mlp_dim, "mlp_dim") if mlp_dim is not None else round(embed_dim * mlp_ratio)
        self.embed_dim, self.num_heads, self.num_layers, self.mlp_dim = embed_dim, num_heads, num_layers, mlp_dim
        self.activation, self.pos_embed_kind = activation, pos_embed

        self.patch_embed = PatchEmbedding(img_size, patch_size, in_channels, embed_dim, bias=patch_bias)
        self.img_size, self.patch_size, self.in_channels = self.patch_embed.img_size, patch_size, in_channels
        self.grid = self.patch_embed.grid  # (rows, cols) of the training size
        num_positions = self.num_prefix_tokens + self.patch_embed.num_patches

        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, num_positions, embed_dim))
        elif pos_embed == "sincos2d":  # fixed, not trained: a buffer, recomputed for other grids
            self.register_buffer("pos_embed", sincos_2d(self.grid, embed_dim, cls_token=True).unsqueeze(0), persistent=False)
        else:
            self.pos_embed = None
        self.pre_norm = nn.LayerNorm(embed_dim, eps=layer_norm_eps) if pre_norm else nn.Identity()
        self.blocks = nn.ModuleList(
            [Block(embed_dim, num_heads, mlp_dim, activation, layer_norm_eps, qkv_bias) for _ in range(num_layers)]
        )
        self.norm = nn.LayerNorm(embed_dim, eps=layer_norm_eps)  # CLIP's post_layernorm
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self._init_weights()

    def _init_weights(self):
        """timm's ``VisionTransformer.init_weights`` (its default mode, ``init_weights_vit_timm``).

        * the learned position table ~ truncated N(0, 0.02²); the CLS token ~ N(0, 1e-6²),
          nearly zero, so at the start it is the position row that tells CLS apart;
        * every ``nn.Linear`` (q/k/v, attention output, MLP, head): weight ~ truncated
          N(0, 0.02²), bias 0. A small fixed scale rather than PyTorch's fan-in rule keeps
          each residual branch's first contribution small, so the stack starts close to
          the identity;
        * every ``nn.LayerNorm``: weight 1, bias 0 (a plain normalisation);
        * the patch embedding (a ``Conv2d``) keeps PyTorch's default, as timm leaves it:
          uniform in ``±1/sqrt(C·p·p)``.
        """
        nn.init.normal_(self.cls_token, std=1e-6)
        if isinstance(self.pos_embed, nn.Parameter):
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    # -- the stages of forward_features ------------------------------------------------

    def embed_patches(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, N, D)``: one token per patch, row-major."""
        check_image_batch(x, "x", channels=self.in_channels)
        check_divisible(tuple(x.shape[-2:]), self.patch_size, "x's (height, width)")
        return self.patch_embed(x)

    def position_table(self, grid) -> torch.Tensor | None:
        """The ``(1, 1+rows*cols, D)`` position table for a ``(rows, cols)`` grid (None without positions)."""
        if self.pos_embed is None:
            return None
        if tuple(grid) == self.grid:
            return self.pos_embed
        if self.pos_embed_kind == "sincos2d":
            return sincos_2d(grid, self.embed_dim, cls_token=True).unsqueeze(0).to(self.pos_embed)
        return interpolate_pos_embed(self.pos_embed, grid, self.num_prefix_tokens, old_grid=self.grid)

    def add_positions(self, tokens: torch.Tensor, grid) -> torch.Tensor:
        """``(B, N, D) -> (B, 1+N, D)``: prepend the CLS token, add the position table for ``grid``."""
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
        x = torch.cat([cls, tokens], dim=1)  # (B, 1+N, D)
        table = self.position_table(grid)
        return x if table is None else x + table

    def encode(self, x: torch.Tensor, output_attentions: bool = False, output_hidden_states: bool = False):
        """Pre-norm, then every block. Returns ``(last_hidden_state, hidden_states, attentions)``."""
        x = self.pre_norm(x)
        hidden_states = [x] if output_hidden_states else None
        attentions = [] if output_attentions else None
        for block in self.blocks:
            x, weights = block(x, need_weights=output_attentions)
            if output_hidden_states:
                hidden_states.append(x)
            if output_attentions:
                attentions.append(weights)
        return (x, tuple(hidden_states) if output_hidden_states else None,
                tuple(attentions) if output_attentions else None)

    def forward_features(self, x: torch.Tensor, output_attentions: bool = False,
                         output_hidden_states: bool = False) -> ViTOutput:
        """Images ``(B, C, H, W)`` -> :class:`ViTOutput` (fields as in HF CLIP; see the module docstring)."""
        tokens = self.embed_patches(x)  # (B, N, D)
        grid = (x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size)
        x = self.add_positions(tokens, grid)  # (B, 1+N, D)
        last, hidden_states, attentions = self.encode(x, output_attentions, output_hidden_states)
        pooled = self.norm(last[:, 0])  # (B, D): CLS after the final LayerNorm
        return ViTOutput(last, pooled, hidden_states, attentions)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        """Class logits ``(B, num_classes)`` from the CLS token, or, with
        ``return_features=True``, every token after the final LayerNorm ``(B, 1+N, D)``.
        (With ``num_classes=0`` the "logits" are the pooled features ``(B, D)``.)"""
        out = self.forward_features(x)
        if return_features:
            return self.norm(out.last_hidden_state)
        return self.head(out.pooler_output)

    # -- loading CLIP's weights -------------------------------------------------------

    @classmethod
    def from_hf_clip(cls, vision_model) -> "ViT":
        """A ViT carrying the weights of a ``transformers`` CLIP vision tower.

        ``vision_model``: a ``CLIPVisionModel``, ``CLIPVisionModelWithProjection`` or
        ``CLIPModel`` (its vision tower is used). The copy follows :func:`clip_key_map`
        and checks every shape. The result gives the same ``last_hidden_state``,
        ``pooler_output``, hidden states and attention maps as the HF model (float32, 1e-4);
        it has no classification head (``num_classes=0``), is in eval mode, and sits on the
        device and in the dtype of CLIP's weights.
        """
        from .clip import vision_tower

        tower = vision_tower(vision_model)  # CLIPModel / ...WithProjection / older CLIPVisionModel
        config = getattr(tower, "config", None)
        config = getattr(config, "vision_config", config)
        if config is None or not hasattr(tower, "embeddings") or not hasattr(tower, "post_layernorm"):
            raise TypeError(f"vision_model must be a transformers CLIP vision model, got {type(vision_model).__name__}")
        if config.hidden_act not in ACTIVATIONS:
            raise ValueError(f"hidden_act {config.hidden_act!r} is not supported; expected one of {ACTIVATIONS}")
        model = cls(img_size=config.image_size, patch_size=config.patch_size, in_channels=config.num_channels,
                    embed_dim=config.hidden_size, num_heads=config.num_attention_heads,
                    num_layers=config.num_hidden_layers, num_classes=0, mlp_dim=config.intermediate_size,
                    activation=config.hidden_act, pre_norm=True, patch_bias=False, pos_embed="learned",
                    layer_norm_eps=config.layer_norm_eps)
        source = tower.state_dict()
        target = model.state_dict()
        with torch.no_grad():
            for ours, theirs in clip_key_map(config.num_hidden_layers):
                names = theirs if isinstance(theirs, tuple) else (theirs,)
                missing = [n for n in names if n not in source]
                if missing:
                    raise KeyError(f"{type(tower).__name__} has no weight {missing[0]!r} (needed for {ours!r})")
                value = torch.cat([source[n] for n in names], dim=0)  # q, k, v stacked into qkv
                expected = target[ours].shape
                # our cls_token / pos_embed carry leading batch dims of size 1: (1, 1, D) vs CLIP's (D,)
                if value.shape != expected and tuple(expected) != (1,) * (len(expected) - value.ndim) + tuple(value.shape):
                    raise ValueError(f"shape mismatch copying {theirs} {tuple(value.shape)} into {ours} {tuple(expected)}")
                target[ours].copy_(value.reshape(expected))
        reference = source["embeddings.patch_embedding.weight"]
        return model.to(device=reference.device, dtype=reference.dtype).eval()  # where and how CLIP's weights live


def clip_key_map(num_layers: int) -> list[tuple[str, str | tuple[str, ...]]]:
    """The one table from HF CLIP vision weight names to ours: ``[(vlmlab name, HF name), ...]``.

    A tuple of HF names means "concatenate along dim 0" (q, k, v into our fused ``qkv``).
    """
    pairs = [
        ("cls_token", "embeddings.class_embedding"),
        ("patch_embed.projection.weight", "embeddings.patch_embedding.weight"),
        ("pos_embed", "embeddings.position_embedding.weight"),
        ("pre_norm.weight", "pre_layrnorm.weight"),
        ("pre_norm.bias", "pre_layrnorm.bias"),
    ]
    for i in range(num_layers):
        ours, theirs = f"blocks.{i}.", f"encoder.layers.{i}."
        for param in ("weight", "bias"):
            pairs += [
                (ours + f"norm1.{param}", theirs + f"layer_norm1.{param}"),
                (ours + f"attn.qkv.{param}", tuple(theirs + f"self_attn.{n}_proj.{param}" for n in "qkv")),
                (ours + f"attn.proj.{param}", theirs + f"self_attn.out_proj.{param}"),
                (ours + f"norm2.{param}", theirs + f"layer_norm2.{param}"),
                (ours + f"mlp.fc1.{param}", theirs + f"mlp.fc1.{param}"),
                (ours + f"mlp.fc2.{param}", theirs + f"mlp.fc2.{param}"),
            ]
    pairs += [("norm.weight", "post_layernorm.weight"), ("norm.bias", "post_layernorm.bias")]
    return pairs


# -- measuring attention -----------------------------------------------------------------


def patch_distances(grid) -> torch.Tensor:
    """Distances between the patches of a ``(rows, cols)`` grid, in patches: ``(N, N)``, ``N = rows * cols``.

    Patches are numbered row-major, as the tokens are. Entry ``(i, j)`` is the
    Euclidean distance between the centres of patches ``i`` and ``j`` in patch
    widths: 0 on the diagonal, 1 to a side neighbour, ``sqrt(2)`` to a diagonal
    one. Row ``i``'s mean is the distance at which a query at patch ``i`` reads
    when it spreads its attention evenly over the patches.
    """
    rows, cols = as_size(grid, "grid")
    index = torch.arange(rows * cols)
    r, c = (index // cols).float(), (index % cols).float()
    return torch.hypot(r[:, None] - r[None], c[:, None] - c[None])


def attention_distance(attention: torch.Tensor, grid, num_prefix_tokens: int = 1) -> torch.Tensor:
    """How far each patch query reads from, in patches: one layer's map -> ``(B, heads, N)``.

    ``attention``: one layer's ``(B, heads, P + N, P + N)`` weights (``P``
    prefix tokens such as CLS first, then ``N = rows * cols`` patches,
    row-major), as ``ViT.forward_features(..., output_attentions=True)``
    returns per layer. For each patch query, the prefix tokens are left out
    (on both sides), its weights are renormalised over the patches, and the
    result is the weighted mean of :func:`patch_distances`: the ViT paper's
    "attention distance" (Dosovitskiy et al. 2021), here in patches instead of
    pixels. Attention on the query's own patch gives 0; even attention gives
    ``patch_distances(grid).mean(-1)``, the baseline to compare with.
    """
    rows, cols = as_size(grid, "grid")
    prefix = as_non_negative_int(num_prefix_tokens, "num_prefix_tokens", " (tokens before the patches, e.g. 1 for CLS)")
    if not isinstance(attention, torch.Tensor):
        raise TypeError(f"attention must be one layer's (B, heads, N, N) torch.Tensor, got {type(attention).__name__}")
    n = prefix + rows * cols
    if attention.ndim != 4 or attention.shape[-2:] != (n, n):
        raise ValueError(f"attention must be (B, heads, {n}, {n}) for grid {(rows, cols)} and {prefix} prefix "
                         f"token(s), got shape {tuple(attention.shape)}")
    weights = attention[..., prefix:, prefix:].float()  # (B, heads, N, N): patch queries to patch keys
    weights = weights / weights.sum(-1, keepdim=True)  # each query's attention over the patches only
    distance = patch_distances((rows, cols)).to(weights.device)  # (N, N)
    return (weights * distance).sum(-1)
