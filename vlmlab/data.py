"""Sample images and toy checkpoints: where they live, and a safe way to open any image as RGB.

Every notebook gets its pictures from here::

    >>> from vlmlab.data import list_samples, load_sample
    >>> list_samples()
    ['astronaut', 'cat', 'coffee', 'rocket', 'document', 'receipt', 'chart']
    >>> load_sample("cat").size            # PIL says (width, height)
    (451, 300)

The photos are public domain or CC0 (from scikit-image's data folder); the
document, receipt and chart are drawn by ``data/make_samples.py``.
``data/README.md`` gives the source and licence of each file.

**Where the data is** (:func:`data_dir`). The samples and the toy checkpoints
(``TOY_MODELS``) live in the repository's ``data/`` folder, outside the
package, about 32 MB. :func:`data_dir` looks, in this order:

1. ``$VLMLAB_DATA``, when set: any folder laid out like ``data/``;
2. the repository checkout that this ``vlmlab`` was imported from (running
   from source, or ``pip install -e .``): its ``data/``;
3. where a wheel installs it: ``pyproject.toml`` ships ``data/`` as the wheel's
   *data files* (``[tool.setuptools.data-files]``), which pip writes under the
   environment's data root, ``<prefix>/share/vlmlab/data`` (``sys.prefix`` for a
   virtual environment or a system install, ``site.USER_BASE`` for ``--user``),
   the place a package's shared, non-code files go (as Jupyter's ``share/jupyter``).

Nothing is downloaded. When the data is in none of these places, the error
(:class:`DataNotFoundError`) names every folder it looked in and how to get one.

``load_image`` opens a file safely (a missing, empty, damaged or huge file
gets a ``ValueError`` that says which and why) and returns what a vision
model's preprocessing assumes: the picture upright, three 8-bit channels.
The conversion is ``vlmlab.preprocess.to_rgb``, the same rule every other
entry point applies to an image already in memory.
"""

from __future__ import annotations

import io
import os
import sysconfig
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .preprocess import check_image_size, to_rgb  # the one image rule, shared by every entry point

ENV_VAR = "VLMLAB_DATA"
# The repository checkout around this package, if it is one (pyproject.toml beside vlmlab/).
_CHECKOUT = Path(__file__).resolve().parent.parent
SHARE_PATH = Path("share", "vlmlab", "data")  # under an environment's data root, where a wheel puts data/

# The toy checkpoints, each a folder of data_dir() written by save_pretrained; the only place their names are spelled.
TOY_CLIP, TOY_CLIP_2, TOY_LLAVA, TOY_LLAVA_NEXT = "toy-clip", "toy-clip-2", "toy-llava", "toy-llava-next"
TOY_CLIP_2_CONTRASTIVE = "toy-clip-2-contrastive"  # the ablation: toy CLIP 2's recipe without its local objective
TOY_MODELS = {
    TOY_CLIP: "the toy CLIP, single shapes of ShapesWorld (vlmlab.toyclip)",
    TOY_CLIP_2: "toy CLIP 2, scenes of ShapesWorld 2 (vlmlab.sceneclip)",
    TOY_CLIP_2_CONTRASTIVE: "toy CLIP 2 trained with the contrastive loss alone: the ablation notebook 04 compares",
    TOY_LLAVA: "the toy LLaVA-1.5 (vlmlab.toyvlm)",
    TOY_LLAVA_NEXT: "the toy LLaVA-NeXT (vlmlab.toyvlm)",
}
# How to make each toy again; the commands live in vlmlab.training.
TRAIN_COMMANDS = {
    TOY_CLIP: "python -m vlmlab.training toy-clip train",
    TOY_CLIP_2: "python -m vlmlab.training toy-clip-2 train",
    TOY_CLIP_2_CONTRASTIVE: ("python -m vlmlab.training toy-clip-2 train --output data/toy-clip-2-contrastive --lr 1e-3 "
                             "--edit-negatives 0 --local-weight 0 --local-views 0"),
    TOY_LLAVA: "python -m vlmlab.training toy-vlm train --kind llava",
    TOY_LLAVA_NEXT: "python -m vlmlab.training toy-vlm train --kind llava-next",
}

# name -> (file, what it is). Photos first, then the generated high-resolution images. Sizes height x width.
SAMPLES = {
    "astronaut": ("astronaut.jpg", "Eileen Collins, NASA portrait, 512x512 (public domain)"),
    "cat": ("cat.jpg", "Chelsea the cat, 300x451 (CC0, Stefan van der Walt)"),
    "coffee": ("coffee.jpg", "a cup of coffee, 400x600 (CC0, Rachel Michetti)"),
    "rocket": ("rocket.jpg", "Falcon 9 launch, 427x640 (public domain, SpaceX)"),
    "document": ("document.png", "a page of small text, 2200x1700 (generated, CC0)"),
    "receipt": ("receipt.png", "a long till receipt, 2400x600 (generated, CC0)"),
    "chart": ("chart.png", "a wide bar chart with small labels, 700x2400 (generated, CC0)"),
}


class DataNotFoundError(FileNotFoundError):
    """The sample images or a toy checkpoint are not where vlmlab looked; the message says where and what to do."""


_HOW_TO_GET = (
    "The data ships with the package: install vlmlab from a wheel or a clone of its repository "
    f"(`pip install .`, or `pip install -e .` in the clone), or point {ENV_VAR} at a copy of the repository's "
    "data/ folder."
)


def _installed_candidates() -> list[Path]:
    """Where a wheel's data files land: ``share/vlmlab/data`` under this interpreter's data roots (default, then user)."""
    roots = [sysconfig.get_path("data")]
    user_scheme = sysconfig.get_preferred_scheme("user")
    roots.append(sysconfig.get_path("data", user_scheme))
    return [Path(root) / SHARE_PATH for root in dict.fromkeys(roots)]


def data_candidates() -> list[Path]:
    """The folders :func:`data_dir` tries, in order (``$VLMLAB_DATA`` aside): the checkout's ``data/``, then the installed copies."""
    found = [_CHECKOUT / "data"] if (_CHECKOUT / "pyproject.toml").is_file() else []
    return found + _installed_candidates()


def data_dir() -> Path:
    """The folder holding the sample images and the toy checkpoints (see the module's docstring for the order).

    Read afresh on every call, so setting ``os.environ["VLMLAB_DATA"]`` takes effect at once.

    Raises:
        DataNotFoundError: ``$VLMLAB_DATA`` is set but is not a folder, or no
            candidate folder exists; the message lists where it looked.
    """
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override).expanduser()
        if not path.is_dir():
            raise DataNotFoundError(f"{ENV_VAR} is set to {override!r}, which is not a folder. Point it at a copy of "
                                    f"the repository's data/ folder, or unset it to use the data installed with vlmlab.")
        return path
    candidates = data_candidates()
    for path in candidates:
        if path.is_dir():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise DataNotFoundError(f"vlmlab's data folder (sample images, toy checkpoints) was not found; looked in {looked} "
                            f"and {ENV_VAR} is not set. " + _HOW_TO_GET)


def _where(folder: Path) -> str:
    """How ``folder`` was chosen, for error messages."""
    if os.environ.get(ENV_VAR):
        return f"{folder} (from {ENV_VAR})"
    return f"{folder} (set {ENV_VAR} to use another data folder)"


def toy_model_dir(name: str, check: bool = True) -> Path:
    """The folder of toy checkpoint ``name`` (one of ``TOY_MODELS``): ``data_dir() / name``.

    With ``check`` (default) the folder must hold a checkpoint (``config.json``),
    else :class:`DataNotFoundError` says which folder is missing, where it
    looked and how to get it; ``check=False`` returns the path as is (a
    training command's destination).

    >>> toy_model_dir("toy-clip").name
    'toy-clip'
    """
    if not isinstance(name, str) or name not in TOY_MODELS:
        valid = ", ".join(repr(n) for n in TOY_MODELS)
        raise ValueError(f"name must be one of the toy models {valid}; got {name!r}")
    folder = data_dir() / name
    if check and not (folder / "config.json").is_file():
        problem = "is missing" if not folder.exists() else "holds no checkpoint (no config.json)"
        raise DataNotFoundError(
            f"{TOY_MODELS[name]} should be in the folder {name}/ of vlmlab's data folder {_where(folder.parent)}, "
            f"but {folder} {problem}. " + _HOW_TO_GET
            + f" To train it again from a clone: `{TRAIN_COMMANDS[name]}`.")
    return folder


def list_samples() -> list[str]:
    """The names ``load_sample`` accepts: the photos, then the generated images.

    >>> list_samples()[:4]
    ['astronaut', 'cat', 'coffee', 'rocket']
    """
    return list(SAMPLES)


def sample_path(name: str) -> Path:
    """The file behind sample ``name`` (see ``list_samples()``), in :func:`data_dir`.

    Raises ``DataNotFoundError`` (naming the file, the folder and ``$VLMLAB_DATA``)
    when the file is not there.
    """
    valid = ", ".join(repr(n) for n in SAMPLES)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of the samples {valid}; got {name!r}")
    if name not in SAMPLES:
        raise ValueError(f"name must be one of the samples {valid}; got {name!r}")
    folder = data_dir()
    path = folder / SAMPLES[name][0]
    if not path.is_file():
        raise DataNotFoundError(
            f"sample {name!r} should be the file {path.name} in vlmlab's data folder {_where(folder)}, but "
            f"{path} is missing. " + _HOW_TO_GET
            + " In a clone, `python data/make_samples.py` re-makes the generated ones."
        )
    return path


def load_sample(name: str) -> Image.Image:
    """Sample image ``name`` as an RGB PIL image.

    Names: ``"astronaut"``, ``"cat"``, ``"coffee"``, ``"rocket"`` (photos) and
    ``"document"`` (a page of text, 2200x1700), ``"receipt"`` (2400x600),
    ``"chart"`` (700x2400), sizes height x width as everywhere in vlmlab
    (PIL's ``.size`` says (width, height)).

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

    >>> load_image(sample_path("cat")).size
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
