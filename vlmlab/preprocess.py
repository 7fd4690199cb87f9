"""Turning a picture into an encoder's input: one image rule, one tensor rule, CLIP's transform, documents.

Every public function in vlmlab that takes a picture first passes it through
``to_rgb``: the image is turned upright (its EXIF orientation applied), refused
when empty or larger than ``PIL.Image.MAX_IMAGE_PIXELS`` (read at each call,
so raising it works; ``None`` turns the check off), and converted to 8-bit RGB
(16-bit scaled, transparency composited on white). ``to_uint8_tensor`` makes
that a ``(3, H, W)`` uint8 tensor and ``normalise`` the encoder's float input.

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

``document_transform`` is a common document pipeline (aspect-preserving
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
    "CenterCropFloor",
    "Normalize",
    "ToUint8Tensor",
    "check_image_size",
    "clip_transform",
    "denormalise",
    "document_transform",
    "exif_orientation",
    "expand_to_square",
    "image_mean_std",
    "normalise",
    "resize_bicubic",
    "to_rgb",
    "to_uint8_tensor",
]

# OpenAI CLIP's per-channel statistics of its training images (transformers' OPENAI_CLIP_MEAN / _STD).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Beyond this, a shortest-edge resize would make a gigantic strip (1x5000 -> 224x1120000) and the
# centre crop would keep almost nothing; Qwen2-VL's smart_resize refuses the same ratio.
MAX_ASPECT_RATIO = 200

# EXIF tag 274 (0x0112) says how the stored pixels must be turned to stand upright (1 = as stored).
EXIF_ORIENTATION_TAG = 0x0112
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I;16S", "I;16BS", "I;16LS")


# ---------------------------------------------------------------------------
# One image rule: any PIL image -> upright 8-bit RGB
# ---------------------------------------------------------------------------


def check_image_size(height: int, width: int, name: str = "image") -> None:
    """Refuse an empty image, or one with more pixels than ``PIL.Image.MAX_IMAGE_PIXELS``.

    The limit is Pillow's decompression-bomb guard (89,478,485 pixels, about
    9459², by default), read when called, so a caller who trusts a larger image
    can raise it; ``None`` turns the check off. Checked *before* any copy is
    made, so a 20000x20000 picture fails fast instead of allocating gigabytes.
    """
    from PIL import Image

    if height <= 0 or width <= 0:
        raise ValueError(f"{name} is empty: (height, width) = {(height, width)}; an image needs at least 1x1 pixels")
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and height * width > limit:
        raise ValueError(
            f"{name} is {height}x{width} (height x width) = {height * width:,} pixels, more than the limit of "
            f"{limit:,} pixels (PIL.Image.MAX_IMAGE_PIXELS). An image this large may be a decompression bomb, "
            "which fills the memory when decoded. If you trust it, shrink it first (image.reduce(k)) or raise "
            "PIL.Image.MAX_IMAGE_PIXELS (None turns the check off)."
        )


def exif_orientation(image) -> int:
    """The EXIF orientation (1..8) stored with ``image``; 1 (upright) when there is none or it is invalid."""
    try:
        value = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
    except Exception:  # a damaged EXIF block must not stop the image from loading
        return 1
    return value if value in range(1, 9) else 1


def _scale_to_uint8(image):
    """A one-channel 16-bit, 32-bit integer or float image as an 8-bit ``L`` image, scaled, not clipped.

    * 16-bit modes (``I;16``, ``I;16B``, ...): 0..65535 -> 0..255, ``round(v / 257)``
      (65535 / 255 = 257 exactly, so 257 -> 1 and 65535 -> 255).
    * ``I`` (32-bit ints, what older Pillows give for 16-bit PNGs): the same when
      every value is in 0..65535; otherwise stretched from min..max to 0..255.
    * ``F`` (floats): values in [0, 1] are multiplied by 255, values in [0, 255]
      are kept, anything else is stretched from min..max; NaN becomes 0.
    """
    import numpy as np
    from PIL import Image

    values = np.asarray(image).astype(np.float64)  # (H, W)
    if image.mode == "F":
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if image.mode in _SIXTEEN_BIT_MODES or (image.mode == "I" and low >= 0 and high <= 65535):
        scaled = values / 257.0
    elif image.mode == "F" and low >= 0 and high <= 1:
        scaled = values * 255.0
    elif image.mode == "F" and low >= 0 and high <= 255:
        scaled = values
    elif high > low:
        scaled = (values - low) * (255.0 / (high - low))
    else:
        scaled = np.zeros_like(values)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def to_rgb(image, name: str = "image"):
    """Any PIL image as a new, upright, 8-bit RGB image: the one image rule of vlmlab.

    In this order:

    * a ``TypeError`` unless ``image`` is a ``PIL.Image.Image``;
    * ``check_image_size``: empty images and images over
      ``PIL.Image.MAX_IMAGE_PIXELS`` are refused (``ValueError``) before any copy;
    * the EXIF orientation is applied (``PIL.ImageOps.exif_transpose``), so a
      phone photo opened with ``Image.open`` stands the right way up and its
      size is the displayed one;
    * modes: ``RGB`` is copied; anything with transparency (``RGBA``, ``LA``,
      ``PA``, ``P`` or ``RGB`` with a transparent colour) is composited on
      white, so transparent pixels show white, as in a browser, not the colour
      stored under them (``convert("RGB")`` would just drop the alpha);
      ``I;16``, ``I``, ``F`` are scaled to 0..255 (``convert`` would clip 16-bit
      values at 255 and turn most photos white); ``1``, ``L``, ``P``, ``CMYK``,
      ``YCbCr``, ``LAB``, ``HSV`` use ``convert("RGB")``.

    ``name`` is how error messages call the argument. The input is never modified.

    >>> from PIL import Image
    >>> to_rgb(Image.new("RGBA", (2, 1), (255, 0, 0, 0))).getpixel((0, 0))  # fully transparent red
    (255, 255, 255)
    >>> to_rgb(Image.new("I;16", (1, 1), 65535)).getpixel((0, 0))          # 16-bit white is white
    (255, 255, 255)
    """
    from PIL import Image, ImageOps

    if not isinstance(image, Image.Image):
        raise TypeError(
            f"{name} must be a PIL.Image.Image, got {type(image).__name__}; open files with vlmlab.data.load_image"
        )
    check_image_size(*pil_size_hw(image), name)
    if exif_orientation(image) != 1:
        image = ImageOps.exif_transpose(image)  # a new image, upright, its orientation tag reset
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        return _scale_to_uint8(image).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or image.has_transparency_data:
        rgba = image.convert("RGBA")  # premultiplied La/RGBa and palette/colour-key transparency included
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "RGB":
        return image.copy()
    return image.convert("RGB")


# ---------------------------------------------------------------------------
# One tensor rule: RGB -> (3, H, W) uint8 -> normalised float32
# ---------------------------------------------------------------------------


def to_uint8_tensor(image, name: str = "image"):
    """A PIL image as a ``(3, H, W)`` uint8 tensor (after ``to_rgb``): channels first, values 0..255.

    Resizing happens on this uint8 tensor, as transformers' image processors do.
    """
    import numpy as np
    import torch

    array = np.array(to_rgb(image, name))  # (H, W, 3) uint8, a copy torch may own
    return torch.from_numpy(array).permute(2, 0, 1)  # (3, H, W)


def resize_bicubic(x, size):
    """``(..., 3, H, W)`` uint8 -> ``(..., 3, h, w)`` for ``size = (h, w)``: antialiased bicubic, as transformers resizes.

    Resizing the uint8 image (not floats) and antialiasing when shrinking is
    what ``transformers``' torchvision-backed image processors do, so the
    pixels match theirs.
    """
    from torchvision.transforms.v2 import functional as tvF

    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return tvF.resize(x, list(size), interpolation=tvF.InterpolationMode.BICUBIC, antialias=True)


def normalise(x, mean=CLIP_MEAN, std=CLIP_STD):
    """``(x - mean) / std`` per channel: ``(..., C, H, W)`` -> float32 of the same shape.

    A uint8 ``x`` holds 0..255 and is first rescaled by 1/255; a float ``x``
    must already be in [0, 1]. The rescale and the normalisation are one
    multiply-add, ``(x - 255 * mean) * (1 / (255 * std))``, the order of
    operations transformers' image processors use, so the results agree with
    theirs to the last bit instead of to ~1e-7.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor shaped (..., C, H, W), got {type(x).__name__}")
    if x.dtype != torch.uint8 and not x.dtype.is_floating_point:
        raise TypeError(f"x must be uint8 (0..255) or float (0..1), got dtype {x.dtype}")
    if x.ndim < 3 or x.shape[-3] != len(mean) or len(mean) != len(std):
        raise ValueError(
            f"x must be (..., {len(mean)}, H, W) for {len(mean)} channel means, got shape {tuple(x.shape)}"
        )
    scale = 255.0 if x.dtype == torch.uint8 else 1.0
    mean = torch.tensor(mean, dtype=torch.float32, device=x.device).view(-1, 1, 1) * scale
    inv_std = 1.0 / (torch.tensor(std, dtype=torch.float32, device=x.device).view(-1, 1, 1) * scale)
    return (x.to(torch.float32) - mean) * inv_std


def image_mean_std(processor) -> tuple[tuple, tuple]:
    """``(mean, std)`` a transformers processor (or image processor) normalises with; CLIP's when it has none."""
    image_processor = getattr(processor, "image_processor", processor)
    mean = getattr(image_processor, "image_mean", None) or CLIP_MEAN
    std = getattr(image_processor, "image_std", None) or CLIP_STD
    return tuple(mean), tuple(std)


def denormalise(pixel_values, mean=CLIP_MEAN, std=CLIP_STD):
    """Undo the normalisation: ``(..., 3, H, W)`` normalised values -> values in ``[0, 1]`` (clamped)."""
    import torch

    if not isinstance(pixel_values, torch.Tensor):
        raise TypeError(f"pixel_values must be a torch.Tensor shaped (..., 3, H, W), got {type(pixel_values).__name__}")
    if pixel_values.ndim < 3 or pixel_values.shape[-3] != len(mean):
        raise ValueError(f"pixel_values must be (..., {len(mean)}, H, W), got shape {tuple(pixel_values.shape)}")
    m = torch.tensor(mean, dtype=pixel_values.dtype, device=pixel_values.device).view(-1, 1, 1)
    s = torch.tensor(std, dtype=pixel_values.dtype, device=pixel_values.device).view(-1, 1, 1)
    return (pixel_values * s + m).clamp(0.0, 1.0)


# ---------------------------------------------------------------------------
# CLIP's transform
# ---------------------------------------------------------------------------


class ToUint8Tensor:
    """Transform step: PIL image -> ``(3, H, W)`` uint8 tensor (``to_uint8_tensor``); refuses over-elongated images."""

    def __init__(self, max_aspect_ratio: float = MAX_ASPECT_RATIO):
        self.max_aspect_ratio = max_aspect_ratio

    def __call__(self, image):
        x = to_uint8_tensor(image)
        height, width = x.shape[-2:]
        ratio = max(height, width) / min(height, width)
        if ratio > self.max_aspect_ratio:
            raise ValueError(
                f"image aspect ratio {ratio:.1f} ((height, width) = {(height, width)}) is over the limit of "
                f"{self.max_aspect_ratio}: a shortest-edge resize would make a huge strip and the centre crop would "
                "keep almost nothing; crop or tile the image first (vlmlab.tiling)"
            )
        return x

    def __repr__(self):
        return f"{type(self).__name__}(max_aspect_ratio={self.max_aspect_ratio})"


class Normalize:
    """Transform step: ``normalise(x, mean, std)``, uint8 ``(3, H, W)`` -> float32.

    Named after the ``torchvision.transforms.v2.Normalize`` step it stands in for (which wants floats).
    """

    def __init__(self, mean=CLIP_MEAN, std=CLIP_STD):
        self.mean, self.std = tuple(mean), tuple(std)

    def __call__(self, x):
        return normalise(x, self.mean, self.std)

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class CenterCropFloor:
    """Centre crop to ``size x size`` with the offset rounded *down*, as ``transformers``' image processors.

    Named after the ``torchvision.transforms.v2.CenterCrop`` step it stands in for.

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
            raise ValueError(f"CenterCropFloor: image (height, width) = {(height, width)} is smaller than the crop "
                             f"size={self.size}; resize it first")
        top, left = (height - self.size) // 2, (width - self.size) // 2
        return tvF.crop(image, top, left, self.size, self.size)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


def clip_transform(image_size: int = 224, train: bool = False):
    """CLIP's preprocessing as a ``torchvision.transforms.v2.Compose``: PIL image -> ``(3, S, S)`` float tensor.

    ``train=False`` (evaluation): bicubic resize of the shorter side to
    ``image_size``, centre crop, normalise — equal to
    ``transformers.CLIPImageProcessor`` with the same sizes (within float
    rounding). ``train=True``: a light augmentation,
    ``RandomResizedCrop(scale=(0.9, 1.0))`` and a horizontal flip. Each crop
    is squeezed to a square, so it is stretched by its own aspect ratio; and
    on a photo longer than about 1.48 : 1 no crop of 90 % of the area fits,
    so torchvision falls back to the centre crop every time and only the
    flip varies (notebook 05 shows both).
    """
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
        ToUint8Tensor(),  # (3, H, W) uint8: resize on uint8, as transformers does
        *geometry,
        Normalize(CLIP_MEAN, CLIP_STD),  # [0, 255] -> normalised float32
    ])


def document_transform(image, target_size: int = 1024, sharpen: bool = True):
    """Fit the longer side to ``target_size`` (LANCZOS), sharpen, pad white to a square: a common document pipeline.

    The image is centred; its sides are truncated to ints but never drop
    below one pixel (a 1x5000 strip would otherwise become 0 pixels wide).
    Returns an RGB PIL image of ``target_size x target_size``.
    """
    from PIL import Image, ImageFilter

    target_size = as_positive_int(target_size, "target_size")
    image = to_rgb(image)
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
              and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in background)):
        raise TypeError(f"background must be an (r, g, b) triple of ints in 0..255, got {background!r}")
    elif not all(0 <= v <= 255 for v in background):
        raise ValueError(f"background must be an (r, g, b) triple of ints in 0..255, got {background!r}")
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    result = Image.new("RGB", (side, side), tuple(background))
    result.paste(image, ((side - width) // 2, (side - height) // 2))
    return result
