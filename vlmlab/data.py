"""Sample images, and a safe way to open any image as RGB.

Every notebook gets its pictures from here::

    >>> from vlmlab.data import list_samples, load_sample
    >>> list_samples()
    ['astronaut', 'cat', 'coffee', 'rocket', 'document', 'receipt', 'chart']
    >>> load_sample("cat").size            # PIL says (width, height)
    (451, 300)

The photos are public domain or CC0 (from scikit-image's data folder); the
document, receipt and chart are drawn by ``data/make_samples.py``.
``data/README.md`` gives the source and licence of each file.

``load_image`` is what a vision model's preprocessing assumes has already
happened: the picture is upright (the camera's EXIF orientation applied), has
exactly three 8-bit channels, and was not a decompression bomb. It follows
Pillow's own rules where Pillow has them - ``PIL.ImageOps.exif_transpose`` for
the eight EXIF orientations, ``PIL.Image.MAX_IMAGE_PIXELS`` for the size
limit - and fills the gaps Pillow leaves: transparent pixels are composited on
white (``convert("RGB")`` would drop the alpha channel and show whatever colour
hides under it), and 16-bit images are scaled to 8 bits (Pillow clips them at
255, which turns most 16-bit photos white).
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# The repository's data/ folder (samples live next to the package, not inside it).
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# name -> (file, what it is). Photos first, then the generated high-resolution images.
SAMPLES = {
    "astronaut": ("astronaut.jpg", "Eileen Collins, NASA portrait, 512x512 (public domain)"),
    "cat": ("cat.jpg", "Chelsea the cat, 451x300 (CC0, Stefan van der Walt)"),
    "coffee": ("coffee.jpg", "a cup of coffee, 600x400 (CC0, Rachel Michetti)"),
    "rocket": ("rocket.jpg", "Falcon 9 launch, 640x427 (public domain, SpaceX)"),
    "document": ("document.png", "a page of small text, 1700x2200 (generated, CC0)"),
    "receipt": ("receipt.png", "a long till receipt, 600x2400 (generated, CC0)"),
    "chart": ("chart.png", "a wide bar chart with small labels, 2400x700 (generated, CC0)"),
}

# EXIF tag 274 (0x0112) says how the stored pixels must be turned to stand upright.
# Values as in the EXIF 2.3 spec and PIL.ImageOps.exif_transpose.
EXIF_ORIENTATION_TAG = 0x0112
_ORIENTATION_FIX = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,  # mirrored
    3: Image.Transpose.ROTATE_180,       # upside down
    4: Image.Transpose.FLIP_TOP_BOTTOM,  # mirrored and upside down
    5: Image.Transpose.TRANSPOSE,        # mirrored, lying on its side
    6: Image.Transpose.ROTATE_270,       # camera turned clockwise: turn the pixels 90 degrees clockwise
    7: Image.Transpose.TRANSVERSE,       # mirrored, lying on its other side
    8: Image.Transpose.ROTATE_90,        # camera turned anticlockwise: turn 90 degrees anticlockwise
}

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I;16S", "I;16BS", "I;16LS")


def list_samples() -> list[str]:
    """The names ``load_sample`` accepts: the photos, then the generated images.

    >>> list_samples()[:4]
    ['astronaut', 'cat', 'coffee', 'rocket']
    """
    return list(SAMPLES)


def sample_path(name: str) -> Path:
    """The file behind sample ``name`` (see ``list_samples()``)."""
    if not isinstance(name, str) or name not in SAMPLES:
        valid = ", ".join(repr(n) for n in SAMPLES)
        raise ValueError(f"name must be one of the samples {valid}; got {name!r}")
    path = DATA_DIR / SAMPLES[name][0]
    if not path.is_file():
        raise ValueError(
            f"sample {name!r} should be at {path}, but that file is missing. The samples live in the "
            "repository's data/ folder: use a clone of the repository with `pip install -e .`, "
            "and run `python data/make_samples.py` to re-make the generated ones."
        )
    return path


def load_sample(name: str) -> Image.Image:
    """Sample image ``name`` as an RGB PIL image.

    Names: ``"astronaut"``, ``"cat"``, ``"coffee"``, ``"rocket"`` (photos) and
    ``"document"`` (1700x2200 page of text), ``"receipt"`` (600x2400),
    ``"chart"`` (2400x700) - sizes as PIL's (width, height).

    >>> img = load_sample("document")
    >>> img.mode, img.size
    ('RGB', (1700, 2200))
    >>> load_sample("nope")
    Traceback (most recent call last):
    ...
    ValueError: name must be one of the samples 'astronaut', 'cat', 'coffee', 'rocket', 'document', 'receipt', 'chart'; got 'nope'
    """
    return load_image(sample_path(name))


# ---------------------------------------------------------------- any mode -> RGB

def _scale_to_uint8(image: Image.Image):
    """A one-channel 16-bit, 32-bit integer or float image as an 8-bit ``L`` image, scaled, not clipped.

    * 16-bit modes (``I;16``, ``I;16B``, ...): 0..65535 -> 0..255, ``round(v / 257)``
      (65535 / 255 = 257 exactly, so 257 -> 1 and 65535 -> 255).
    * ``I`` (32-bit ints, what older Pillows give for 16-bit PNGs): the same when
      every value is in 0..65535; otherwise stretched from min..max to 0..255.
    * ``F`` (floats): values in [0, 1] are multiplied by 255, values in [0, 255]
      are kept, anything else is stretched from min..max; NaN becomes 0.
    """
    import numpy as np

    values = np.asarray(image).astype(np.float64)  # (H, W)
    if image.mode == "F":
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
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


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image as a new 8-bit RGB image (no EXIF rotation; ``load_image`` does that).

    * ``RGB``: copied.
    * ``1``, ``L``, ``P`` (no transparency), ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``: ``convert("RGB")``.
    * anything with transparency (``RGBA``, ``LA``, ``PA``, ``P`` or ``RGB`` with a
      transparent colour): composited on white, so transparent pixels show white,
      as in a browser, not the colour stored under them.
    * ``I;16``, ``I;16B``, ``I``, ``F``: scaled to 0..255 (see ``_scale_to_uint8``), then grey RGB.

    >>> to_rgb(Image.new("RGBA", (2, 1), (255, 0, 0, 0))).getpixel((0, 0))  # fully transparent red
    (255, 255, 255)
    >>> to_rgb(Image.new("I;16", (1, 1), 65535)).getpixel((0, 0))          # 16-bit white is white
    (255, 255, 255)
    """
    if not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL.Image.Image, got {type(image).__name__}")
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


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1..8) stored with ``image``; 1 (upright) when there is none or it is invalid."""
    try:
        value = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
    except Exception:  # a damaged EXIF block must not stop the image from loading
        return 1
    return value if value in range(1, 9) else 1


# ---------------------------------------------------------------- opening files safely

def _describe(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"the data given ({len(source)} bytes)"
    name = getattr(source, "name", None)
    return f"file {name!r}" if isinstance(name, str) else f"the {type(source).__name__} given"


def _open_source(source):
    """(file object for Image.open, description). Raises for paths that aren't files."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        what = _describe(source)
        if isinstance(source, str) and source.split("://")[0] in ("http", "https", "ftp"):
            raise ValueError(f"load_image got the URL {what}; it does not download. Save the file, then pass its path.")
        if not path.exists():
            raise ValueError(f"load_image: there is no file {what} (looked for {path.resolve()})")
        if path.is_dir():
            raise ValueError(f"load_image: {what} is a folder, not an image file; pass the path of one image in it")
        if path.stat().st_size == 0:
            raise ValueError(f"load_image: {what} is an empty file (0 bytes), not an image")
        return path, what
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ValueError("load_image: got 0 bytes; an image file's contents were expected")
        return io.BytesIO(bytes(source)), _describe(source)
    if hasattr(source, "read"):
        return source, _describe(source)
    raise TypeError(
        "path_or_file must be a path (str or pathlib.Path), a binary file object, bytes or a PIL image; "
        f"got {type(source).__name__}"
    )


def load_image(path_or_file) -> Image.Image:
    """Open an image file safely and return it upright, fully loaded, as 8-bit RGB.

    Args:
        path_or_file: a path (``str`` or ``pathlib.Path``), a binary file object
            (``open(p, "rb")``, ``io.BytesIO``; it is not closed), the bytes of a
            file, or a PIL image (converted, not modified).

    Returns:
        A new ``PIL.Image.Image`` in mode ``"RGB"``, already decoded (``.load()``\\ ed)
        and not tied to any open file, with the EXIF orientation applied (all 8
        cases, so a phone photo stands the right way up and its ``size`` is the
        displayed one). Modes are converted as ``to_rgb`` describes: transparency on
        white, 16-bit scaled to 8-bit.

    Raises:
        ValueError: the path is missing, is a folder, or is empty; the data is not
            an image Pillow can read; the file is truncated or damaged; or the image
            has more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (89,478,485 by
            default, about 9459x9459) - a "decompression bomb" guard: a small file
            can claim a huge size and fill the memory when decoded. If you trust
            a larger file, raise ``PIL.Image.MAX_IMAGE_PIXELS`` (``None`` disables it).
        TypeError: ``path_or_file`` is none of the accepted types.

    >>> from vlmlab.data import DATA_DIR
    >>> load_image(DATA_DIR / "cat.jpg").size
    (451, 300)
    >>> load_image(b"not an image")
    Traceback (most recent call last):
    ...
    ValueError: load_image: the data given (12 bytes) is not an image file Pillow can read (formats it reads include PNG, JPEG, GIF, BMP, TIFF, WebP)
    """
    if isinstance(path_or_file, Image.Image):
        rgb = to_rgb(path_or_file)
        fix = _ORIENTATION_FIX.get(exif_orientation(path_or_file))
        return rgb.transpose(fix) if fix is not None else rgb

    fp, what = _open_source(path_or_file)
    limit = Image.MAX_IMAGE_PIXELS
    width = height = None
    try:
        with warnings.catch_warnings():
            # Pillow only *warns* between 1x and 2x its limit; we refuse at 1x, below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fp) as image:  # reads the header only
                width, height = image.size
                if limit is not None and width * height > limit:
                    raise Image.DecompressionBombError(f"{width * height} pixels")
                image.load()  # decode now, while the file is open
                orientation = exif_orientation(image)
                rgb = to_rgb(image)
    except Image.DecompressionBombError:
        if width is None:  # Pillow itself refused (over twice its limit) before we saw the size
            size = "so large that Pillow refused to open it"
        else:
            size = f"{height}x{width} (height x width) = {width * height:,} pixels"
        raise ValueError(
            f"load_image: {what} is {size}, more than the limit of {limit:,} pixels "
            "(PIL.Image.MAX_IMAGE_PIXELS). A file this large may be a decompression bomb, which fills "
            "the memory when decoded. If you trust it, shrink it first or raise PIL.Image.MAX_IMAGE_PIXELS."
        ) from None
    except UnidentifiedImageError:
        raise ValueError(
            f"load_image: {what} is not an image file Pillow can read "
            "(formats it reads include PNG, JPEG, GIF, BMP, TIFF, WebP)"
        ) from None
    except (OSError, SyntaxError, EOFError, ValueError) as error:
        raise ValueError(
            f"load_image: {what} could not be decoded; the file is truncated or damaged "
            f"(Pillow says: {error})"
        ) from None
    fix = _ORIENTATION_FIX.get(orientation)
    return rgb.transpose(fix) if fix is not None else rgb
