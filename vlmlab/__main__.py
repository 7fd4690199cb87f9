"""Command line: ``python -m vlmlab budget [IMAGE ...] [--size HxW ...] [--family F ...] [--json]``.

Prints, for each image file or size, how many visual tokens each VLM family
would spend on it (``vlmlab.budget.token_budget``, with each family's released
checkpoint settings), as a table or as JSON.

    $ python -m vlmlab budget photo.jpg scan.png
    $ python -m vlmlab budget --family llava-next --family qwen2-vl photo.jpg
    $ python -m vlmlab budget --size 1080x1920 --json
"""

from __future__ import annotations

import argparse
import json
import re
import sys

_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def _image_size(path: str) -> tuple[int, int]:
    """``(height, width)`` of an image file, after ``vlmlab.data.load_image``'s rules (EXIF rotation included)."""
    from .data import load_image

    image = load_image(path)
    return (image.height, image.width)


def parse_size(text: str) -> tuple[int, int]:
    """``"1080x1920"`` -> ``(1080, 1920)``: height first, as everywhere in vlmlab.

        >>> parse_size("1080x1920")
        (1080, 1920)
    """
    match = _SIZE.match(text)
    if not match or int(match[1]) == 0 or int(match[2]) == 0:
        raise argparse.ArgumentTypeError(
            f"--size must be HEIGHTxWIDTH in pixels, height first (e.g. 1080x1920 for a landscape photo), got {text!r}")
    return int(match[1]), int(match[2])


def main(argv=None) -> int:
    from . import budget

    parser = argparse.ArgumentParser(prog="python -m vlmlab", description="vlmlab command line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    p_budget = sub.add_parser("budget", help="visual-token cost of images in each VLM family",
                              description="Visual tokens each VLM family spends on an image (released settings).")
    p_budget.add_argument("images", nargs="*", metavar="IMAGE", help="image files")
    p_budget.add_argument("--size", action="append", type=parse_size, default=[], metavar="HxW",
                          help="an image size instead of a file, height first, e.g. 1080x1920 (repeatable)")
    p_budget.add_argument("--family", action="append", choices=list(budget.FAMILIES), metavar="F",
                          help=f"only these families (repeatable; default: all of {', '.join(budget.FAMILIES)})")
    p_budget.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    args = parser.parse_args(argv)
    if not args.images and not args.size:
        parser.error("budget needs at least one IMAGE or --size HxW")

    sizes, failed = {}, 0
    for path in args.images:
        try:
            sizes[path] = _image_size(path)
        except (OSError, ValueError) as err:
            print(f"{path}: cannot read as an image ({err})", file=sys.stderr)
            failed += 1
    for height, width in args.size:
        sizes[f"{height}x{width}"] = (height, width)
    if sizes:
        rows = budget.budget_table(sizes, args.family)
        if args.json:
            for row in rows:
                row["checkpoint"] = budget.FAMILIES[row["family"]].checkpoint
            print(json.dumps(rows, indent=1))
        else:
            print(budget.format_table(rows))
            print("\ntokens: image placeholders in the LLM's input_ids; +markers: tokens around them (<img>, row "
                  "breaks, tile tags);\ncross-attn: features read through cross-attention instead of the context "
                  "(Llama 3.2 Vision); tiles: pictures\nthe vision encoder runs; grid: rows x cols of crops "
                  "(Qwen: of merged tokens; Pixtral: of patches); resized: the image content's size in pixels.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
