"""Time-to-angle and peak memory against image size, and the corrected write against libvips.

    python benchmarks/scale.py                      # 0.1 and 1.7 gigapixels
    python benchmarks/scale.py --sizes 0.1,1.7,6.7  # add the 6.7-gigapixel image (slow to build)
    python benchmarks/scale.py --write              # also the 90-degree OME-Zarr write vs pyvips

Images are pyramidal BigTIFFs with JPEG tiles, mosaics of upright dev images turned 90
degrees (so the right answer is 90), built once into benchmarks/out/cache/.

For each size, in one run:
  * ``floor_s``: pyvips decoding every level-0 tile (the cost of any method that looks at
    every pixel), with all cores;
  * ``detect_s``: rayrot.detect from open to result with Ray already up and its actors warm
    (``first_call_s`` includes starting the actors; Ray's own start is reported apart);
  * ``peak_gb``: peak resident memory of the driver plus every Ray process (sum, sampled);
  * with --write: the 90-degree correction to OME-Zarr (rayrot) and pyvips rotating and
    saving the same image as a tiled pyramidal TIFF, with their peak memory.
Prints a markdown table and writes benchmarks/out/scale.json.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT, PeakMemory, make_pyramid, print_table, write_json  # noqa: E402


def floor_seconds(path: Path) -> float:
    """pyvips decodes every level-0 tile (sequential, all threads): the decode floor."""
    import pyvips

    t0 = time.perf_counter()
    pyvips.Image.new_from_file(str(path), access="sequential").avg()
    return time.perf_counter() - t0


def pyvips_rotate_save(path: Path, out: Path) -> float:
    import pyvips

    t0 = time.perf_counter()
    img = pyvips.Image.new_from_file(str(path), access="sequential")
    img.rot90().tiffsave(str(out), tile=True, tile_width=512, tile_height=512, pyramid=True,
                         compression="jpeg", Q=85, bigtiff=True)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="0.1,1.7", help="gigapixels, comma-separated")
    ap.add_argument("--write", action="store_true", help="also time the OME-Zarr write")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    import ray

    import rayrot
    from rayrot.config import load_config

    cfg = load_config(overrides=["output.formats=[zarr]"])
    t0 = time.perf_counter()
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray_start_s = time.perf_counter() - t0
    rows = []
    for gpx in [float(s) for s in args.sizes.split(",")]:
        side = int(math.sqrt(gpx * 1e9))
        path = make_pyramid(side, OUT / "cache" / f"mosaic_{gpx:g}gpx_rot90.tif", rotate_k=1)
        row = {"gigapixels": round(side * side / 1e9, 2), "side_px": side}
        row["floor_s"] = floor_seconds(path)
        t = time.perf_counter()
        res = rayrot.detect(path, cfg)
        row["first_call_s"] = time.perf_counter() - t
        times = []
        with PeakMemory() as mem:
            for _ in range(args.repeats):
                # A fresh open each time: the per-process slide cache is keyed by path, so
                # clear it to count the header read too.
                from rayrot.source import _cached

                _cached.cache_clear()
                t = time.perf_counter()
                res = rayrot.detect(path, cfg)
                times.append(time.perf_counter() - t)
        row["detect_s"] = min(times)
        row["detect_over_floor"] = row["detect_s"] / row["floor_s"]
        row["peak_gb"] = mem.peak_bytes / 1e9
        row["angle"], row["confidence"] = res.angle, round(res.confidence, 3)
        row["tiles"], row["level"] = res.tiles_scored, res.level
        if args.write:
            out = OUT / "write"
            shutil.rmtree(out, ignore_errors=True)
            with PeakMemory() as mem:
                t = time.perf_counter()
                [r] = rayrot.correct([path], out, cfg.replace(output={"formats": ["zarr"]}))
                row["zarr_write_s"] = time.perf_counter() - t
            row["zarr_peak_gb"] = mem.peak_bytes / 1e9
            row["zarr_error"] = r.error
            with PeakMemory() as mem:
                row["pyvips_write_s"] = pyvips_rotate_save(path, out / "pyvips.tif")
            row["pyvips_peak_gb"] = mem.peak_bytes / 1e9
            row["write_speed_vs_pyvips"] = row["pyvips_write_s"] / row["zarr_write_s"]
            shutil.rmtree(out, ignore_errors=True)
        rows.append(row)
        print(f"# {row}", flush=True)
    cols = ["gigapixels", "floor_s", "first_call_s", "detect_s", "detect_over_floor", "peak_gb",
            "angle", "confidence", "tiles", "level"]
    if args.write:
        cols += ["zarr_write_s", "zarr_peak_gb", "pyvips_write_s", "pyvips_peak_gb",
                 "write_speed_vs_pyvips"]
    print(f"\nRay start: {ray_start_s:.1f} s; CPUs: {os.cpu_count()}\n")
    print_table(rows, cols)
    if len(rows) > 1:
        print(f"\ntime-to-angle, largest / smallest: {rows[-1]['detect_s'] / rows[0]['detect_s']:.2f}x")
    write_json("scale.json", {"ray_start_s": ray_start_s, "cpus": os.cpu_count(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
