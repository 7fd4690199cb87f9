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

``load_image`` opens a file safely (a missing, empty, damaged or huge file
gets a ``ValueError`` that says which and why) and returns what a vision
model's preprocessing assumes: the picture upright, three 8-bit channels.
The conversion is ``vlmlab.preprocess.to_rgb``, the same rule every other
entry point applies to an image already in memory.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .preprocess import check_image_size, to_rgb  # the one image rule, shared by every entry point

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

def list_samples() -> list[str]:
    """The names ``load_sample`` accepts: the photos, then the generated images.

    >>> list_samples()[:4]
    ['astronaut', 'cat', 'coffee', 'rocket']
    """
    return list(SAMPLES)


def sample_path(name: str) -> Path:
    """The file behind sample ``name`` (see ``list_samples()``)."""
    valid = ", ".join(repr(n) for n in SAMPLES)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of the samples {valid}; got {name!r}")
    if name not in SAMPLES:
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
        what = _describe(source)
        if isinstance(source, str) and source == "":  # Path("") would mean the current folder
            raise ValueError(f"load_image got an empty path {what}; pass the path of an image file")
        path = Path(source).expanduser()
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
        displayed one). Modes are converted as ``vlmlab.preprocess.to_rgb``
        describes: transparency on white, 16-bit scaled to 8-bit.

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
        return to_rgb(path_or_file)

    fp, what = _open_source(path_or_file)
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow only *warns* between 1x and 2x its limit; check_image_size refuses at 1x, below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(fp)  # reads the header only
    except Image.DecompressionBombError:  # Pillow itself refused (over twice its limit) before we saw the size
        raise ValueError(
            f"load_image: {what} is so large that Pillow refused to open it, more than the limit of {limit:,} "
            "pixels (PIL.Image.MAX_IMAGE_PIXELS). A file this large may be a decompression bomb, which fills "
            "the memory when decoded. If you trust it, shrink it first or raise PIL.Image.MAX_IMAGE_PIXELS."
        ) from None
    except UnidentifiedImageError:
        raise ValueError(
            f"load_image: {what} is not an image file Pillow can read "
            "(formats it reads include PNG, JPEG, GIF, BMP, TIFF, WebP)"
        ) from None
    except (OSError, SyntaxError, EOFError, ValueError) as error:
        raise _damaged(what, error) from None
    with image:
        check_image_size(image.height, image.width, f"load_image: {what}")  # before decoding a possible bomb
        try:
            image.load()  # decode now, while the file is open
        except (OSError, SyntaxError, EOFError, ValueError) as error:
            raise _damaged(what, error) from None
        return to_rgb(image, f"load_image: {what}")


def _damaged(what: str, error: Exception) -> ValueError:
    return ValueError(f"load_image: {what} could not be decoded; the file is truncated or damaged (Pillow says: {error})")
