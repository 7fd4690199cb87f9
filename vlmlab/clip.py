"""Load a CLIP (the bundled toy one or a real one) and read its vision tower like a VLM does.

``load_clip()`` returns ``(CLIPModel, CLIPProcessor)``; with no argument it
loads the toy CLIP that this repository trains and ships in ``data/toy-clip``
(see ``vlmlab.toyclip``), so everything works offline. A Hub name such as
``"openai/clip-vit-base-patch16"`` or a local folder goes through the very
same ``from_pretrained`` calls. The environment variable ``VLMLAB_CLIP`` sets
the default. When the Hub can't be reached, ``HubUnavailableError`` says so
within seconds (it checks ``HF_HUB_OFFLINE`` and a 3-second TCP connection
first) instead of letting ``from_pretrained`` retry for minutes.

``VLMVisionEncoder`` is the seed's frozen-encoder wrapper, corrected to read
CLIP the way LLaVA-1.5 does: the features of the *penultimate* layer
(``feature_layer=-2``), patch tokens only (``select="patch"``; ``"cls_patch"``
keeps CLS). Checked against LLaVA's ``CLIPVisionTower.feature_select``
(llava/model/multimodal_encoder/clip_encoder.py: ``image_forward_outs.hidden_states[self.select_layer]``,
then ``[:, 1:]`` for ``"patch"``) and transformers'
``LlavaModel.get_image_features`` (``vision_feature_layer=-2``,
``vision_feature_select_strategy="default"`` drops CLS).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from ._validate import check_choice, check_image_batch

from .data import DATA_DIR

TOY_CLIP_PATH = DATA_DIR / "toy-clip"
ENV_VAR = "VLMLAB_CLIP"
HUB_TIMEOUT_S = 3.0


def _projected(output) -> torch.Tensor:
    # transformers 4 returns the projected embeddings as a tensor; transformers 5 returns an
    # output object whose ``pooler_output`` holds them. Both are handled here, once.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def image_embeddings(model, pixel_values: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """CLIP's image embeddings ``(B, projection_dim)`` for ``pixel_values (B, 3, H, W)``.

    ``model.get_image_features``: the pooled CLS token after ``visual_projection``;
    L2-normalised when ``normalize`` (what zero-shot compares with cosine similarity).
    """
    emb = _projected(model.get_image_features(pixel_values=pixel_values))
    return nn.functional.normalize(emb, dim=-1) if normalize else emb


def text_embeddings(model, input_ids: torch.Tensor, attention_mask=None, normalize: bool = True) -> torch.Tensor:
    """CLIP's text embeddings ``(B, projection_dim)`` for tokenised captions ``input_ids (B, L)``.

    ``model.get_text_features``: the end-of-text token's final state after
    ``text_projection``; L2-normalised when ``normalize``.
    """
    emb = _projected(model.get_text_features(input_ids=input_ids, attention_mask=attention_mask))
    return nn.functional.normalize(emb, dim=-1) if normalize else emb


class HubUnavailableError(OSError):
    """The Hugging Face Hub can't be reached and the model isn't in the local cache."""


def default_clip_name() -> str:
    """``$VLMLAB_CLIP`` if set, else the bundled toy CLIP's folder."""
    return os.environ.get(ENV_VAR) or str(TOY_CLIP_PATH)


def _hub_offline_reason(timeout: float = HUB_TIMEOUT_S) -> str | None:
    """Why the Hub can't be used right now, or None when it answers a TCP connection."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return f"{var}={os.environ[var]} is set (offline mode)"
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    url = urlparse(endpoint)
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme != "http" else 80)
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        waited = time.monotonic() - start
        return f"no network: connecting to {host}:{port} failed after {waited:.1f} s ({err.__class__.__name__}: {err})"


def _looks_local(name: str) -> bool:
    """A folder (existing, or spelled like a path) rather than a Hub id ``"org/name"``."""
    return (
        Path(name).expanduser().exists()
        or name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or "\\" in name
    )


def is_toy_clip(model) -> bool:
    """Whether ``model`` (a CLIPModel, CLIPVisionModel or anything with a ``config``) is the bundled toy CLIP.

    Notebooks use it to skip, saying why, the cells that check the toy model's
    *trained* behaviour (its zero-shot accuracy on shapes, say) when
    ``VLMLAB_CLIP`` points at another checkpoint.
    """
    config = getattr(model, "config", None)
    source = getattr(config, "_name_or_path", "") or ""
    return bool(source) and Path(source).expanduser().resolve() == TOY_CLIP_PATH.resolve()


def load_clip(name_or_path=None, **kwargs):
    """Load ``(CLIPModel, CLIPProcessor)`` from the toy checkpoint, a local folder or the Hub.

    Args:
        name_or_path: ``None`` (default) → ``$VLMLAB_CLIP`` or the bundled toy
            CLIP (``TOY_CLIP_PATH``); a local folder written by
            ``save_pretrained``; or a Hub name such as
            ``"openai/clip-vit-base-patch16"`` / ``"openai/clip-vit-large-patch14-336"``.
        **kwargs: passed to ``CLIPModel.from_pretrained`` (for example
            ``attn_implementation="eager"`` to get attention maps).

    Returns:
        ``(model, processor)``; the model is in eval mode.

    Raises:
        FileNotFoundError: a local path that doesn't exist.
        HubUnavailableError: a Hub name while the Hub can't be reached and the
            model is not cached; raised within seconds, never hangs.
    """
    from transformers import CLIPModel, CLIPProcessor

    name = default_clip_name() if name_or_path is None else name_or_path
    if isinstance(name, Path):
        name = str(name)
    if not isinstance(name, str) or not name:
        raise TypeError(f"name_or_path must be None, a folder path or a Hub model name, got {name_or_path!r}")
    if _looks_local(name):
        path = Path(name).expanduser()
        if not (path / "config.json").exists():
            hint = (
                " Train the toy CLIP with `python -m vlmlab.toyclip train`."
                if path.resolve() == TOY_CLIP_PATH.resolve()
                else ""
            )
            raise FileNotFoundError(f"no CLIP checkpoint at {str(path)!r} (no config.json in that folder).{hint}")
        model = CLIPModel.from_pretrained(path, **kwargs)
        processor = CLIPProcessor.from_pretrained(path)
        return model.eval(), processor

    reason = _hub_offline_reason()
    if reason is None:
        model = CLIPModel.from_pretrained(name, **kwargs)
        processor = CLIPProcessor.from_pretrained(name)
        return model.eval(), processor
    try:  # the Hub is out of reach: the local cache may still have it
        model = CLIPModel.from_pretrained(name, local_files_only=True, **kwargs)
        processor = CLIPProcessor.from_pretrained(name, local_files_only=True)
        return model.eval(), processor
    except OSError:
        raise HubUnavailableError(
            f"cannot load {name!r}: the Hugging Face Hub can't be reached ({reason}) and the model is not in "
            f"the local Hugging Face cache. Use the bundled toy CLIP instead: call load_clip() with no argument "
            f"(and unset {ENV_VAR}), or pass a local folder saved with save_pretrained; or download the model "
            f"once on a machine with network access (huggingface-cli download {name})."
        ) from None


class VLMVisionEncoder(nn.Module):
    """A (frozen) CLIP vision tower that returns the patch features a VLM reads.

    Args:
        model_name_or_path: anything ``load_clip`` accepts (None → toy CLIP),
            or an already loaded ``CLIPModel`` / ``CLIPVisionModel``.
        freeze: set ``requires_grad=False`` on every parameter (default), as
            LLaVA does in both training stages.
        feature_layer: which entry of ``hidden_states`` to read; ``-2`` (the
            penultimate layer, LLaVA-1.5's ``mm_vision_select_layer``) by
            default, ``-1`` is the last layer (= ``last_hidden_state``).
            ``hidden_states[0]`` is the embedding output (after ``pre_layrnorm``).
        select: ``"patch"`` drops the CLS token (LLaVA's default),
            ``"cls_patch"`` keeps it.

    Attributes: ``vision_model`` (HF ``CLIPVisionModel``), ``processor``
    (``CLIPProcessor`` or None), ``visual_projection`` (the CLIP projection to
    the joint text-image space, or None), ``output_dim`` (D), ``image_size``,
    ``patch_size``, ``grid`` (rows, cols), ``num_patches`` (rows·cols).
    """

    def __init__(self, model_name_or_path=None, freeze: bool = True, feature_layer: int = -2, select: str = "patch"):
        super().__init__()
        from transformers import CLIPModel, CLIPVisionModel

        self.select = check_choice(select, ("patch", "cls_patch"), "select")
        processor = None
        if isinstance(model_name_or_path, CLIPModel):
            model = model_name_or_path
        elif isinstance(model_name_or_path, CLIPVisionModel):
            model = None
            self.vision_model = model_name_or_path
        elif isinstance(model_name_or_path, nn.Module):
            raise TypeError(
                f"model_name_or_path must be None, a path, a Hub name, a CLIPModel or a CLIPVisionModel, "
                f"got {type(model_name_or_path).__name__}"
            )
        else:
            model, processor = load_clip(model_name_or_path)
        if model is not None:
            self.vision_model = model.vision_model
            self.visual_projection = model.visual_projection
        else:
            self.visual_projection = None
        self.processor = processor

        config = self.vision_model.config
        n_layers = config.num_hidden_layers
        if isinstance(feature_layer, bool) or not isinstance(feature_layer, int) or not -(n_layers + 1) <= feature_layer <= n_layers:
            raise ValueError(
                f"feature_layer must be an int in [{-(n_layers + 1)}, {n_layers}] (an index into the "
                f"{n_layers + 1} hidden_states of this {n_layers}-layer tower), got {feature_layer!r}"
            )
        self.feature_layer = feature_layer
        self.output_dim = int(config.hidden_size)
        self.image_size = int(config.image_size)
        self.patch_size = int(config.patch_size)
        self.grid = (self.image_size // self.patch_size, self.image_size // self.patch_size)
        self.num_patches = self.grid[0] * self.grid[1]
        self.frozen = bool(freeze)
        if freeze:
            self.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True):
        # A frozen tower stays in eval mode, as LLaVA keeps it.
        return super().train(mode and not self.frozen)

    @property
    def dtype(self) -> torch.dtype:
        return self.vision_model.embeddings.patch_embedding.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.vision_model.embeddings.patch_embedding.weight.device

    def _hidden(self, pixel_values, interpolate_pos_encoding: bool):
        check_image_batch(pixel_values, "pixel_values", channels=3)
        if not interpolate_pos_encoding:
            h, w = pixel_values.shape[-2:]
            if (h, w) != (self.image_size, self.image_size):
                raise ValueError(
                    f"pixel_values must be {self.image_size}x{self.image_size} for this encoder, got {h}x{w}; "
                    f"resize with the processor, or pass interpolate_pos_encoding=True to interpolate CLIP's "
                    f"position table to the new grid"
                )
        out = self.vision_model(
            pixel_values=pixel_values.to(dtype=self.dtype, device=self.device),
            output_hidden_states=True,
            interpolate_pos_encoding=interpolate_pos_encoding,
        )
        return out.hidden_states[self.feature_layer]  # (B, 1+N, D)

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        """``(B, 3, H, W)`` → ``(B, N, D)`` patch features (``(B, 1+N, D)`` with ``select="cls_patch"``)."""
        feats = self._hidden(pixel_values, interpolate_pos_encoding)  # (B, 1+N, D)
        return feats[:, 1:] if self.select == "patch" else feats

    def forward_with_cls(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        """``(B, 3, H, W)`` → ``(B, 1+N, D)``: CLS first, then the patch tokens in row-major order."""
        return self._hidden(pixel_values, interpolate_pos_encoding)

    def preprocess(self, images) -> torch.Tensor:
        """PIL image(s) → ``pixel_values`` with this encoder's processor."""
        if self.processor is None:
            raise ValueError("this encoder was built from a model object without a processor; pass pixel_values")
        return self.processor(images=images, return_tensors="pt").pixel_values

    def extra_repr(self) -> str:
        return (
            f"image_size={self.image_size}, patch_size={self.patch_size}, grid={self.grid}, "
            f"output_dim={self.output_dim}, feature_layer={self.feature_layer}, select={self.select!r}, frozen={self.frozen}"
        )
