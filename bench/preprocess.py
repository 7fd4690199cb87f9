"""Preparing a 1920x1080 photo for LLaVA-NeXT and Qwen2-VL: vlmlab vs transformers' image processors.

    python bench/preprocess.py [--repeats 21]

Both sides start from the same RGB PIL image and end with the tensors the
model reads (LLaVA-NeXT: ``(1 + T, 3, 336, 336)`` base image + crops;
Qwen2-VL: flattened ``(N, 1176)`` patches and ``grid_thw``); the outputs are
checked equal first. Runs alternate between the two sides and the medians are
compared, since the machine may be shared. Ratio = transformers / vlmlab
(above 1: vlmlab is faster).
"""

from __future__ import annotations

import argparse
import statistics
import time


def photo_1920x1080():
    from PIL import Image

    from vlmlab.data import load_sample

    return load_sample("coffee").resize((1920, 1080), Image.BICUBIC)  # PIL takes (width, height)


def median_times(fns: dict, repeats: int) -> dict:
    times = {name: [] for name in fns}
    for fn in fns.values():  # warm-up (lazy imports, caches)
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():  # interleaved: both sides see the same machine load
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv=None) -> int:
    import torch
    from transformers import LlavaNextImageProcessor, Qwen2VLImageProcessor

    from vlmlab import tiling

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args(argv)

    image = photo_1920x1080()
    llava_hf = LlavaNextImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
    qwen_hf = Qwen2VLImageProcessor()

    # same outputs first
    ours, _ = tiling.llava_next_pixel_values(image)
    theirs = llava_hf(images=image, return_tensors="pt")["pixel_values"][0]
    llava_diff = float((ours - theirs).abs().max())
    patches, grid = tiling.qwen2_vl_pixel_values(image)
    q = qwen_hf(images=image, return_tensors="pt")
    qwen_diff = float((patches - q["pixel_values"]).abs().max())
    assert ours.shape == theirs.shape and llava_diff < 1e-4, llava_diff
    assert grid.tolist() == q["image_grid_thw"].tolist() and qwen_diff < 1e-4, qwen_diff

    print(f"image 1080x1920 (h x w), torch threads {torch.get_num_threads()}, {args.repeats} interleaved runs")
    print(f"llava-next: pixel_values {tuple(ours.shape)}, max |diff| {llava_diff:.1e}")
    print(f"qwen2-vl:   patches {tuple(patches.shape)}, grid_thw {grid.tolist()[0]}, max |diff| {qwen_diff:.1e}")
    print()
    rows = [
        ("llava-next", lambda: tiling.llava_next_pixel_values(image),
         lambda: llava_hf(images=image, return_tensors="pt")),
        ("qwen2-vl", lambda: tiling.qwen2_vl_pixel_values(image),
         lambda: qwen_hf(images=image, return_tensors="pt")),
    ]
    print(f"{'family':<12}{'vlmlab ms':>12}{'transformers ms':>18}{'ratio':>8}")
    all_faster = True
    for name, ours_fn, theirs_fn in rows:
        med = median_times({"vlmlab": ours_fn, "transformers": theirs_fn}, args.repeats)
        ratio = med["transformers"] / med["vlmlab"]
        all_faster &= ratio >= 1.0
        print(f"{name:<12}{1e3 * med['vlmlab']:>12.1f}{1e3 * med['transformers']:>18.1f}{ratio:>7.2f}x")
    print()
    print("vlmlab at least as fast as transformers:", "yes" if all_faster else "NO")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
