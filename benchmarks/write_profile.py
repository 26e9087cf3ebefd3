"""Where one OME-Zarr write block's time goes: the stages of a 4096-px level-0 block at 90 degrees.

    python benchmarks/write_profile.py              # the 1.7-Gpx mosaic of benchmarks/scale.py
    python benchmarks/write_profile.py --gpx 0.1

One process, one libvips thread (as a write task runs), the best of ``--repeats`` runs of each
stage on the same block of the cached mosaic (built by ``scale.py`` if missing). Also the two
reading choices the writer made: one ``pyvips.Region.fetch`` against ``crop().write_to_memory()``
for a large region, and the quarter turn done by NumPy against libvips while reading; and the
two chunk codecs (``output.zarr_codec``): storing the block's levels, their size, and reading
level 0 back.
Prints a table (ms per block and per megapixel) and writes benchmarks/out/write_profile.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import sys
import time

import numpy as np


from _common import OUT, make_pyramid, print_table, write_json  # noqa: E402


def _best(func, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpx", type=float, default=1.7)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    import pyvips
    import zarr

    from rayrot import output as writers
    from rayrot.output.zarr import store as zstore
    from rayrot.config import load_config
    from rayrot.io import Slide

    cfg = load_config()
    side = int(math.sqrt(args.gpx * 1e9))
    path = make_pyramid(side, OUT / "cache" / f"mosaic_{args.gpx:g}gpx_rot90.tif", rotate_k=1)
    pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)
    slide = Slide.from_file(path, cfg.source)
    plan = writers.plan_zarr(slide.width, slide.height, 90, 0.0, cfg.output)
    _, _, block = plan.block_grid(0, plan.block_levels)
    rect = (block, block, block, block)  # the second block of the second row: an inside block
    sx, sy, sw, sh = zstore._exact_source_rect(plan, rect)
    mpx = block * block / 1e6

    def fresh():
        return Slide.from_file(path, cfg.source)

    def region_fetch():
        image = fresh().vips_image(0)
        pyvips.Region.new(image).fetch(sx, sy, sw, sh)

    stages: dict[str, float] = {}
    stages["read: one Region.fetch"] = _best(region_fetch, args.repeats)
    stages["read: crop + write_to_memory"] = _best(
        lambda: fresh().read_level_region(0, sx, sy, sw, sh), args.repeats)
    plain = fresh().read_level_region(0, sx, sy, sw, sh)
    stages["turn: NumPy rot90 + CHW copy"] = _best(
        lambda: np.ascontiguousarray(np.rot90(plain, -1).transpose(2, 0, 1)), args.repeats)
    stages["read + turn in libvips (the writer)"] = _best(
        lambda: fresh().read_level_region(0, sx, sy, sw, sh, turn=1), args.repeats)
    turned = fresh().read_level_region(0, sx, sy, sw, sh, turn=1)
    stages["CHW copy (OME-Zarr's channel-first layout)"] = _best(
        lambda: np.ascontiguousarray(turned.transpose(2, 0, 1)), args.repeats)
    chw = np.ascontiguousarray(turned.transpose(2, 0, 1))
    halves = [chw]
    for _ in range(plan.block_levels):
        halves.append(zstore._downsample2(halves[-1], alpha=False))
    stages[f"2x2 means ({plan.block_levels} levels)"] = _best(
        lambda: [zstore._downsample2(h, alpha=False) for h in halves[:-1]], args.repeats)
    stored_mb: dict[str, float] = {}
    for codec in ("lz4", "zstd"):  # output.zarr_codec
        coded = dataclasses.replace(plan, codec=codec)
        store = OUT / "write_profile.zarr"
        shutil.rmtree(store, ignore_errors=True)
        writers.open_zarr_store(coded, store)

        def store_all():  # each repeat writes the same chunks over again
            for level, pixels in enumerate(halves):
                zstore._store_chunks(coded, store, level, block >> level, block >> level, pixels)

        stages[f"store, {codec} ({plan.block_levels + 1} levels)"] = _best(store_all, args.repeats)
        level0 = zarr.open_array(str(store / "0"), mode="r")
        stages[f"read back level 0 through zarr, {codec}"] = _best(
            lambda: level0[:, block:2 * block, block:2 * block], args.repeats)
        stored_mb[codec] = round(sum(f.stat().st_size for f in store.rglob("*")
                                     if f.is_file()) / 1e6, 2)
        shutil.rmtree(store, ignore_errors=True)
    rows = [{"stage": k, "ms_per_block": round(v * 1e3, 1), "ms_per_mpx": round(v * 1e3 / mpx, 2)}
            for k, v in stages.items()]
    print(f"{args.gpx:g} Gpx mosaic, one {block}-px level-0 block ({mpx:.1f} Mpx) at 90 degrees\n")
    print_table(rows, ["stage", "ms_per_block", "ms_per_mpx"])
    pixels_mb = round(sum(h.nbytes for h in halves) / 1e6, 2)
    print(f"\nstored, MB for {pixels_mb} MB of pixels: "
          + ", ".join(f"{c} {mb}" for c, mb in stored_mb.items()))
    write_json("write_profile.json", {"gigapixels": args.gpx, "block_px": block, "rows": rows,
                                      "pixels_mb": pixels_mb, "stored_mb": stored_mb})
    return 0


if __name__ == "__main__":
    sys.exit(main())
