"""Time-to-angle and peak memory against image size, and the corrected write against libvips.

    python benchmarks/scale.py                      # 0.1 and 1.7 gigapixels
    python benchmarks/scale.py --sizes 0.1,1.7,6.7  # add the 6.7-gigapixel image (slow to build)
    python benchmarks/scale.py --write              # also the 90-degree OME-Zarr write vs pyvips
    python benchmarks/scale.py --write --write-skew 3.5   # and the same turn plus a 3.5-deg skew
    python benchmarks/scale.py --sizes 1.7 --write-only --write-skew 3.5   # the writes alone, fresh Ray
    python benchmarks/scale.py --sizes 1.7 --set skew.refine_steps=0       # another setting of rayrot

Images are pyramidal BigTIFFs with JPEG tiles, mosaics of upright dev images turned 90
degrees (so the right answer is 90), built once into benchmarks/out/cache/.

For each size, in one run:
  * ``floor_s``: pyvips decoding every level-0 tile (the cost of any method that looks at
    every pixel), with all cores;
  * ``detect_s``: rayrot.detect from open to result with Ray already up and its actors warm
    (``first_call_s`` includes starting the actors; Ray's own start is reported apart);
  * ``pss_gb``: peak of the summed PSS (proportional set size) of the driver and every Ray
    process, sampled every 0.5 s: shared pages counted once (the figure the memory target is
    judged on); ``rss_gb``: the same with RSS, which counts shared pages once per process;
  * with --write: the 90-degree correction to OME-Zarr (rayrot's writer as rayrot.correct
    runs it, chunks written by Ray tasks, the angle given) and pyvips rotating and saving
    the same image as a tiled pyramidal TIFF with all threads, with their peak memory.
The pyvips timings (floor and write) run in a child process with all of libvips' threads, and
``pyvips_rss_gb`` is that child's own peak RSS: rayrot's open_slide lowers libvips'
(process-wide) thread count in the driver, and pyvips' buffers would stay in the driver's heap.
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


from _common import OUT, PeakMemory, make_pyramid, print_table, write_json  # noqa: E402


def _in_child(func, *args) -> tuple[float, int]:
    """Run a pyvips timing in a fresh process with all of libvips' threads: returns its
    (seconds, peak RSS in bytes). A child keeps the driver's memory (and libvips' process-wide
    thread count, which rayrot's open_slide lowers) out of both measurements."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(func, args)


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def floor_seconds(path: Path) -> tuple[float, int]:
    """pyvips decodes every level-0 tile (sequential, all threads): the decode floor."""
    import pyvips

    t0 = time.perf_counter()
    pyvips.Image.new_from_file(str(path), access="sequential").avg()
    return time.perf_counter() - t0, _peak_rss()


def pyvips_rotate_save(path: Path, out: Path) -> tuple[float, int]:
    """pyvips turns the image 90 degrees and saves a tiled pyramidal JPEG TIFF, all threads."""
    import pyvips

    t0 = time.perf_counter()
    img = pyvips.Image.new_from_file(str(path), access="sequential")
    img.rot90().tiffsave(str(out), tile=True, tile_width=512, tile_height=512, pyramid=True,
                         compression="jpeg", Q=85, bigtiff=True)
    return time.perf_counter() - t0, _peak_rss()


def zarr_write(path: Path, out: Path, cfg, skew_deg: float = 0.0, key: str = "zarr") -> dict:
    """rayrot's corrected OME-Zarr write of a 90-degree turn, as ``rayrot.correct`` runs it
    after detection (chunks by Ray tasks, the scoring actors released first), timed alone:
    the angle is given, as it is to pyvips. (The 1.7-Gpx mosaic's vote is undetermined at
    the default scale, so ``correct`` would write it unturned.)"""
    from rayrot import output as writers
    from rayrot.engine.scheduler import ScorerPool, ray_map as _ray_map
    from rayrot.io import open_slide

    ScorerPool.release_all()
    slide = open_slide(path, cfg.source)
    with PeakMemory() as mem:
        t = time.perf_counter()
        plan = writers.plan_zarr(slide.width, slide.height, 90, skew_deg, cfg.output)
        writers.write_ome_zarr(plan, str(path), cfg.source, out, map_fn=_ray_map(cfg))
        seconds = time.perf_counter() - t
    return {f"{key}_write_s": seconds, f"{key}_pss_gb": mem.peak_pss_bytes / 1e9,
            f"{key}_rss_gb": mem.peak_bytes / 1e9, f"{key}_pss_by_process_mb": mem.peak_summary(),
            f"{key}_chunk_px": plan.chunk_px, f"{key}_levels": plan.n_levels,
            f"{key}_shape": [plan.level_shapes[0][1], plan.level_shapes[0][0]]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="0.1,1.7", help="gigapixels, comma-separated")
    ap.add_argument("--write", action="store_true", help="also time the OME-Zarr write")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--write-skew", type=float, default=None, metavar="DEG",
                    help="with --write: also the 90-degree turn plus a fine skew of DEG degrees "
                         "(bicubic, canvas expanded), its time and peak memory")
    ap.add_argument("--write-only", action="store_true",
                    help="time only the writes (no floor, no detection): the 90-degree write, "
                         "then the skewed one with --write-skew, each in a Ray started for it")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="rayrot config override, e.g. skew.refine_steps=0 (repeatable)")
    args = ap.parse_args(argv)
    args.write = args.write or args.write_only

    import ray

    import rayrot
    from rayrot.config import load_config

    cfg = load_config(overrides=["output.formats=[zarr]", *args.set])
    t0 = time.perf_counter()
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray_start_s = time.perf_counter() - t0
    rows = []
    for gpx in [float(s) for s in args.sizes.split(",")]:
        side = int(math.sqrt(gpx * 1e9))
        path = make_pyramid(side, OUT / "cache" / f"mosaic_{gpx:g}gpx_rot90.tif", rotate_k=1)
        row = {"gigapixels": round(side * side / 1e9, 2), "side_px": side,
               "load_1m": round(os.getloadavg()[0], 2)}
        if not args.write_only:
            row["floor_s"], _ = _in_child(floor_seconds, path)
            t = time.perf_counter()
            res = rayrot.detect(path, cfg)
            row["first_call_s"] = time.perf_counter() - t
            times = []
            with PeakMemory() as mem:
                for _ in range(args.repeats):
                    # A fresh open each time: the per-process slide cache is keyed by path, so
                    # clear it to count the header read too.
                    from rayrot.io.slide import _cached

                    _cached.cache_clear()
                    t = time.perf_counter()
                    res = rayrot.detect(path, cfg)
                    times.append(time.perf_counter() - t)
            row["detect_s"] = min(times)
            row["detect_over_floor"] = row["detect_s"] / row["floor_s"]
            row["pss_gb"] = mem.peak_pss_bytes / 1e9
            row["rss_gb"] = mem.peak_bytes / 1e9
            row["pss_peak_by_process_mb"] = mem.peak_summary()
            row["angle"], row["confidence"] = res.angle, round(res.confidence, 3)
            row["tiles"], row["level"] = res.tiles_scored, res.level
        if args.write:
            out = OUT / "write"
            shutil.rmtree(out, ignore_errors=True)
            row.update(zarr_write(path, out / "rot90.zarr", cfg))
            row["pyvips_write_s"], rss = _in_child(pyvips_rotate_save, path, out / "pyvips.tif")
            row["pyvips_rss_gb"] = rss / 1e9
            row["write_speed_vs_pyvips"] = row["pyvips_write_s"] / row["zarr_write_s"]
            if args.write_skew is not None:
                shutil.rmtree(out / "rot90.zarr", ignore_errors=True)
                if args.write_only:  # its own Ray: no worker carries the first write's heap
                    ray.shutdown()
                    ray.init(address="local", include_dashboard=False, log_to_driver=False,
                             logging_level="ERROR")
                row.update(zarr_write(path, out / "skewed.zarr", cfg, args.write_skew, "skewed"))
                row["skewed_pss_over_90"] = row["skewed_pss_gb"] / row["zarr_pss_gb"]
            row["load_1m_end"] = round(os.getloadavg()[0], 2)
            shutil.rmtree(out, ignore_errors=True)
        rows.append(row)
        print(f"# {row}", flush=True)
    cols = ["gigapixels", "load_1m"]
    if not args.write_only:
        cols += ["floor_s", "first_call_s", "detect_s", "detect_over_floor", "pss_gb", "rss_gb",
                 "angle", "confidence", "tiles", "level"]
    if args.write:
        cols += ["zarr_write_s", "zarr_pss_gb", "zarr_rss_gb", "pyvips_write_s", "pyvips_rss_gb",
                 "write_speed_vs_pyvips", "load_1m_end"]
        if args.write_skew is not None:
            cols += ["skewed_write_s", "skewed_pss_gb", "skewed_pss_over_90"]
    print(f"\nRay start: {ray_start_s:.1f} s; CPUs: {os.cpu_count()}\n")
    print_table(rows, cols)
    if len(rows) > 1 and not args.write_only:
        print(f"\ntime-to-angle, largest / smallest: {rows[-1]['detect_s'] / rows[0]['detect_s']:.2f}x")
    write_json("scale.json", {"ray_start_s": ray_start_s, "cpus": os.cpu_count(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
