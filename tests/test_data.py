"""vlmlab.data: sample images, and load_image on every mode, orientation and bad input."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import PIL
import pytest
from PIL import Image

from vlmlab import data
from vlmlab.data import data_dir, list_samples, load_image, load_sample, to_rgb

DATA_DIR = data_dir()

MAX_BYTES = 300 * 1024
# PIL's .size, (width, height), of each sample: photos as scikit-image ships them, generated ones as drawn.
EXPECTED_SIZES = {
    "astronaut": (512, 512), "cat": (451, 300), "coffee": (600, 400), "rocket": (640, 427),
    "document": (1700, 2200), "receipt": (600, 2400), "chart": (2400, 700),
}


def save(image: Image.Image, path: Path, **kwargs) -> Path:
    image.save(path, **kwargs)
    return path


# ---------------------------------------------------------------- samples

def test_list_samples_photos_then_generated():
    assert list_samples() == ["astronaut", "cat", "coffee", "rocket", "document", "receipt", "chart"]


@pytest.mark.parametrize("name", list(EXPECTED_SIZES))
def test_load_sample_is_rgb_of_the_documented_size(name):
    image = load_sample(name)
    assert image.mode == "RGB"
    assert image.size == EXPECTED_SIZES[name]
    assert image.getextrema() != ((0, 0), (0, 0), (0, 0))  # not blank


def test_generated_samples_have_the_shapes_the_notebooks_need():
    w, h = load_sample("document").size
    assert h > w  # portrait page
    w, h = load_sample("receipt").size
    assert h >= 4 * w  # very tall
    w, h = load_sample("chart").size
    assert w >= 3 * h  # very wide


def test_every_sample_file_is_small_and_has_its_source_and_licence_in_the_readme():
    readme = (DATA_DIR / "README.md").read_text()
    for name in list_samples():
        filename = data.SAMPLES[name][0]
        path = DATA_DIR / filename
        assert path.stat().st_size <= MAX_BYTES, f"{filename} is {path.stat().st_size} bytes, over 300 KB"
        # The README has one table row per file, naming its licence.
        rows = [line for line in readme.splitlines() if line.startswith("|") and f"`{filename}`" in line]
        assert len(rows) == 1, f"data/README.md needs one table row for {filename}"
        assert "public domain" in rows[0].lower() or "CC0" in rows[0], rows[0]


def test_load_sample_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"must be one of the samples 'astronaut', 'cat'.*'chart'; got 'nope'"):
        load_sample("nope")
    with pytest.raises(TypeError, match="name must be a str.*got 3"):
        load_sample(3)


def test_sample_descriptions_and_the_readme_give_the_size_height_first():
    readme = (DATA_DIR / "README.md").read_text()
    for name, (filename, description) in data.SAMPLES.items():
        width, height = load_sample(name).size
        assert f", {height}x{width} (" in description, (name, description)
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}` | `{filename}` |"))
        assert f"| {height} × {width} |" in row, row


# ---------------------------------------------------------------- where the data is

def test_data_dir_is_the_checkout_data_folder_when_running_from_source(monkeypatch):
    monkeypatch.delenv("VLMLAB_DATA", raising=False)
    repo = Path(__file__).resolve().parents[1]
    assert data_dir() == repo / "data"
    assert data.data_candidates()[0] == repo / "data"
    import sysconfig

    assert Path(sysconfig.get_path("data")) / "share" / "vlmlab" / "data" in data.data_candidates()


def test_vlmlab_data_overrides_the_data_folder(tmp_path, monkeypatch):
    (tmp_path / "cat.jpg").write_bytes((DATA_DIR / "cat.jpg").read_bytes())
    monkeypatch.setenv("VLMLAB_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    assert data.sample_path("cat") == tmp_path / "cat.jpg" and load_sample("cat").size == (451, 300)


def test_missing_sample_file_says_what_where_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VLMLAB_DATA", str(tmp_path))  # a data folder without the samples
    with pytest.raises(data.DataNotFoundError) as err:
        load_sample("chart")
    message = str(err.value)
    assert f"sample 'chart' should be the file chart.png in vlmlab's data folder {tmp_path} (from VLMLAB_DATA)" in message
    assert f"{tmp_path / 'chart.png'} is missing" in message
    assert "pip install" in message and "make_samples.py" in message
    assert isinstance(err.value, FileNotFoundError)


def test_vlmlab_data_that_is_not_a_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("VLMLAB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(data.DataNotFoundError, match=r"VLMLAB_DATA is set to '.*nowhere', which is not a folder"):
        data_dir()


def test_no_data_folder_anywhere_lists_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("VLMLAB_DATA", raising=False)
    monkeypatch.setattr(data, "data_candidates", lambda: [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(data.DataNotFoundError) as err:
        data_dir()
    message = str(err.value)
    assert f"looked in {tmp_path / 'a'}, {tmp_path / 'b'} and VLMLAB_DATA is not set" in message
    assert "pip install" in message


@pytest.mark.parametrize("name", list(data.TOY_MODELS))
def test_each_toy_model_has_one_folder_in_the_data_folder(name, monkeypatch):
    monkeypatch.delenv("VLMLAB_DATA", raising=False)
    assert data.toy_model_dir(name) == DATA_DIR / name
    assert (DATA_DIR / name / "config.json").is_file()


def test_a_missing_toy_model_says_what_where_and_how_to_get_it(tmp_path, monkeypatch):
    from vlmlab import clip, toyvlm

    monkeypatch.setenv("VLMLAB_DATA", str(tmp_path))
    monkeypatch.delenv("VLMLAB_CLIP", raising=False)
    with pytest.raises(data.DataNotFoundError) as err:
        clip.load_clip()  # not a FileNotFoundError from inside transformers
    message = str(err.value)
    assert f"should be in the folder toy-clip/ of vlmlab's data folder {tmp_path} (from VLMLAB_DATA)" in message
    assert f"{tmp_path / 'toy-clip'} is missing" in message
    assert "python -m vlmlab.training toy-clip train" in message
    (tmp_path / "toy-llava").mkdir()
    with pytest.raises(data.DataNotFoundError, match=r"toy-llava holds no checkpoint \(no config\.json\).*"
                                                     r"toy-vlm train --kind llava"):
        toyvlm.load("llava")
    with pytest.raises(data.DataNotFoundError, match="toy-clip-2"):
        clip.load_scene_clip()
    assert clip.TOY_CLIP_PATH == tmp_path / "toy-clip"  # the Contract's constant follows VLMLAB_DATA
    with pytest.raises(ValueError, match=r"name must be one of the toy models 'toy-clip', .*; got 'toy-clip-3'"):
        data.toy_model_dir("toy-clip-3")


def _make_samples_module():
    spec = importlib.util.spec_from_file_location("make_samples", DATA_DIR / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_samples_regenerates_the_committed_images(tmp_path):
    make_samples = _make_samples_module()
    assert make_samples.main(["--out", str(tmp_path)]) == 0
    same_pillow = PIL.__version__ == make_samples.PILLOW_VERSION_USED
    for name in make_samples.GENERATED:
        made = np.asarray(load_image(tmp_path / f"{name}.png")).astype(int)
        committed = np.asarray(load_sample(name)).astype(int)
        assert made.shape == committed.shape, name
        if same_pillow:
            assert np.array_equal(made, committed), f"data/{name}.png differs from what make_samples.py draws"
        else:  # another FreeType may antialias glyph edges differently; the layout must still match
            assert np.abs(made - committed).mean() < 2.0, name
        assert (tmp_path / f"{name}.png").stat().st_size <= MAX_BYTES


def test_make_samples_is_deterministic(tmp_path):
    make_samples = _make_samples_module()
    first = make_samples.make_receipt().tobytes()
    assert make_samples.make_receipt().tobytes() == first


# ---------------------------------------------------------------- modes -> RGB

def rgb_array(image_or_path) -> np.ndarray:
    image = load_image(image_or_path)
    assert image.mode == "RGB"
    return np.asarray(image)


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "CMYK", "YCbCr"])
def test_plain_modes_convert_like_pillow(tmp_path, mode):
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8))  # 7 wide, 5 tall
    image = rgb.convert(mode)
    got = load_image(image)
    assert got.size == (7, 5)
    assert np.array_equal(np.asarray(got), np.asarray(image.convert("RGB")))
    # Through a file too, where the format can hold the mode.
    fmt = {"CMYK": "TIFF", "YCbCr": "JPEG"}.get(mode, "PNG")
    if fmt != "JPEG":
        path = save(image, tmp_path / f"x.{fmt.lower()}", format=fmt)
        assert np.array_equal(rgb_array(path), np.asarray(image.convert("RGB")))


def test_cmyk_jpeg_loads_as_rgb(tmp_path):
    path = save(Image.new("CMYK", (8, 6), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", quality=100)
    pixels = rgb_array(path).reshape(-1, 3)
    assert np.abs(pixels - [255, 0, 0]).max() <= 3  # no cyan, full magenta and yellow = red


def test_rgba_is_composited_on_white_exactly(tmp_path):
    # (colour, alpha) -> white * (1 - a) + colour * a, rounded
    image = Image.new("RGBA", (4, 1))
    image.putdata([(255, 0, 0, 255), (255, 0, 0, 0), (0, 0, 0, 128), (0, 100, 200, 51)])
    expected = [(255, 0, 0), (255, 255, 255), (127, 127, 127), (204, 224, 244)]
    for source in (image, save(image, tmp_path / "a.png")):
        assert [tuple(p) for p in rgb_array(source)[0]] == expected
    # Pillow's own convert("RGB") just drops alpha: the transparent pixel would be red.
    assert image.convert("RGB").getpixel((1, 0)) == (255, 0, 0)


def test_la_is_composited_on_white(tmp_path):
    image = Image.new("LA", (2, 1))
    image.putdata([(0, 255), (0, 0)])
    assert [tuple(p) for p in rgb_array(save(image, tmp_path / "la.png"))[0]] == [(0, 0, 0), (255, 255, 255)]


def test_palette_with_and_without_transparency(tmp_path):
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    image.putdata([0, 1, 2])
    assert [tuple(p) for p in rgb_array(save(image, tmp_path / "p.png"))[0]] == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    # Palette index 1 marked transparent: it shows white, not green.
    path = save(image, tmp_path / "pt.png", transparency=1)
    assert [tuple(p) for p in rgb_array(path)[0]] == [(255, 0, 0), (255, 255, 255), (0, 0, 255)]
    path = save(image, tmp_path / "pt.gif", transparency=1)
    assert [tuple(p) for p in rgb_array(path)[0]] == [(255, 0, 0), (255, 255, 255), (0, 0, 255)]


def test_rgb_with_a_transparent_colour_key(tmp_path):
    image = Image.new("RGB", (2, 1))
    image.putdata([(10, 20, 30), (1, 2, 3)])
    path = save(image, tmp_path / "key.png", transparency=(1, 2, 3))
    assert [tuple(p) for p in rgb_array(path)[0]] == [(10, 20, 30), (255, 255, 255)]


SIXTEEN_BIT = [0, 128, 129, 257, 32768, 65279, 65535]
EIGHT_BIT = [0, 0, 1, 1, 128, 254, 255]  # round(v / 257); 65535 / 257 = 255 exactly


@pytest.mark.parametrize("mode, fmt", [("I;16", "PNG"), ("I;16", "TIFF"), ("I;16B", "TIFF"), ("I", "TIFF")])
def test_sixteen_bit_is_scaled_not_clipped(tmp_path, mode, fmt):
    image = Image.new(mode, (len(SIXTEEN_BIT), 1))
    image.putdata(SIXTEEN_BIT)
    path = save(image, tmp_path / f"x.{fmt.lower()}", format=fmt)
    got = rgb_array(path)[0]
    assert got[:, 0].tolist() == EIGHT_BIT
    assert (got == got[:, :1]).all()  # grey: R == G == B
    # What Pillow's own convert would do: clip, so nearly everything is white.
    assert Image.open(path).convert("L").getpixel((3, 0)) == 255


def test_mode_i_outside_sixteen_bits_is_stretched():
    image = Image.new("I", (3, 1))
    image.putdata([-1000, 0, 1000])
    assert rgb_array(image)[0, :, 0].tolist() == [0, 128, 255]


@pytest.mark.parametrize(
    "values, expected",
    [([0.0, 0.5, 1.0], [0, 128, 255]),        # [0, 1] floats: times 255
     ([0.0, 100.0, 255.0], [0, 100, 255]),    # already 0..255
     ([-1.0, 0.0, 3.0], [0, 64, 255]),        # anything else: stretched
     ([float("nan"), 0.25, 1.0], [0, 64, 255])],
)
def test_float_images(tmp_path, values, expected):
    image = Image.new("F", (3, 1))
    image.putdata(values)
    path = save(image, tmp_path / "f.tiff")
    assert rgb_array(path)[0, :, 0].tolist() == expected


def test_to_rgb_never_returns_the_same_object():
    from vlmlab import preprocess

    assert to_rgb is preprocess.to_rgb  # one home for the image rule
    image = Image.new("RGB", (2, 2), (1, 2, 3))
    out = to_rgb(image)
    assert out is not image and out.tobytes() == image.tobytes()
    with pytest.raises(TypeError, match="image must be a PIL.Image.Image, got ndarray"):
        to_rgb(np.zeros((2, 2, 3)))


# ---------------------------------------------------------------- EXIF orientation

def displayed(stored: np.ndarray, orientation: int) -> np.ndarray:
    """What a viewer shows for ``stored`` pixels, from the EXIF spec's wording
    (where the stored 0th row and 0th column end up), independent of vlmlab's table."""
    return {
        1: lambda a: a,                          # row 0 top, column 0 left
        2: lambda a: a[:, ::-1],                 # row 0 top, column 0 right
        3: lambda a: a[::-1, ::-1],              # row 0 bottom, column 0 right
        4: lambda a: a[::-1, :],                 # row 0 bottom, column 0 left
        5: lambda a: a.swapaxes(0, 1),           # row 0 left, column 0 top
        6: lambda a: np.rot90(a, -1),            # row 0 right, column 0 top
        7: lambda a: np.rot90(a, -1)[::-1],      # row 0 right, column 0 bottom
        8: lambda a: np.rot90(a, 1),             # row 0 left, column 0 bottom
    }[orientation](stored)


def with_orientation(image: Image.Image, path: Path, orientation: int, **kwargs) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(image, path, exif=exif, **kwargs)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_all_eight(tmp_path, orientation):
    stored = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10  # 3 wide, 2 tall, every pixel distinct
    path = with_orientation(Image.fromarray(stored), tmp_path / "o.png", orientation)
    got = rgb_array(path)
    assert np.array_equal(got, displayed(stored, orientation))
    # Same answer as Pillow's exif_transpose.
    from PIL import ImageOps

    assert np.array_equal(got, np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB")))


def test_exif_orientation_on_a_phone_style_jpeg(tmp_path):
    # A camera held upright stores the picture lying on its side (orientation 6).
    upright = np.zeros((64, 32, 3), np.uint8)  # 32 wide, 64 tall
    upright[:16] = (255, 0, 0)  # red band at the top
    stored = np.rot90(upright, 1)  # what the sensor wrote: 64 wide, 32 tall, red on the left
    path = with_orientation(Image.fromarray(np.ascontiguousarray(stored)), tmp_path / "phone.jpg", 6, quality=95)
    image = load_image(path)
    assert image.size == (32, 64)
    top, bottom = np.asarray(image)[4, 16].astype(int), np.asarray(image)[60, 16].astype(int)
    assert top[0] > 200 and top[1] < 50 and bottom.max() < 30


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_an_image_already_open(tmp_path, orientation):
    stored = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    path = with_orientation(Image.fromarray(stored), tmp_path / "o.png", orientation)
    with Image.open(path) as opened:  # as a user opens it, EXIF still attached
        assert np.array_equal(np.asarray(load_image(opened)), displayed(stored, orientation))
        assert np.array_equal(np.asarray(to_rgb(opened)), displayed(stored, orientation))


def test_invalid_orientation_is_ignored(tmp_path):
    path = with_orientation(Image.new("RGB", (3, 2), (5, 5, 5)), tmp_path / "bad.png", 9)
    assert load_image(path).size == (3, 2)


# ---------------------------------------------------------------- kinds of input

def test_accepts_str_path_file_object_bytes(tmp_path):
    path = save(Image.new("RGB", (5, 3), (9, 8, 7)), tmp_path / "x.png")
    expected = np.asarray(load_image(path))
    assert np.array_equal(np.asarray(load_image(str(path))), expected)
    assert np.array_equal(np.asarray(load_image(path.read_bytes())), expected)
    assert np.array_equal(np.asarray(load_image(bytearray(path.read_bytes()))), expected)
    with open(path, "rb") as f:
        assert np.array_equal(np.asarray(load_image(f)), expected)
        assert not f.closed  # the caller's file stays the caller's
    assert np.array_equal(np.asarray(load_image(io.BytesIO(path.read_bytes()))), expected)


def test_result_is_loaded_and_detached_from_the_file(tmp_path):
    path = save(Image.new("RGB", (5, 3), (9, 8, 7)), tmp_path / "x.jpg")
    image = load_image(path)
    path.unlink()  # the file is gone; the image must not need it
    assert getattr(image, "fp", None) is None
    assert image.getpixel((0, 0))[0] in range(5, 14)


def test_wrong_type():
    with pytest.raises(TypeError, match="path_or_file must be a path.*got int"):
        load_image(3)


# ---------------------------------------------------------------- bad input

def test_missing_path(tmp_path):
    with pytest.raises(ValueError, match=r"there is no file '.*nowhere\.jpg'"):
        load_image(tmp_path / "nowhere.jpg")


def test_directory(tmp_path):
    with pytest.raises(ValueError, match="is a folder, not an image file"):
        load_image(tmp_path)


def test_empty_path_is_not_called_a_folder():
    with pytest.raises(ValueError, match="load_image got an empty path '';") as info:
        load_image("")
    assert "folder" not in str(info.value)


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"'.*empty\.png' is an empty file"):
        load_image(tmp_path / "empty.png")
    with pytest.raises(ValueError, match="got 0 bytes"):
        load_image(b"")


def test_url_is_not_downloaded():
    with pytest.raises(ValueError, match="does not download"):
        load_image("https://example.com/cat.jpg")


def test_not_an_image(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, this is text")
    with pytest.raises(ValueError, match=r"'.*notes\.txt' is not an image file Pillow can read"):
        load_image(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match=r"the data given \(12 bytes\) is not an image file"):
        load_image(b"not an image")
    with pytest.raises(ValueError, match="file '.*notes.txt' is not an image"):
        with open(tmp_path / "notes.txt", "rb") as f:
            load_image(f)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_jpeg(tmp_path, keep):
    rng = np.random.default_rng(0)
    full = save(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), tmp_path / "full.jpg")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * keep)])
    with pytest.raises(ValueError, match=r"'.*cut\.jpg' could not be decoded; the file is truncated or damaged"):
        load_image(cut)


def test_truncated_png(tmp_path):
    rng = np.random.default_rng(0)
    full = save(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), tmp_path / "full.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or damaged"):
        load_image(cut)


def test_decompression_bomb_12000_squared_png_is_refused(tmp_path):
    # 144 M pixels: over Pillow's limit (89.5 M) but under twice it, where Pillow itself only warns.
    # Mode "1" keeps the test cheap: an 18 MB bitmap that compresses to a few hundred KB.
    assert Image.MAX_IMAGE_PIXELS < 12000 * 12000 < 2 * Image.MAX_IMAGE_PIXELS
    path = save(Image.new("1", (12000, 12000)), tmp_path / "bomb.png")
    assert path.stat().st_size < 1_000_000  # small file, huge image: the point of a bomb
    with pytest.raises(ValueError, match=r"'.*bomb\.png' is 12000x12000 \(height x width\) = 144,000,000 pixels, "
                                         r"more than the limit of 89,478,485 pixels.*decompression bomb"):
        load_image(path)


def test_bomb_past_twice_the_limit_refused_by_pillow_becomes_a_value_error(tmp_path, monkeypatch):
    path = save(Image.new("L", (100, 100)), tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 10,000 pixels > 2 x 1000
    with pytest.raises(ValueError, match="so large that Pillow refused to open it, more than the limit of 1,000"):
        load_image(path)


def test_limit_follows_pillow_setting(tmp_path, monkeypatch):
    path = save(Image.new("L", (40, 30)), tmp_path / "x.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1199)
    with pytest.raises(ValueError, match=r"30x40 \(height x width\) = 1,200 pixels"):
        load_image(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1200)
    assert load_image(path).size == (40, 30)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's way to switch the guard off
    assert load_image(path).size == (40, 30)


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(data, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
