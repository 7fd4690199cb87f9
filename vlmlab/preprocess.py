"""Turning a picture into CLIP's input tensor: resize, crop, normalise — and the document variant.

CLIP (Radford et al. 2021, https://arxiv.org/abs/2103.00020) was trained on
``image_size x image_size`` squares: at inference the shorter side is resized
to ``image_size`` (bicubic), the centre square is cut out, and each channel is
normalised with CLIP's mean and standard deviation. Whatever lies outside the
centre square is lost, and so is detail smaller than one ``image_size``-th of
the shorter side.

``clip_transform(train=False)`` gives the same ``pixel_values`` as
``transformers.CLIPImageProcessor`` (``models/clip/image_processing_clip.py``,
the torchvision backend in ``image_processing_backends.TorchvisionBackend``)
with ``size={"shortest_edge": s}, crop_size={"height": s, "width": s}``:
both resize the uint8 image with torchvision's antialiased bicubic. One
difference had to be handled: ``transformers`` places the centre crop at
``int((H - s) / 2)`` (rounds down) while ``torchvision.transforms.v2.CenterCrop``
uses ``int(round((H - s) / 2))`` (rounds half to even), one pixel apart when the
margin ``H - s`` is odd and ``(H - s) // 2`` is odd; ``CenterCropFloor`` below
rounds down like ``transformers`` (tests/test_preprocess.py checks many sizes).

``document_transform`` is the seed's document pipeline (aspect-preserving
LANCZOS resize, sharpening, white padding to a centred square);
``expand_to_square`` is LLaVA-1.5's ``image_aspect_ratio="pad"``
(``llava/mm_utils.py: expand2square``) with the CLIP mean colour.
"""

from __future__ import annotations

import numbers

from ._validate import as_positive_int, pil_size_hw

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "MAX_ASPECT_RATIO",
    "MAX_IMAGE_PIXELS",
    "CenterCropFloor",
    "ToRGB",
    "clip_transform",
    "denormalize",
    "document_transform",
    "expand_to_square",
    "to_rgb",
]

# OpenAI CLIP's per-channel statistics of its training images (transformers' OPENAI_CLIP_MEAN / _STD).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Refuse before allocating: PIL's own decompression-bomb limit (about 89.5 million pixels, ~9459²).
MAX_IMAGE_PIXELS = 89_478_485
# Beyond this, a shortest-edge resize would make a gigantic strip (1x5000 -> 224x1120000) and the
# centre crop would keep almost nothing; Qwen2-VL's smart_resize refuses the same ratio.
MAX_ASPECT_RATIO = 200


def to_rgb(image, name: str = "image"):
    """A PIL image as RGB, after checking its size; the conversion rules of ``vlmlab.data.load_image``.

    Refuses (``ValueError``) zero-sized images and images over
    ``MAX_IMAGE_PIXELS`` *before* converting them, so a 20000x20000 picture
    fails fast instead of allocating gigabytes. Then ``vlmlab.data.to_rgb``'s
    rules: 16-bit scaled, alpha composited on white, any mode to RGB. (EXIF
    orientation is applied when a file is read, by ``vlmlab.data.load_image``;
    an image already in memory is taken as it stands.)
    """
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise TypeError(
            f"{name} must be a PIL.Image.Image (load files with vlmlab.data.load_image), got {type(image).__name__}"
        )
    height, width = pil_size_hw(image)
    if height <= 0 or width <= 0:
        raise ValueError(f"{name} has an empty size (height, width) = {(height, width)}; need at least 1x1 pixels")
    if height * width > MAX_IMAGE_PIXELS:
        raise ValueError(
            f"{name} is {height}x{width} (height x width) = {height * width:,} pixels, over the limit of "
            f"{MAX_IMAGE_PIXELS:,} (PIL's decompression-bomb limit); downscale it first, e.g. with image.reduce(k)"
        )
    if image.mode == "RGB":
        return image  # nothing to convert; never modified in place downstream
    from .data import to_rgb as data_to_rgb

    return data_to_rgb(image)


class ToRGB:
    """Transform step: PIL image -> checked RGB PIL image (``to_rgb``); refuses over-elongated images."""

    def __init__(self, max_aspect_ratio: float = MAX_ASPECT_RATIO):
        self.max_aspect_ratio = max_aspect_ratio

    def __call__(self, image):
        image = to_rgb(image)
        ratio = max(image.size) / min(image.size)
        if ratio > self.max_aspect_ratio:
            raise ValueError(
                f"image aspect ratio {ratio:.1f} ((height, width) = {pil_size_hw(image)}) is over the limit of "
                f"{self.max_aspect_ratio}: a shortest-edge resize would make a huge strip and the centre crop would "
                "keep almost nothing; crop or tile the image first (vlmlab.tiling)"
            )
        return image

    def __repr__(self):
        return f"{type(self).__name__}(max_aspect_ratio={self.max_aspect_ratio})"


class CenterCropFloor:
    """Centre crop to ``size x size`` with the offset rounded *down*, as ``transformers``' image processors.

    ``torchvision``'s ``CenterCrop`` rounds ``(H - size) / 2`` to the nearest
    integer (half to even); on an odd margin such as 225 - 224 = 1 both agree
    (0.5 -> 0), but on 227 - 224 = 3, torchvision starts at row 2 and
    transformers at row 1.
    """

    def __init__(self, size: int):
        self.size = as_positive_int(size, "size")

    def __call__(self, image):
        from torchvision.transforms.v2 import functional as tvF

        height, width = image.shape[-2:]
        if height < self.size or width < self.size:
            raise ValueError(f"CenterCropFloor: image {(height, width)} is smaller than the crop {self.size}")
        top, left = (height - self.size) // 2, (width - self.size) // 2
        return tvF.crop(image, top, left, self.size, self.size)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


def clip_transform(image_size: int = 224, train: bool = False):
    """CLIP's preprocessing as a ``torchvision.transforms.v2.Compose``: PIL image -> ``(3, S, S)`` float tensor.

    ``train=False`` (evaluation): bicubic resize of the shorter side to
    ``image_size``, centre crop, normalise — equal to
    ``transformers.CLIPImageProcessor`` with the same sizes (within float
    rounding). ``train=True``: the seed's light augmentation,
    ``RandomResizedCrop(scale=(0.9, 1.0))`` and a horizontal flip.
    """
    import torch
    from torchvision.transforms import v2

    image_size = as_positive_int(image_size, "image_size")
    bicubic = v2.InterpolationMode.BICUBIC
    if train:
        geometry = [
            v2.RandomResizedCrop(image_size, scale=(0.9, 1.0), interpolation=bicubic, antialias=True),
            v2.RandomHorizontalFlip(),
        ]
    else:
        geometry = [v2.Resize(image_size, interpolation=bicubic, antialias=True), CenterCropFloor(image_size)]
    return v2.Compose([
        ToRGB(),
        v2.PILToTensor(),  # (3, H, W) uint8: resize on uint8, as transformers does
        *geometry,
        v2.ToDtype(torch.float32, scale=True),  # [0, 255] -> [0, 1]
        v2.Normalize(mean=list(CLIP_MEAN), std=list(CLIP_STD)),
    ])


def document_transform(image, target_size: int = 1024, sharpen: bool = True):
    """The seed's document pipeline: fit the longer side to ``target_size`` (LANCZOS), sharpen, pad white to a square.

    The image is centred; the seed's ``int()`` sizes are kept but never drop
    below one pixel (a 1x5000 strip would otherwise become 0 pixels wide).
    Returns an RGB PIL image of ``target_size x target_size``.
    """
    from PIL import Image, ImageFilter

    target_size = as_positive_int(target_size, "target_size")
    image = ToRGB(max_aspect_ratio=float("inf"))(image)
    width, height = image.size
    scale = target_size / max(width, height)
    new_w, new_h = max(1, int(width * scale)), max(1, int(height * scale))
    image = image.resize((new_w, new_h), Image.LANCZOS)
    if sharpen:
        image = image.filter(ImageFilter.SHARPEN)
    padded = Image.new("RGB", (target_size, target_size), (255, 255, 255))
    padded.paste(image, ((target_size - new_w) // 2, (target_size - new_h) // 2))
    return padded


def expand_to_square(image, background=None):
    """Pad the shorter side so the image becomes square, centred (LLaVA-1.5's ``expand2square``).

    ``background`` defaults to CLIP's mean colour, ``(122, 116, 104)``, which
    normalises to zero, so the padding carries no signal.
    """
    from PIL import Image

    image = to_rgb(image)
    if background is None:
        background = tuple(int(m * 255) for m in CLIP_MEAN)
    elif not (isinstance(background, (tuple, list)) and len(background) == 3
              and all(isinstance(v, numbers.Integral) and 0 <= v <= 255 for v in background)):
        raise ValueError(f"background must be an (r, g, b) triple of ints in 0..255, got {background!r}")
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    result = Image.new("RGB", (side, side), tuple(background))
    result.paste(image, ((side - width) // 2, (side - height) // 2))
    return result


def denormalize(pixel_values, mean=CLIP_MEAN, std=CLIP_STD):
    """Undo the normalisation: ``(..., 3, H, W)`` normalised values -> values in ``[0, 1]`` (clamped)."""
    import torch

    if not isinstance(pixel_values, torch.Tensor):
        raise TypeError(f"pixel_values must be a torch.Tensor shaped (..., 3, H, W), got {type(pixel_values).__name__}")
    if pixel_values.ndim < 3 or pixel_values.shape[-3] != len(mean):
        raise ValueError(f"pixel_values must be (..., {len(mean)}, H, W), got shape {tuple(pixel_values.shape)}")
    m = torch.tensor(mean, dtype=pixel_values.dtype, device=pixel_values.device).view(-1, 1, 1)
    s = torch.tensor(std, dtype=pixel_values.dtype, device=pixel_values.device).view(-1, 1, 1)
    return (pixel_values * s + m).clamp(0.0, 1.0)
