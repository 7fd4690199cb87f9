"""Load a CLIP (the bundled toy one or a real one) and read its vision tower like a VLM does.

``load_clip()`` returns ``(CLIPModel, CLIPProcessor)``; with no argument it
loads the toy CLIP that this repository trains and ships in ``data/toy-clip``
(see ``vlmlab.toyclip``; ``vlmlab.data.data_dir`` finds the folder), so
everything works offline. A Hub name such as
``"openai/clip-vit-base-patch16"`` or a local folder goes through the very
same ``from_pretrained`` calls. The environment variable ``VLMLAB_CLIP`` sets
the default. When the Hub can't be reached, ``HubUnavailableError`` says so
within seconds (the one rule of :func:`vlmlab.envcheck.hub_offline_reason`:
the offline switches, then a short TCP connection) instead of letting
``from_pretrained`` retry for minutes.

``VLMVisionEncoder`` wraps a frozen CLIP vision tower as a VLM reads it. A
common first implementation returns ``last_hidden_state``, the last layer,
whose features are shaped by CLIP's contrastive objective on the CLS token;
LLaVA-1.5 reads the *penultimate* layer instead (``feature_layer=-2``), patch
tokens only (``select="patch"``; ``"cls_patch"`` keeps CLS). Checked against
LLaVA's ``CLIPVisionTower.feature_select``
(llava/model/multimodal_encoder/clip_encoder.py: ``image_forward_outs.hidden_states[self.select_layer]``,
then ``[:, 1:]`` for ``"patch"``) and transformers'
``LlavaModel.get_image_features`` (``vision_feature_layer=-2``,
``vision_feature_select_strategy="default"`` drops CLS).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ._validate import as_int_in_range, check_choice, check_image_batch

from .data import TOY_CLIP, TOY_CLIP_2, TRAIN_COMMANDS, DataNotFoundError, data_dir, toy_model_dir
from .envcheck import hub_offline_reason

ENV_VAR = "VLMLAB_CLIP"
# TOY_CLIP_PATH (single shapes at absolute positions, vlmlab.toyclip) and TOY_CLIP_2_PATH (scenes of
# ShapesWorld 2, vlmlab.sceneclip) are read when used, from vlmlab.data, so that they follow $VLMLAB_DATA.
_TOY_PATHS = {"TOY_CLIP_PATH": TOY_CLIP, "TOY_CLIP_2_PATH": TOY_CLIP_2}


def __getattr__(name: str):
    # PEP 562: vlmlab.clip.TOY_CLIP_PATH is the toy CLIP's folder in today's data folder.
    if name in _TOY_PATHS:
        return toy_model_dir(_TOY_PATHS[name], check=False)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _projected(output) -> torch.Tensor:
    # transformers 4 returns the projected embeddings as a tensor; transformers 5 returns an
    # output object whose ``pooler_output`` holds them. Both are handled here, once.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def image_embeddings(model, pixel_values: torch.Tensor, normalise: bool = True) -> torch.Tensor:
    """CLIP's image embeddings ``(B, projection_dim)`` for ``pixel_values (B, 3, H, W)``.

    ``model.get_image_features``: the pooled CLS token after ``visual_projection``;
    L2-normalised when ``normalise`` (what zero-shot compares with cosine similarity).
    """
    emb = _projected(model.get_image_features(pixel_values=pixel_values))
    return nn.functional.normalize(emb, dim=-1) if normalise else emb


def text_embeddings(model, input_ids: torch.Tensor, attention_mask=None, normalise: bool = True) -> torch.Tensor:
    """CLIP's text embeddings ``(B, projection_dim)`` for tokenised captions ``input_ids (B, L)``.

    ``model.get_text_features``: the end-of-text token's final state after
    ``text_projection``; L2-normalised when ``normalise``.
    """
    emb = _projected(model.get_text_features(input_ids=input_ids, attention_mask=attention_mask))
    return nn.functional.normalize(emb, dim=-1) if normalise else emb


class HubUnavailableError(OSError):
    """The Hugging Face Hub can't be reached and the model isn't in the local cache."""


def default_clip_name() -> str:
    """``$VLMLAB_CLIP`` if set, else the bundled toy CLIP's folder (``DataNotFoundError`` if it is missing)."""
    return os.environ.get(ENV_VAR) or str(toy_model_dir(TOY_CLIP))


def _looks_like_a_path(name: str) -> bool:
    """Spelled like a folder rather than a Hub id ``"org/name"``.

    A path starts with ``.``, ``/`` or ``~``, contains a backslash or more than
    one ``/``, or names the repository's ``data/`` folder; a Hub id has at most
    one ``/``.
    """
    return (
        name.startswith((".", "/", "~"))
        or "\\" in name
        or name.count("/") > 1
        or name.split("/")[0] == "data"
    )


def vision_tower(model):
    """The vision transformer inside ``model``: follow ``.vision_model`` to its end.

    ``CLIPModel``, ``CLIPVisionModel``, ``CLIPVisionModelWithProjection``,
    :class:`VLMVisionEncoder` and a toy VLM's ``model.model.vision_tower`` all
    hold it as ``.vision_model`` (transformers 5 flattened ``CLIPVisionModel``,
    which may then be the transformer itself); the result has ``embeddings``,
    ``encoder`` and ``post_layernorm``.
    """
    tower = model
    while hasattr(tower, "vision_model"):
        tower = tower.vision_model
    return tower


def _carries_weights_of(model, checkpoint: Path) -> bool:
    """Whether ``model``'s vision tower holds the learned CLS embedding stored in ``checkpoint``'s safetensors file."""
    embeddings = getattr(vision_tower(model), "embeddings", None)
    cls = getattr(embeddings, "class_embedding", None)
    weights = checkpoint / "model.safetensors"
    if not isinstance(cls, torch.Tensor) or cls.is_meta or not weights.exists():
        return False
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as f:
        stored = f.get_tensor("vision_model.embeddings.class_embedding")
    ours = cls.detach().to("cpu", torch.float32)
    return ours.shape == stored.shape and torch.allclose(ours, stored.float(), rtol=1e-2, atol=1e-3)


def is_toy_clip(model) -> bool:
    """Whether ``model`` carries the bundled toy CLIP's vision weights (``data/toy-clip``, single shapes).

    ``model``: a ``CLIPModel``, a ``CLIPVisionModel``, the vision transformer
    inside either (``model.vision_model``) or a :class:`VLMVisionEncoder`.
    The test compares the tower's learned CLS embedding with the one in the toy
    checkpoint's safetensors file (a fingerprint of the trained weights), so it
    holds whatever way, dtype or class the model was loaded with; a model with
    the toy's shape but other weights is not the toy. Notebooks use it to skip, saying why,
    the cells that check the toy model's *trained* behaviour (its zero-shot
    accuracy on shapes, say) when ``VLMLAB_CLIP`` points at another checkpoint.
    Toy CLIP 2 is not toy CLIP 1: ask :func:`is_toy_clip_2` about it.
    """
    return _carries_weights_of(model, toy_model_dir(TOY_CLIP, check=False))


def is_toy_clip_2(model) -> bool:
    """Whether ``model`` carries toy CLIP 2's vision weights (``data/toy-clip-2``, scenes of ShapesWorld 2).

    The same fingerprint test as :func:`is_toy_clip`, against
    ``TOY_CLIP_2_PATH``; it accepts the same kinds of ``model``. Notebooks
    built on :func:`load_scene_clip` use it to run the cells that check toy
    CLIP 2's trained behaviour (held-out zero-shot, hard negatives) only for it.
    """
    return _carries_weights_of(model, toy_model_dir(TOY_CLIP_2, check=False))


def _toy_folders() -> dict[Path, str]:
    """``{resolved folder: toy name}`` for the two toy CLIPs in today's data folder (empty when there is none)."""
    try:
        return {toy_model_dir(name, check=False).resolve(): name for name in (TOY_CLIP, TOY_CLIP_2)}
    except DataNotFoundError:
        return {}


def _local_folder(name: str) -> Path | None:
    """The checkpoint folder ``name`` names, None for a Hub id; a clear error for a path that isn't there."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            toy = _toy_folders().get(path.resolve())
            hint = f" Train it again with `{TRAIN_COMMANDS[toy]}`." if toy else ""
            raise FileNotFoundError(
                f"no CLIP checkpoint in the folder {str(path)!r}: it has no config.json "
                f"(a checkpoint folder is what save_pretrained writes).{hint}")
        return path
    if path.exists():
        raise FileNotFoundError(f"name_or_path {name!r} is a file; a CLIP checkpoint is a folder written by save_pretrained")
    if not _looks_like_a_path(name):
        return None
    where = str(path) if path.is_absolute() else f"{name!r} relative to the current directory {os.getcwd()!r}"
    hint = ""
    parts = Path(name).parts
    if not path.is_absolute() and parts[0] == "data" and len(parts) > 1:  # e.g. "data/toy-clip" typed in notebooks/
        try:
            in_data = data_dir().joinpath(*parts[1:])
        except DataNotFoundError:
            in_data = None
        if in_data is not None and in_data.is_dir():
            hint = f" It exists in vlmlab's data folder: pass {str(in_data)!r}"
            hint += {TOY_CLIP: ", or call load_clip() with no argument for the toy CLIP.",
                     TOY_CLIP_2: ", or call load_scene_clip() for toy CLIP 2.",
                     }.get(_toy_folders().get(in_data.resolve()), ".")
    raise FileNotFoundError(
        f"no folder {where}. name_or_path looks like a path, so it was not looked up on the Hugging Face Hub "
        f"(a Hub name is 'org/name').{hint}")


def load_clip(name_or_path=None, **kwargs):
    """Load ``(CLIPModel, CLIPProcessor)`` from the toy checkpoint, a local folder or the Hub.

    Args:
        name_or_path: ``None`` (default) → ``$VLMLAB_CLIP`` or the bundled toy
            CLIP (``TOY_CLIP_PATH``, in ``vlmlab.data.data_dir()``); a local folder written by
            ``save_pretrained``; or a Hub name such as
            ``"openai/clip-vit-base-patch16"`` / ``"openai/clip-vit-large-patch14-336"``.
        **kwargs: passed to ``CLIPModel.from_pretrained`` (for example
            ``attn_implementation="eager"`` to get attention maps).

    Returns:
        ``(model, processor)``; the model is in eval mode.

    An existing folder is a local checkpoint. A name spelled like a path
    (starting with ``.``, ``/`` or ``~``, with a backslash, more than one ``/``,
    or under ``data/``) that does not exist is an error, never a Hub lookup;
    ``"org/name"`` is a Hub name.

    Raises:
        TypeError: ``name_or_path`` is neither None, a str nor a Path.
        ValueError: an empty name.
        FileNotFoundError: a path that doesn't exist (the message says relative
            to which directory), or a folder without ``config.json``.
        vlmlab.data.DataNotFoundError (a ``FileNotFoundError``): the default
            toy CLIP is not in vlmlab's data folder; the message says where it
            looked and how to get it.
        HubUnavailableError: a Hub name while the Hub can't be reached and the
            model is not cached; raised within seconds, never hangs.
    """
    from transformers import CLIPModel, CLIPProcessor

    name = default_clip_name() if name_or_path is None else name_or_path
    if isinstance(name, Path):
        name = str(name)
    if not isinstance(name, str):
        raise TypeError(f"name_or_path must be None, a folder path or a Hub model name (str), got {name_or_path!r}")
    if not name.strip():
        raise ValueError(f"name_or_path must be a folder path or a Hub model name such as "
                         f"'openai/clip-vit-base-patch16', got {name_or_path!r}")
    folder = _local_folder(name)
    if folder is not None:
        model = CLIPModel.from_pretrained(folder, **kwargs)
        processor = CLIPProcessor.from_pretrained(folder)
        return model.eval(), processor

    reason = hub_offline_reason()
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


def load_scene_clip(**kwargs):
    """Load toy CLIP 2 (``data/toy-clip-2``), or the checkpoint ``$VLMLAB_CLIP`` names.

    :func:`load_clip` with ``$VLMLAB_CLIP`` if it is set, else ``TOY_CLIP_2_PATH``:
    the notebooks built on scenes (02's attention maps, 04) call this, so that
    the one switch that moves every notebook to a real CLIP moves them too,
    while ``load_clip()`` keeps returning the first toy CLIP by default.
    ``**kwargs`` go to ``CLIPModel.from_pretrained`` (e.g.
    ``attn_implementation="eager"``). Returns ``(model, processor)``, the
    model in eval mode; raises what :func:`load_clip` raises.
    """
    return load_clip(os.environ.get(ENV_VAR) or str(toy_model_dir(TOY_CLIP_2)), **kwargs)


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
        self.feature_layer = as_int_in_range(
            feature_layer, "feature_layer", -(n_layers + 1), n_layers,
            f" (an index into the {n_layers + 1} hidden_states of this {n_layers}-layer tower)",
        )
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
        """PIL image(s) → ``pixel_values`` with this encoder's processor, after vlmlab's one image rule.

        ``preprocess.to_rgb`` first (EXIF orientation, size limits, modes), since
        the Hugging Face processor would read a phone photo sideways.
        """
        from .preprocess import to_rgb

        if self.processor is None:
            raise ValueError("this encoder was built from a model object without a processor; pass pixel_values")
        images = [to_rgb(im, f"images[{i}]") for i, im in enumerate(images)] if isinstance(images, (list, tuple)) \
            else to_rgb(images)
        return self.processor(images=images, return_tensors="pt").pixel_values

    def extra_repr(self) -> str:
        return (
            f"image_size={self.image_size}, patch_size={self.patch_size}, grid={self.grid}, "
            f"output_dim={self.output_dim}, feature_layer={self.feature_layer}, select={self.select!r}, frozen={self.frozen}"
        )
