"""The whole vision side of a VLM: image → preprocessing / tiles → frozen encoder → projector → LLM tokens.

``VLMVisionPipeline`` runs the five ways the families in this course feed an
image to their LLM (``tiling=``):

* ``tiling=None`` — one picture, resized and centre-cropped; ``mlp2x_gelu``;
  tokens = ``token_budget(size, "llava-1.5")``.
* ``"naive"`` — a common first tiling (``tiling.naive_grid``) plus a
  thumbnail; ``mlp2x_gelu``; no family uses it.
* ``"llava-next"`` — base image + anyres crops; ``mlp2x_gelu``, then unpad and
  one learned ``image_newline`` per row; tokens = ``token_budget(size, "llava-next")``.
* ``"internvl"`` — dynamic tiles (+ thumbnail); pixel shuffle + MLP;
  tokens = ``token_budget(size, "internvl2")``.
* ``"dynamic"`` — one picture at its own (smart-resized) resolution; the 2 × 2
  patch merger; tokens = ``token_budget(size, "qwen2-vl")``.

Tile size and patch size are the encoder's (64 and 8 for the toy CLIP, 336
and 14 for CLIP ViT-L/14-336), and ``token_budget`` is asked with the same
values, so the toy pipeline reproduces each family's rule at its own scale.

What each family does, and where it was checked:

* LLaVA-1.5: ``llava/model/llava_arch.py`` (``encode_images``: vision tower,
  then ``mm_projector``); ``transformers.models.llava.modeling_llava.LlavaModel.get_image_features``.
* LLaVA-NeXT: ``transformers.models.llava_next.modeling_llava_next.LlavaNextModel``
  (``image_newline``, a learned ``(hidden_size,)`` vector initialised with
  std ``1/sqrt(hidden_size)``; ``pack_image_features``) — see ``vlmlab.tiling.llava_next_pack``.
* InternVL2: ``modeling_internvl_chat.py`` ``extract_feature`` (tiles → ViT →
  ``pixel_shuffle`` → ``mlp1``), thumbnail last.
* Qwen2-VL: one image at its own resolution, the 2 × 2 ``PatchMerger``
  (here on CLIP with its position table resized in 2-D, ``vlmlab.dynamic``).

Every path starts from ``vlmlab.preprocess.to_rgb`` (EXIF orientation, size
limits, any mode to RGB). Tiles are made by ``vlmlab.tiling.plan_tiles``;
for ``"llava-next"`` its tiles are ``tiling.llava_next_pictures``, so the
pixel values equal ``tiling.llava_next_pixel_values`` (and
``LlavaNextImageProcessor``'s).

The encoder is frozen (``requires_grad=False``) and runs under
``torch.no_grad()``: in LLaVA's stage 1 only the projector trains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ._validate import as_positive_int, check_image_batch

__all__ = ["TILINGS", "BUDGET_FAMILY_OF_TILING", "Stage", "PipelineRecord", "VLMVisionPipeline"]

TILINGS = (None, "naive", "llava-next", "internvl", "dynamic")
# The vlmlab.budget family (a key of budget.FAMILIES) whose token count each tiling reproduces; the naive grid has none.
BUDGET_FAMILY_OF_TILING = {None: "llava-1.5", "naive": None, "llava-next": "llava-next", "internvl": "internvl2",
                           "dynamic": "qwen2-vl"}
# The family's own projector, used when the default "mlp2x_gelu" is left in place.
FAMILY_PROJECTORS = {"internvl": "pixel_shuffle_mlp", "dynamic": "patch_merger"}
DEFAULT_PROJECTOR = "mlp2x_gelu"


@dataclass
class Stage:
    """One step of ``encode_image``: its name, the shape it produced, and a note."""

    name: str
    shape: tuple
    note: str = ""


@dataclass
class PipelineRecord:
    """What ``encode_image`` did to one image, stage by stage.

    ``image_size`` (h, w) in; ``resized`` (h, w) the content was resized to;
    ``tile_grid`` (rows, cols) of tiles (``(1, 1)`` without tiling);
    ``pictures`` the encoder ran on; ``patch_grid`` (rows, cols) of patches per
    picture; ``features`` shape before the projector; ``tokens`` the number of
    LLM tokens out; ``stages`` the list of :class:`Stage`.
    """

    tiling: str | None
    family: str | None
    image_size: tuple
    resized: tuple
    tile_grid: tuple
    pictures: int
    patch_grid: tuple
    features: tuple
    tokens: int
    stages: list = field(default_factory=list)

    def table(self) -> str:
        """The stages as a small text table."""
        width = max(len(s.name) for s in self.stages)
        return "\n".join(f"{s.name:<{width}}  {str(tuple(s.shape)):<18} {s.note}".rstrip() for s in self.stages)

    def __str__(self) -> str:
        return self.table()


def _build_encoder(encoder, feature_layer: int):
    from .clip import VLMVisionEncoder

    if isinstance(encoder, VLMVisionEncoder):
        return encoder
    if encoder is None or isinstance(encoder, (str, Path)):
        return VLMVisionEncoder(encoder, freeze=True, feature_layer=feature_layer)
    try:  # a loaded CLIPModel / CLIPVisionModel
        return VLMVisionEncoder(encoder, freeze=True, feature_layer=feature_layer)
    except TypeError:
        raise TypeError(
            "encoder must be None (the toy CLIP), a CLIP name or folder, a CLIPModel / CLIPVisionModel "
            f"or a vlmlab.clip.VLMVisionEncoder, got {type(encoder).__name__}"
        ) from None


class VLMVisionPipeline(nn.Module):
    """Image → LLM input tokens ``(N, llm_dim)``.

    Args:
        encoder: ``None`` (the toy CLIP), a CLIP name / folder, a loaded
            ``CLIPModel``, or a ``vlmlab.clip.VLMVisionEncoder``. Frozen.
        llm_dim: width of the language model's token embeddings.
        projector: a name for ``vlmlab.projectors.build_projector`` or an
            ``nn.Module`` called as ``projector(features (B, N, C), grid=(rows, cols))``. With ``tiling="internvl"`` / ``"dynamic"`` the default
            ``"mlp2x_gelu"`` is replaced by the family's own projector
            (``"pixel_shuffle_mlp"`` / ``"patch_merger"``); any other name is kept.
        feature_layer: which hidden state the encoder reads (LLaVA-1.5: -2).
            Ignored when ``encoder`` is already a ``VLMVisionEncoder``.
        tiling: ``None``, ``"naive"``, ``"llava-next"``, ``"internvl"`` or
            ``"dynamic"`` (table in the module docstring).
        max_tiles: the tile limit of ``"naive"`` / ``"llava-next"`` / ``"internvl"``.
        min_pixels, max_pixels: the pixel budget of ``"dynamic"``.
        **projector_options: passed to ``build_projector``.
    """

    def __init__(self, encoder=None, llm_dim: int = 4096, projector="mlp2x_gelu", feature_layer: int = -2,
                 tiling: str | None = None, *, max_tiles: int | None = None, min_pixels: int | None = None,
                 max_pixels: int | None = None, **projector_options):
        super().__init__()
        from .projectors import build_projector

        if tiling not in TILINGS:
            raise ValueError(f"tiling must be one of {list(TILINGS)}, got {tiling!r}")
        self.tiling = tiling
        self.family = BUDGET_FAMILY_OF_TILING[tiling]
        self.llm_dim = as_positive_int(llm_dim, "llm_dim")
        self.max_tiles = None if max_tiles is None else as_positive_int(max_tiles, "max_tiles")
        self.encoder = _build_encoder(encoder, feature_layer)
        self.encoder.requires_grad_(False)
        self.vision_dim = self.encoder.output_dim
        self.image_size = self.encoder.image_size
        self.patch_size = self.encoder.patch_size

        if isinstance(projector, str):
            if projector == DEFAULT_PROJECTOR and tiling in FAMILY_PROJECTORS:
                projector = FAMILY_PROJECTORS[tiling]
            self.projector_name = projector
            projector = build_projector(projector, self.vision_dim, self.llm_dim, **projector_options)
        elif isinstance(projector, nn.Module):
            self.projector_name = type(projector).__name__
        else:
            raise TypeError(f"projector must be a name or an nn.Module, got {type(projector).__name__}")
        self.projector = projector

        count = getattr(projector, "num_output_tokens", None)
        side = self.image_size // self.patch_size
        if tiling == "llava-next" and count is not None and any(
                count((g, g)) != g * g for g in (side, 2 * side)):
            raise ValueError(
                f"tiling='llava-next' unpads a grid of one token per patch; projector {self.projector_name!r} "
                f"gives {count((side, side))} tokens for {side * side} patches. Use 'linear' or 'mlp{{d}}x_gelu'."
            )

        # LLaVA-NeXT's learned row separator, initialised as transformers does (std 1/sqrt(hidden)).
        if tiling == "llava-next":
            self.image_newline = nn.Parameter(torch.randn(self.llm_dim) / math.sqrt(self.llm_dim))
        else:
            self.register_parameter("image_newline", None)

        self.dynamic = None
        if tiling == "dynamic":
            from .dynamic import DynamicResolutionEncoder

            merge = getattr(projector, "merge_size", getattr(projector, "scale", 2))
            self.dynamic = DynamicResolutionEncoder(self.encoder, merge_size=merge, min_pixels=min_pixels,
                                                    max_pixels=max_pixels)

    # ------------------------------------------------------------------ helpers
    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # frozen: dropout / norms stay in inference mode, as LLaVA keeps its tower
        return self

    def token_budget(self, image_size):
        """``vlmlab.budget.token_budget`` for this pipeline's family and settings (None for ``"naive"``)."""
        from .budget import token_budget

        if self.family is None:
            return None
        if self.family == "qwen2-vl":
            return token_budget(image_size, "qwen2-vl", patch_size=self.patch_size,
                                min_pixels=self.dynamic.min_pixels, max_pixels=self.dynamic.max_pixels)
        if self.family == "llava-1.5":
            return token_budget(image_size, "llava-1.5", tile_size=self.image_size, patch_size=self.patch_size)
        return token_budget(image_size, self.family, tile_size=self.image_size, patch_size=self.patch_size,
                            max_tiles=self.max_tiles)

    def pixel_values(self, image):
        """What the encoder is given for one PIL image: ``(pixel_values, plan)``.

        * ``tiling=None``: ``(1, 3, S, S)`` from the encoder's processor (shorter
          side to ``S``, centre crop, normalise); ``plan`` is None.
        * ``"dynamic"``: ``(1, 3, h, w)`` at the smart-resized size; ``plan`` is None.
        * tilings: ``(T, 3, S, S)``, the pictures of ``plan = tiling.plan_tiles(...)``
          (LLaVA-NeXT: base image first; the others: thumbnail last), normalised
          with the encoder processor's mean and std.
        """
        from .preprocess import image_mean_std, normalise, to_rgb, to_uint8_tensor
        from .tiling import plan_tiles

        image = to_rgb(image)
        if self.tiling is None:
            return self.encoder.preprocess([image]), None
        if self.tiling == "dynamic":
            return self.dynamic.pixel_values(image), None
        plan = plan_tiles(image, self.tiling, tile_size=self.image_size, max_tiles=self.max_tiles)
        if self.tiling == "llava-next":
            pictures = [plan.thumbnail, *plan.tiles]  # base image first, as LLaVA-NeXT
        else:
            pictures = [*plan.tiles] + ([plan.thumbnail] if plan.thumbnail is not None else [])
        x = torch.stack([to_uint8_tensor(p) for p in pictures])  # (T, 3, S, S) uint8
        return normalise(x, *image_mean_std(self.encoder.processor)), plan

    @torch.no_grad()
    def encode(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        """Frozen encoder: ``(B, 3, H, W)`` → patch features ``(B, N, vision_dim)``."""
        return self.encoder(pixel_values, interpolate_pos_encoding=interpolate_pos_encoding)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Batched, one picture per image: ``(B, 3, S, S)`` → ``(B, N_out, llm_dim)`` (encoder under ``no_grad``, then the projector)."""
        check_image_batch(pixel_values, "pixel_values", channels=3)
        features = self.encode(pixel_values)                      # (B, N, C), no gradient
        side = self.image_size // self.patch_size
        return self.projector(features, grid=(side, side))        # (B, N_out, llm_dim)

    # ------------------------------------------------------------------ one image, end to end
    def encode_image(self, image):
        """One PIL image → ``(tokens (N, llm_dim), PipelineRecord)``, preprocessing and tiling included."""
        from ._validate import pil_size_hw
        from .preprocess import to_rgb

        image = to_rgb(image)                                                        # upright RGB
        size = pil_size_hw(image)
        S, p = self.image_size, self.patch_size
        side = S // p
        stages = [Stage("image", (3, *size), "(channels, height, width)")]

        if self.tiling == "dynamic":
            grid = self.dynamic.grid(size)
            resized = self.dynamic.target_size(size)
            stages.append(Stage("smart resize", (3, *resized), f"multiples of {self.dynamic.factor}"))
            with torch.no_grad():                                                   # frozen encoder
                features = self.dynamic([image])[0].unsqueeze(0)                   # (1, N, C)
            stages.append(Stage("encoder", tuple(features.shape), f"{grid[0]}x{grid[1]} patches, CLIP positions resized in 2-D"))
            tokens = self.projector(features, grid=grid)[0]                         # (N/4, D)
            stages.append(Stage("projector", tuple(tokens.shape), f"{self.projector_name}"))
            return tokens, PipelineRecord(self.tiling, self.family, size, resized, (1, 1), 1, grid,
                                          tuple(features.shape), tokens.shape[0], stages)

        pixel_values, plan = self.pixel_values(image)
        if plan is None:
            # CLIPImageProcessor: shorter side to S (the longer one int(S * long / short)), then a centre crop.
            short, long = min(size), max(size)
            resized = (S, int(S * long / short)) if size[0] <= size[1] else (int(S * long / short), S)
            tile_grid = (1, 1)
            stages.append(Stage("resize", (3, *resized), "shorter side to the encoder's size"))
            stages.append(Stage("centre crop", (3, S, S), f"keeps {short / long:.0%} of the image"))
        else:
            tile_grid, resized = plan.grid, plan.resized
            note = {"naive": "naive grid, stretched; thumbnail last",
                    "llava-next": "base image first, then crops of the padded resize",
                    "internvl": "stretched to the grid; thumbnail last if > 1 tile"}[self.tiling]
            stages.append(Stage(f"tiles {tile_grid[0]}x{tile_grid[1]}", tuple(pixel_values.shape), note))

        features = self.encode(pixel_values)                                         # (T, N, C)
        stages.append(Stage("encoder", tuple(features.shape), f"{side}x{side} patches per picture"))
        projected = self.projector(features, grid=(side, side))                      # (T, N', D)
        stages.append(Stage("projector", tuple(projected.shape), self.projector_name))
        if self.tiling == "llava-next":
            from .tiling import llava_next_pack

            tokens = llava_next_pack(projected, plan, self.image_newline)            # (N_tokens, D)
            stages.append(Stage("unpad + newline", tuple(tokens.shape), "LLaVA-NeXT pack_image_features"))
        else:
            tokens = projected.reshape(-1, self.llm_dim)                             # (T·N', D)
            stages.append(Stage("concatenate", tuple(tokens.shape), "pictures one after another"))
        return tokens, PipelineRecord(self.tiling, self.family, size, tuple(resized), tuple(tile_grid),
                                      pixel_values.shape[0], (side, side), tuple(features.shape), tokens.shape[0],
                                      stages)

    def extra_repr(self) -> str:
        return f"tiling={self.tiling!r}, family={self.family!r}, llm_dim={self.llm_dim}, projector={self.projector_name!r}"
