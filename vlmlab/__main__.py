"""Command line: ``python -m vlmlab budget IMAGE [IMAGE ...]``.

Prints, for each image file, how many visual tokens each VLM family would
spend on it (``vlmlab.budget.token_budget``), as a table.

    $ python -m vlmlab budget photo.jpg scan.png
    $ python -m vlmlab budget --family llava-next --family qwen2-vl photo.jpg
"""

from __future__ import annotations

import argparse
import sys


def _image_size(path: str) -> tuple[int, int]:
    """``(height, width)`` of an image file, after ``vlmlab.data.load_image``'s rules (EXIF rotation included)."""
    from .data import load_image

    image = load_image(path)
    return (image.height, image.width)


def main(argv=None) -> int:
    from . import budget

    parser = argparse.ArgumentParser(prog="python -m vlmlab", description="vlmlab command line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    p_budget = sub.add_parser("budget", help="visual-token cost of images in each VLM family")
    p_budget.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    p_budget.add_argument("--family", action="append", choices=list(budget.FAMILIES),
                          help="only these families (repeatable; default: all)")
    args = parser.parse_args(argv)

    sizes, failed = {}, 0
    for path in args.images:
        try:
            sizes[path] = _image_size(path)
        except (OSError, ValueError) as err:
            print(f"{path}: cannot read as an image ({err})", file=sys.stderr)
            failed += 1
    if sizes:
        print(budget.format_table(budget.budget_table(sizes, args.family)))
        print("\ntiles: pictures the vision encoder runs (crops + base image/thumbnail); grid: rows x cols of crops "
              "(qwen2-vl: of merged tokens); resized: the image content's size in pixels.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
