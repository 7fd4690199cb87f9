"""Make the sample images that vlmlab's high-resolution notebooks need.

    python data/make_samples.py                 # regenerate document.png, receipt.png, chart.png here
    python data/make_samples.py --out /tmp/x    # ... somewhere else
    python data/make_samples.py --photos DIR    # also re-make the four photos from scikit-image's data folder

Each generated image is hard for a 224-pixel model on purpose: the text and
tick labels are a few pixels tall once the image is shrunk to 224x224.

* ``document.png`` - a 1700x2200 (width x height) page: heading, paragraphs in
  several sizes, a small table, a footnote in tiny type.
* ``receipt.png``  - a 600x2400 till receipt (very tall): shop, items, total.
* ``chart.png``    - a 2400x700 bar chart (very wide) with small tick labels.

Only Pillow is used, with the font Pillow carries inside itself
(``ImageFont.load_default(size=...)``: Aileron Regular, CC0), so the same Pillow
version draws the same pixels on every machine. Nothing is random. The numbers
drawn (token counts, prices, totals) are computed here, not typed in.
Pixels are checked against the committed files by ``tests/test_data.py``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

HERE = Path(__file__).resolve().parent

# The Pillow version that drew the committed files. Another version may
# antialias the glyphs a little differently; tests compare loosely then.
PILLOW_VERSION_USED = "13.0.0"

GENERATED = ("document", "receipt", "chart")


def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's built-in Aileron Regular at ``size`` pixels (needs Pillow >= 10.1 built with FreeType)."""
    if not features.check("freetype2"):
        raise RuntimeError("this Pillow was built without FreeType; install the Pillow wheel from PyPI")
    return ImageFont.load_default(size=size)


def wrap(text: str, fnt: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap of ``text`` into lines at most ``width`` pixels wide."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and fnt.getlength(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def vit_tokens(side: int, patch: int = 14) -> int:
    """Patch tokens a ViT with patch size ``patch`` makes from a ``side`` x ``side`` image."""
    return (side // patch) ** 2


# ---------------------------------------------------------------- document

DOC_PARAGRAPHS = [
    "A vision-language model does not see a photograph. It sees a short sequence of vectors, one for "
    "each square patch of the picture, and it reads them the way it reads words. Before any of that can "
    "happen the picture is resized to the fixed size the vision encoder was trained on, often 224 or 336 "
    "pixels on a side. For a holiday photo this costs almost nothing: a cat is still a cat at 224 pixels.",
    "A page of text is different. This page is 1700 pixels wide and 2200 pixels tall. Shrunk to 224 by "
    f"224 it keeps only {100 * 224 * 224 / (1700 * 2200):.1f} percent of its pixels, and every line of "
    "body text becomes a grey smudge about two pixels high. No model, however large its language part, "
    "can read letters that are no longer in its input. The table below shows how the number of visual "
    "tokens grows with the input size (1).",
]

DOC_PARAGRAPHS_2 = [
    "High-resolution models avoid the smudge in two ways. LLaVA-NeXT and InternVL cut the large image into "
    "tiles of the encoder's own size and encode each tile separately, adding a small thumbnail of the whole "
    "image so the model keeps the overall layout. Qwen2-VL instead feeds the image at (almost) its native "
    "size and gives every patch a two-dimensional rotary position, so no tiles are needed at all.",
    "Both approaches pay for detail with tokens (2). The language model must attend over every one of "
    "them, and attention costs grow with the square of the sequence length. Read at full size with "
    f"14-pixel patches, this page alone would be {(1700 // 14) * (2200 // 14):,} visual tokens; whether "
    "that is worth it depends on the question being asked about the page.",
]

DOC_CHECKLIST = [
    "Print the image size before anything else, as (height, width).",
    "Shrink the image the way the model will, and look at the result yourself.",
    "Count the tokens: patches per side, times patches per side, times the number of tiles.",
    "Check which part of the image each tile covers, and whether anything was padded or cropped away.",
    "Compare the token count with the context length of the language model that will read it.",
]


def make_document() -> Image.Image:
    """A 1700x2200 (w x h) page of readable text in several sizes, grayscale."""
    W, H, margin = 1700, 2200, 140
    page = Image.new("L", (W, H), 255)
    draw = ImageDraw.Draw(page)
    y = 120

    draw.text((margin, y), "How many tokens is a picture worth?", font=font(60), fill=0)
    y += 90
    draw.text((margin, y), "Field notes for the vlmlab course - page 1 of 1", font=font(26), fill=90)
    y += 50
    draw.line((margin, y, W - margin, y), fill=0, width=3)
    y += 40

    body = font(24)
    def paragraphs(texts, y):
        for text in texts:
            for line in wrap(text, body, W - 2 * margin):
                draw.text((margin, y), line, font=body, fill=20)
                y += 36
            y += 22
        return y

    y = paragraphs(DOC_PARAGRAPHS, y)

    # The table: visual tokens for a ViT with 14-pixel patches (CLIP ViT-L/14).
    y += 10
    draw.text((margin, y), "Table 1. Visual tokens of a ViT with 14 x 14 pixel patches (1)", font=font(24), fill=0)
    y += 46
    cols = [margin, margin + 260, margin + 560, margin + 860, margin + 1160]
    header = ["input side", "patches per side", "tokens", "tokens after 2x2 merge"]
    row_h = 40
    draw.rectangle((cols[0], y, cols[-1], y + row_h), fill=225)
    cell = font(20)
    for x, text in zip(cols, header):
        draw.text((x + 12, y + 9), text, font=cell, fill=0)
    y += row_h
    for side in (224, 336, 448, 672, 896, 1344):
        values = [f"{side} px", f"{side // 14}", f"{vit_tokens(side):,}", f"{vit_tokens(side) // 4:,}"]
        for x, text in zip(cols, values):
            draw.text((x + 12, y + 9), text, font=cell, fill=0)
        y += row_h
        draw.line((cols[0], y, cols[-1], y), fill=170, width=1)
    for x in cols:
        draw.line((x, y - 7 * row_h, x, y), fill=170, width=1)
    draw.rectangle((cols[0], y - 7 * row_h, cols[-1], y), outline=0, width=2)
    y += 60

    draw.text((margin, y), "Tiles, thumbnails and native resolution", font=font(36), fill=0)
    y += 62
    y = paragraphs(DOC_PARAGRAPHS_2, y)

    # A small-print box: still readable at full size, gone at 224.
    small = font(17)
    cap = small.getbbox("H")[3] - small.getbbox("H")[1]  # capital height in pixels
    box_text = (
        "Try it: open notebook 05, shrink this page to 224 x 224 with the CLIP transform, and try to read "
        "any word of this box. Then open notebook 06 and look at the same page cut into 336-pixel tiles. "
        f"The capital letters in this box are {cap} pixels tall; the CLIP transform scales the page by "
        f"224/1700, which leaves them {cap * 224 / 1700:.1f} pixels tall."
    )
    lines = wrap(box_text, small, W - 2 * margin - 60)
    box_h = 30 * len(lines) + 40
    draw.rectangle((margin, y, W - margin, y + box_h), fill=242, outline=120, width=2)
    for i, line in enumerate(lines):
        draw.text((margin + 30, y + 20 + 30 * i), line, font=small, fill=30)
    y += box_h + 50

    draw.text((margin, y), "A checklist for high-resolution inputs", font=font(36), fill=0)
    y += 62
    item = font(22)
    for i, text in enumerate(DOC_CHECKLIST, start=1):
        draw.text((margin + 10, y), f"{i}.", font=item, fill=0)
        for line in wrap(text, item, W - 2 * margin - 60):
            draw.text((margin + 50, y), line, font=item, fill=20)
            y += 34
        y += 8
    y += 20
    note = font(19)
    for line in wrap(
        "Smaller print, like this paragraph, is where a 224-pixel model fails first. A photo of a street "
        "sign, a screenshot of a spreadsheet or a scanned invoice all carry their meaning in a few pixels "
        "per letter. Notebooks 05 to 07 show, with this very page, what each way of feeding it to a "
        "model keeps and what it throws away.", note, W - 2 * margin):
        draw.text((margin, y), line, font=note, fill=40)
        y += 29

    # Footnote in tiny type at the bottom of the page.
    tiny = font(12)
    foot_y = H - 150
    if y > foot_y - 20:
        raise RuntimeError(f"the document's text runs to y={y}, into the footnotes at y={foot_y}")
    draw.line((margin, foot_y, margin + 400, foot_y), fill=0, width=1)
    footnotes = [
        "1. Token counts exclude the class token and any special tokens such as <image> or image newlines.",
        "2. 2x2 merge: Qwen2-VL merges each 2 x 2 block of neighbouring patches into one token before the language model.",
        "3. This page was generated by data/make_samples.py in the vlmlab repository and is released under CC0.",
    ]
    for i, note in enumerate(footnotes):
        draw.text((margin, foot_y + 14 + 20 * i), note, font=tiny, fill=0)
    draw.text((W // 2 - 10, H - 60), "1", font=font(18), fill=0)
    return page


# ---------------------------------------------------------------- receipt

RECEIPT_ITEMS = [
    ("Whole milk 1 l", 1, 119), ("Sourdough loaf", 1, 349), ("Free-range eggs x6", 2, 229),
    ("Butter 250 g", 1, 215), ("Cheddar, mature", 1, 412), ("Bananas (loose)", 6, 21),
    ("Apples, Braeburn", 4, 35), ("Tomatoes on the vine", 1, 189), ("Cucumber", 1, 79),
    ("Spinach 200 g", 1, 150), ("Carrots 1 kg", 1, 65), ("Red onions", 3, 24),
    ("Garlic bulb", 2, 45), ("Basmati rice 1 kg", 1, 239), ("Penne 500 g", 2, 95),
    ("Chopped tomatoes", 4, 55), ("Olive oil 500 ml", 1, 529), ("Sea salt", 1, 110),
    ("Black pepper mill", 1, 199), ("Oat milk 1 l", 2, 165), ("Greek yoghurt", 1, 245),
    ("Granola 500 g", 1, 299), ("Ground coffee 227 g", 1, 449), ("Green tea x40", 1, 215),
    ("Dark chocolate 85%", 3, 179), ("Chickpeas 400 g", 2, 69), ("Lentils, red 500 g", 1, 135),
    ("Frozen peas 1 kg", 1, 170), ("Chicken thighs", 1, 525), ("Salmon fillets x2", 1, 650),
    ("Tofu, firm 400 g", 2, 200), ("Mushrooms 250 g", 1, 115), ("Lemons", 3, 30),
    ("Ginger root", 1, 58), ("Soy sauce 150 ml", 1, 135), ("Peanut butter", 1, 225),
    ("Honey 340 g", 1, 310), ("Sparkling water 6pk", 1, 250), ("Orange juice 1 l", 1, 200),
    ("Dish soap", 1, 129), ("Kitchen roll x2", 1, 275), ("Toothpaste", 1, 185),
]
VAT_PERCENT = 20  # prices include VAT; the receipt shows how much of the total it is


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def make_receipt() -> Image.Image:
    """A 600x2400 (w x h) till receipt, grayscale; every total is computed from the items."""
    W, H, left, right = 600, 2400, 36, 564
    im = Image.new("L", (W, H), 250)
    draw = ImageDraw.Draw(im)

    def centred(text, y, fnt, fill=0):
        draw.text(((W - fnt.getlength(text)) / 2, y), text, font=fnt, fill=fill)

    def left_right(left_text, right_text, y, fnt, fill=0):
        draw.text((left, y), left_text, font=fnt, fill=fill)
        draw.text((right - fnt.getlength(right_text), y), right_text, font=fnt, fill=fill)

    def rule(y):
        for x in range(left, right, 12):
            draw.line((x, y, x + 6, y), fill=60, width=2)

    y = 40
    centred("PATCH & TOKEN", y, font(44)); y += 58
    centred("corner shop", y, font(26)); y += 44
    for line in ("14 Pixel Street, Gridtown GT1 4PX", "Tel 0100 224 336   VAT no. 224 3360 14",
                 "Till 3   Operator: Ada   Fri 27 Nov 2026 06:12"):
        centred(line, y, font(16), fill=40); y += 24
    y += 16; rule(y); y += 22

    item_font, small = font(19), font(15)
    subtotal = 0
    for name, qty, unit in RECEIPT_ITEMS:
        amount = qty * unit
        subtotal += amount
        left_right(name, money(amount), y, item_font)
        y += 25
        if qty > 1:
            draw.text((left + 24, y), f"{qty} x {money(unit)}", font=small, fill=70)
            y += 20
        y += 8

    y += 6; rule(y); y += 22
    count = sum(qty for _, qty, _ in RECEIPT_ITEMS)
    left_right(f"{count} items", "", y, font(18)); y += 32
    left_right("SUBTOTAL", money(subtotal), y, font(22)); y += 34
    discount = subtotal // 10  # members' discount, 10 percent, rounded down to the cent
    left_right("Members discount 10%", "-" + money(discount), y, font(20), fill=30); y += 40
    total = subtotal - discount
    left_right("TOTAL", money(total), y, font(40)); y += 62
    vat = round(total * VAT_PERCENT / (100 + VAT_PERCENT))
    left_right(f"incl. VAT {VAT_PERCENT}%", money(vat), y, font(16), fill=60); y += 28
    left_right("Paid by card ****4821", money(total), y, font(18)); y += 40
    rule(y); y += 30

    centred("THANK YOU FOR SHOPPING", y, font(24)); y += 36
    centred("Keep this receipt for refunds within 28 days", y, font(14), fill=60); y += 40

    # A fake barcode: bar widths from the digits of the total, deterministic.
    digits = f"{total:08d}{count:04d}"
    widths = [2 + int(d) % 4 for d in digits * 3]
    x, top = (W - sum(w + 2 for w in widths)) // 2, y
    for i, width in enumerate(widths):
        if i % 2 == 0:
            draw.rectangle((x, top, x + width - 1, top + 90), fill=0)
        x += width + 2
    centred(digits, top + 100, font(16), fill=0)
    if top + 140 > H:
        raise RuntimeError(f"the receipt needs {top + 140} px, more than its height {H}")
    return im


# ---------------------------------------------------------------- chart

def make_chart() -> Image.Image:
    """A 2400x700 (w x h) bar chart of ViT token counts against input side, small tick text."""
    W, H = 2400, 700
    im = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    x0, x1, y0, y1 = 150, W - 60, 110, H - 110  # plot area: left, right, top, bottom

    sides = list(range(112, 1344 + 1, 28))  # 45 input sides, all multiples of 28
    tokens = [vit_tokens(s) for s in sides]
    merged = [t // 4 for t in tokens]
    y_max = 10000

    def y_of(value):
        return y1 - (y1 - y0) * value / y_max

    title = "Visual tokens for a square image of side s (ViT, 14-pixel patches)"
    draw.text((x0, 30), title, font=font(32), fill=(20, 20, 20))

    # Horizontal grid lines and y tick labels.
    tick = font(14)
    for value in range(0, y_max + 1, 1000):
        y = y_of(value)
        draw.line((x0, y, x1, y), fill=(225, 225, 225) if value else (0, 0, 0), width=1)
        label = f"{value:,}"
        draw.text((x0 - 10 - tick.getlength(label), y - 8), label, font=tick, fill=(60, 60, 60))
    draw.line((x0, y0, x0, y1), fill=(0, 0, 0), width=2)

    # Bars (tokens) and, inside them, the 2x2-merged count.
    slot = (x1 - x0) / len(sides)
    bar_w = int(slot * 0.7)
    value_font = font(11)
    for i, (side, t, m) in enumerate(zip(sides, tokens, merged)):
        cx = x0 + slot * (i + 0.5)
        left = int(cx - bar_w / 2)
        draw.rectangle((left, int(y_of(t)), left + bar_w, y1), fill=(70, 120, 190))
        draw.rectangle((left, int(y_of(m)), left + bar_w, y1), fill=(240, 150, 40))
        label = f"{t}"
        draw.text((cx - value_font.getlength(label) / 2, y_of(t) - 16), label, font=value_font, fill=(40, 40, 40))
        label = f"{side}"
        draw.text((cx - tick.getlength(label) / 2, y1 + 8), label, font=tick, fill=(60, 60, 60))

    axis = font(20)
    label = "input side s (pixels)"
    draw.text(((x0 + x1 - axis.getlength(label)) / 2, y1 + 40), label, font=axis, fill=(0, 0, 0))
    # The y-axis label, drawn sideways.
    label = "tokens"
    strip = Image.new("RGB", (int(axis.getlength(label)) + 4, 26), (255, 255, 255))
    ImageDraw.Draw(strip).text((2, 0), label, font=axis, fill=(0, 0, 0))
    strip = strip.transpose(Image.Transpose.ROTATE_90)
    im.paste(strip, (30, (y0 + y1 - strip.height) // 2))

    # Legend.
    lx, ly = x0 + 40, y0 + 10
    legend = font(18)
    for colour, text in [((70, 120, 190), "tokens = (s / 14)^2"),
                         ((240, 150, 40), "after a 2x2 merge (Qwen2-VL) = tokens / 4")]:
        draw.rectangle((lx, ly + 3, lx + 22, ly + 19), fill=colour)
        draw.text((lx + 32, ly), text, font=legend, fill=(0, 0, 0))
        ly += 30
    draw.text((W - 520, H - 30), "generated by data/make_samples.py (vlmlab), CC0", font=font(13), fill=(120, 120, 120))
    return im


MAKERS = {"document": make_document, "receipt": make_receipt, "chart": make_chart}


def save_png(image: Image.Image, path: Path) -> None:
    """Save as PNG with no timestamp or other metadata, so the same pixels give the same bytes.

    RGB images become palette images (256 colours, no dithering): a chart has
    few colours, so this is several times smaller and looks the same.
    """
    if image.mode == "RGB":
        image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    image.save(path, format="PNG", optimize=True)


# ---------------------------------------------------------------- photos

# scikit-image's file name -> ours. Licences: see data/README.md.
PHOTOS = {"astronaut.png": "astronaut.jpg", "chelsea.png": "cat.jpg", "coffee.png": "coffee.jpg", "rocket.jpg": "rocket.jpg"}


def convert_photos(skimage_data: Path, out: Path) -> None:
    """Copy scikit-image's four public-domain / CC0 photos here as JPEGs (rocket.jpg byte for byte)."""
    for source, target in PHOTOS.items():
        src = skimage_data / source
        if source.endswith(".jpg"):
            shutil.copyfile(src, out / target)
        else:
            with Image.open(src) as im:
                im.convert("RGB").save(out / target, format="JPEG", quality=95, optimize=True)
        print(f"{src} -> {out / target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: data/)")
    parser.add_argument("--photos", type=Path, default=None,
                        help="scikit-image's skimage/data folder; re-make the four photos from it")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in MAKERS.items():
        path = args.out / f"{name}.png"
        save_png(make(), path)
        print(f"{path}  {path.stat().st_size // 1024} KB")
    if args.photos is not None:
        convert_photos(args.photos, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
